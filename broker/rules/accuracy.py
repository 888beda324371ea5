"""Accuracy about people: whose event a notice is, to the recipient's own people. Pure.

A GP practice, a school or a health visiting team files a notice under its own patient or
pupil. When the event is about someone else (the patient's mother in crisis), the notice says
so ("a parent of your patient(s)") and the minimisation table then keeps that person's
clinical detail out of it (``broker.rules.minimisation``). Facts are per child: a notice says a
child was present only when it is about a child the event names as present.
"""

from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace

from broker.rules.fallback import FALLBACK_REASON
from broker.rules.family import Decision, Family, Member
from broker.rules.unmatched import unmatched_ids
from schemas.events import Event, FamilyMovingArea, ParentMentalHealthCrisis
from schemas.events import PoliceDomesticAbuseIncident as DomesticAbuse
from schemas.notices import NoticeType, Relation

CHILD_PRESENT = "child_present"
# The closest tie wins when a recipient's people stand in several to the event's subject (a
# practice with the mother's father and her children among its patients reads "a parent").
CLOSEST_FIRST = (Relation.SELF, Relation.PARENT, Relation.CHILD, Relation.SIBLING,
                 Relation.CO_PARENT, Relation.HOUSEHOLD_MEMBER)  # fmt: skip
# These hear of the whole family and see everyone in it: no one person is "theirs".
WHOLE_FAMILY = frozenset({NoticeType.FRONT_DOOR_REFERRAL, NoticeType.TRANSFER,
                          NoticeType.OUT_OF_HOURS})  # fmt: skip
# How the recipient calls its own people, for the wording key ("relation.parent.patient").
THEIR_PEOPLE: dict[NoticeType, str] = {
    NoticeType.GP_INFORMATION: "patient",
    NoticeType.SCHOOL_SUPPORT: "pupil",
    NoticeType.HEALTH_VISITING: "child_seen",  # "a parent of a child your team sees"
    NoticeType.PLAN_OWNER: "child_on_plan",  # "a parent of a child whose plan you own"
    NoticeType.AGENCY_INFORMATION: "client",
    NoticeType.EDUCATION_SAFEGUARDING: "child_in_area",  # "a child in your area"
}


@dataclass(frozen=True)
class IncidentPeople:
    """Who is who in a domestic abuse incident, as the directory knows them (None: not named,
    or not known)."""

    children: tuple[str, ...]
    present: frozenset[str]
    victim: str | None
    perpetrator: str | None


def incident_people(event: DomesticAbuse, family: Family) -> IncidentPeople:
    """The directory's ids in the event's order (``people()``): the family holds the known
    ones in order, and the positions of the unknown ones as ``unmatched:<i>`` labels."""
    known = iter(family.subjects)
    labels = unmatched_ids(len(event.people()))
    ids = [None if label in family.unmatched else next(known, None) for label in labels]
    count = len(event.children)
    children, adults = ids[:count], iter(ids[count:])
    victim = next(adults, None) if event.victim else None
    perpetrator = next(adults, None) if event.alleged_perpetrator else None
    present = {i for i, c in zip(children, event.children, strict=True) if i and c.present}
    return IncidentPeople(tuple(i for i in children if i), frozenset(present), victim, perpetrator)


@dataclass(frozen=True)
class Reading:
    """How one notice must read: whose event it is to the recipient's people (None for a
    recipient who hears of the whole family), and which children were present (None when
    the event does not say)."""

    relation: Relation | None
    present: frozenset[str] | None


# A body composed without knowing the family (its relation and presence unknown).
UNREAD = Reading(None, None)


def reading(decision: Decision, event: Event, family: Family) -> Reading:
    present = children_present(event, family)
    subjects = event_subjects(event, family)
    if decision.notice_type in WHOLE_FAMILY or not subjects:
        return Reading(None, present)
    if isinstance(event, DomesticAbuse) and decision.notice_type is NoticeType.SCHOOL_SUPPORT:
        return Reading(None, present)  # an incident in the pupil's home, never whose
    # Its people are those the notice names whose record it holds (a practice with the
    # subject's record hears of its other patients apart); an agency told about someone else
    # has its own people in the family; a new GP or school may hold no record yet.
    theirs = recipients_people(decision.addressee.org_id, family)
    people = tuple(p for p in decision.about if p in theirs) or theirs or decision.about
    return Reading(relation(subjects, people, family), present)


def event_subjects(event: Event, family: Family) -> tuple[str, ...]:
    """Whom the event is about: everyone who moves, for a move; otherwise its subject alone
    (the children a crisis names as present were there, it is not about them)."""
    if isinstance(event, FamilyMovingArea):
        return tuple(m.person_id for m in family.movers()) or family.subjects
    if isinstance(event, DomesticAbuse):  # the victim's; their GP files it as its patient's
        victim = incident_people(event, family).victim
        return (victim,) if victim else family.subjects[:1]
    return family.subjects[:1]


def children_present(event: Event, family: Family) -> frozenset[str] | None:
    """The children a crisis or a domestic abuse incident names as present, as the directory
    knows them; None for an event that does not say. The directory keeps the event's order
    for the people it found: a crisis's subject first, then the children present."""
    if isinstance(event, DomesticAbuse):
        return incident_people(event, family).present
    if not isinstance(event, ParentMentalHealthCrisis):
        return None
    return frozenset(family.subjects[1:]) & {c.person_id for c in family.children}


def recipients_people(org_id: str, family: Family) -> tuple[str, ...]:
    """The family's people this organisation holds a record of: registered with it (GP,
    school, health visiting), worked with, or on a plan it leads or has a part in."""
    planned = {p.person_id for p in family.plans if org_id in (p.lead_org, *p.owner_orgs)}
    return tuple(dict.fromkeys(
        m.person_id for m in family.members
        if org_id in (m.gp, m.school, m.health_visiting, *m.involved) or m.person_id in planned
    ))  # fmt: skip


def relation(subjects: Collection[str], people: Iterable[str], family: Family) -> Relation:
    """The closest tie between whom the event is about and the recipient's own people."""
    found = {tie for s in subjects for p in people if (tie := _tie(s, p, family))}
    return next((r for r in CLOSEST_FIRST if r in found), Relation.FAMILY_MEMBER)


def _tie(subject: str, person: str, family: Family) -> Relation | None:
    if subject == person:
        return Relation.SELF
    # Only a child has parents here: two adults in one home are not each other's parents.
    if _is_child(person, family) and subject in _ids(family.parents_of(person)):
        return Relation.PARENT
    if _is_child(subject, family) and person in _ids(family.parents_of(subject)):
        return Relation.CHILD
    if _is_child(person, family) and subject in _ids(family.siblings_of(person)):
        return Relation.SIBLING
    if subject in _ids(family.other_parents(person)):
        return Relation.CO_PARENT
    if family.households_of(subject) & family.households_of(person):
        return Relation.HOUSEHOLD_MEMBER
    return None


def _is_child(person_id: str, family: Family) -> bool:
    return any(c.person_id == person_id for c in family.children)


def _ids(members: Iterable[Member]) -> frozenset[str]:
    return frozenset(m.person_id for m in members)


def wording_key(relation: Relation, kind: NoticeType) -> str:
    """A fixed key the recipient's system words: "relation.parent.patient" reads "a parent of
    your patient(s)", "relation.self.pupil" "your pupil"."""
    return f"relation.{relation.value}.{THEIR_PEOPLE.get(kind, 'person')}"


def per_child(decision: Decision, present: frozenset[str]) -> Decision:
    """The decision's facts as they stand for whom it is about: ``child_present`` only when
    one of them is a child who was there. A front door's referral, about the whole family,
    keeps the event's own word (a child it cannot match yet may have been there); one standing
    in for a child's own notice is about that child."""
    whole_family = decision.notice_type in WHOLE_FAMILY and FALLBACK_REASON not in decision.facts
    if whole_family or CHILD_PRESENT not in decision.facts:
        return decision
    facts = {k: v for k, v in decision.facts.items() if k != CHILD_PRESENT}
    if present & set(decision.about):
        facts[CHILD_PRESENT] = True
    return replace(decision, facts=facts)
