"""Whom a school is told to call, and who the social worker of a child joining it is. Pure.

Who to call must be someone who knows: someone who received the event's notices. The front
door, when it was told of the event (a referral, or a family's transfer); otherwise the
referring service, where naming it tells the school nothing of anyone's health (the police,
as in Operation Encompass, but never a mental health service); otherwise the lead
professional of an open plan, who hears of every new event about a child on it; otherwise the
local authority's education safeguarding officer, whose number is the authority's.

A new school for a child with an open plan is told the plan's kind, its social worker or lead
professional as the directory holds them, and the previous school to ask for the child
protection file.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from broker.rules.family import Decision, Family, OrgKind, PlanView
from schemas.events import Event, FamilyMovingArea, PlanKind
from schemas.notices import NoticeType, PersonView, PlanContact, PlanForSchool, ProfessionalView

FRONT_DOOR = "school.call.front_door"
REFERRING_SERVICE = "school.call.referring_service"
LEAD_PROFESSIONAL = "school.call.lead_professional"
EDUCATION_OFFICER = "school.call.education_safeguarding_officer"

# The services a school may be told were involved: naming a mental health service, a hospital
# or a GP would tell the school of someone's health.
NAMEABLE_TO_SCHOOL = frozenset({OrgKind.POLICE, OrgKind.SCHOOL, OrgKind.FRONT_DOOR,
                                OrgKind.EARLY_HELP, OrgKind.HOUSING})  # fmt: skip
# A front door is told of an event by a referral, or of a move by a transfer of its history.
TOLD_FRONT_DOOR = (NoticeType.TRANSFER, NoticeType.FRONT_DOOR_REFERRAL)
KINDS = frozenset(kind.value for kind in PlanKind)


@dataclass(frozen=True)
class Caller:
    """Whom to call: a wording key for who they are, and their name and number."""

    role: str
    line: str


def who_to_call(
    decision: Decision, decisions: Sequence[Decision], source_org: str, family: Family, on: date
) -> Caller | None:
    """Whom the school that ``decision`` addresses is told to call, given every notice the
    event produced (``decisions``)."""
    return (
        _front_door_told(decision, decisions, family)
        or _referring_service(decision, source_org, family)
        or _lead_professional(decision, decisions, family, on)
        or _education_officer(decision, family)
    )


def _front_door_told(
    decision: Decision, decisions: Sequence[Decision], family: Family
) -> Caller | None:
    told = [d.addressee.org_id for kind in TOLD_FRONT_DOOR for d in decisions
            if d.notice_type is kind]  # fmt: skip
    local = _local_front_door(decision, family)
    door = local if local in told else next(iter(told), None)
    line = family.org_lines.get(door) if door else None
    return Caller(FRONT_DOOR, line) if line else None


def _referring_service(decision: Decision, source_org: str, family: Family) -> Caller | None:
    if source_org == decision.addressee.org_id:
        return None  # the school's own report: it knows whom it told
    if family.org_kinds.get(source_org) not in NAMEABLE_TO_SCHOOL:
        return None
    line = family.org_lines.get(source_org)
    return Caller(REFERRING_SERVICE, line) if line else None


def _lead_professional(
    decision: Decision, decisions: Sequence[Decision], family: Family, on: date
) -> Caller | None:
    """The lead of an open plan who was sent this event's notice: this child's plan first."""
    told = {(d.addressee.org_id, p) for d in decisions if d.notice_type is NoticeType.PLAN_OWNER
            for p in d.about}  # fmt: skip
    plans = [p for p in family.open_plans(on) if (p.lead_org, p.person_id) in told]
    plans.sort(key=lambda p: p.person_id not in decision.about)
    if not plans:
        return None
    return Caller(LEAD_PROFESSIONAL, lead_line(plans[0], family))


def _education_officer(decision: Decision, family: Family) -> Caller | None:
    door = _local_front_door(decision, family)
    if door == decision.addressee.org_id:
        return None  # the officer is the reader: a child with no school place
    line = family.org_lines.get(door) if door else None
    return Caller(EDUCATION_OFFICER, f"Education safeguarding officer, {line}") if line else None


def _local_front_door(decision: Decision, family: Family) -> str | None:
    """The front door of the area where the notice's child lives, or the family's."""
    child = family.person(decision.about[0]) if decision.about else None
    return family.front_door(child.area if child else None) or family.front_door()


def lead_line(plan: PlanView, family: Family) -> str:
    """The plan's lead as one line: name, role and how to reach them, as the directory holds
    them; the lead organisation's line when no one is named."""
    org = family.org_lines.get(plan.lead_org or "", plan.lead_org or "")
    lead = plan.lead
    if lead is None:
        return org
    parts = (_name(lead), lead.role, lead.phone, lead.email, org)
    return ", ".join(p for p in parts if p)


def _name(lead: ProfessionalView) -> str | None:
    # A step-down's plan keeps fixed role names, never the people's: no name to give.
    return None if lead.name == lead.role else lead.name


def plans_for_school(
    decision: Decision, event: Event, family: Family, people: Mapping[str, PersonView], on: date
) -> tuple[PlanForSchool, ...]:
    """Each open plan of a child a joining notice names: from the directory, with its lead,
    and those only the move lists (matched by NHS number), without one. ``about_index`` is
    the child's place in the body's ``about`` (people the broker has no view of are left out
    of it)."""
    if not isinstance(event, FamilyMovingArea):
        return ()
    named = [p for p in decision.about if p in people]
    found: dict[tuple[int, str], PlanForSchool] = {}
    for index, person_id in enumerate(named):
        previous = _previous_school(person_id, event, family)
        for plan in family.open_plans(on):
            if plan.person_id == person_id and plan.kind in KINDS:
                kind = PlanKind(plan.kind)
                found.setdefault((index, kind), PlanForSchool(
                    about_index=index, kind=kind, lead_professional=_contact(plan, family),
                    previous_school=previous))  # fmt: skip
        for listed in _listed_plans(event, people[person_id], on):
            found.setdefault((index, listed), PlanForSchool(
                about_index=index, kind=listed, previous_school=previous))  # fmt: skip
    return tuple(found.values())


def _listed_plans(event: FamilyMovingArea, person: PersonView, on: date) -> list[PlanKind]:
    if person.nhs_number is None:
        return []
    return [p.kind for p in event.plans if p.child.nhs_number == person.nhs_number
            and (p.ended_on is None or p.ended_on >= on)]  # fmt: skip


def _contact(plan: PlanView, family: Family) -> PlanContact | None:
    lead = plan.lead
    org = family.org_lines.get(plan.lead_org) if plan.lead_org else None
    if lead is None:
        return PlanContact(organisation=org) if org else None
    return PlanContact(name=_name(lead), role=lead.role, organisation=org, phone=lead.phone,
                       email=lead.email)  # fmt: skip


def _previous_school(person_id: str, event: FamilyMovingArea, family: Family) -> str | None:
    """The school the directory has the child on the roll of, else the one the move names
    (the event's word), if it is not the new one and the directory can name it."""
    child = family.person(person_id)
    registered = child.school if child and child.school != event.new_school else None
    school = registered or event.previous_school
    if school is None or school == event.new_school:
        return None
    return family.org_lines.get(school)
