"""Children already known: a new event about a child on an open plan goes to the plan's lead
professional the same day. Pure: no I/O, no clock.

The children an event concerns: the subject when the subject is a child; for a parent's crisis
(or a parent's self-harm or mental health presentation at ED) and for a service withdrawing
from a parent, the parent's children wherever they live; for a move, the children who move.
Only news counts: one missed appointment is news (no rate threshold applies), an attended one
is not; a completed service or a step-down is not (the step-down itself tells the plan's owners).

For each such child with a plan open on the day, whatever the event lists (the directory's plans
count): one PLAN_OWNER notice to the plan's lead organisation, HIGH for a child protection plan,
otherwise as severe as the event's other notices and at least MEDIUM. A plan with no lead on
record goes to the front door of the child's area instead, so that nobody is left untold.
"""

from collections.abc import Sequence
from datetime import date

from broker.rules.accuracy import incident_people
from broker.rules.common import NO_FRONT_DOOR_FOR_AREA
from broker.rules.ed_attendance import is_parent_crisis
from broker.rules.fallback import FALLBACK_REASON, nobody_to_tell
from broker.rules.family import (
    Addressee,
    ContactRole,
    Decision,
    Family,
    HouseholdRole,
    Member,
    PlanView,
)
from broker.rules.patterns import ORDER
from broker.rules.table import Route
from schemas.events import (
    AgencyContact,
    AppointmentOutcome,
    EdAttendance,
    Event,
    FamilyMovingArea,
    ParentMentalHealthCrisis,
    PlanKind,
    PoliceDomesticAbuseIncident,
    PregnancyNotification,
    ServiceWithdrawal,
    WithdrawalReason,
)
from schemas.notices import NoticeType, Severity

RULE = "open_plan"
NOT_NEWS = frozenset({WithdrawalReason.STEPPED_DOWN, WithdrawalReason.COMPLETED})
_CONCERNED = (
    "news about a child on an open plan (the child's own event, a parent's crisis, "
    "a service withdrawing from the child or a parent, a move, a domestic abuse incident, "
    "a parent's pregnancy)"
)
ROUTES = (
    Route(f"{RULE}.*", _CONCERNED, "the plan's lead professional, the same day (high for a "
          "child protection plan, else as the event's most severe notice)",
          NoticeType.PLAN_OWNER, ContactRole.SAFEGUARDING_LEAD, (Severity.MEDIUM, Severity.HIGH)),
    Route(f"{RULE}.*.no_lead", f"{_CONCERNED}, no lead professional on record",
          "the front door of the child's area", NoticeType.FRONT_DOOR_REFERRAL,
          ContactRole.DUTY_MANAGER, (Severity.MEDIUM, Severity.HIGH)),
)  # fmt: skip


def is_new_concern(event: Event) -> bool:
    """Whether the event is news a plan's owners must hear: a step-down or a service that
    completed its work is not; a crisis, an attendance or a disengagement is."""
    match event:
        case ServiceWithdrawal():
            return event.reason not in NOT_NEWS
        case AppointmentOutcome():
            return event.outcome == "was_not_brought"
        case AgencyContact():  # the lead hears of it from its own rule (contacts.py), at low
            return False
        case _:
            return True


def concerned_children(event: Event, family: Family) -> tuple[tuple[Member, str], ...]:
    """Each child the event concerns, with how: the child's own event, a parent's, or the
    household's."""
    subject = family.subject
    if subject is None or not is_new_concern(event):
        return ()
    if isinstance(event, FamilyMovingArea):  # the children who move, not a child left behind
        movers = family.movers()
        return tuple((c, "household") for c in movers if c.role is HouseholdRole.CHILD)
    if isinstance(event, PoliceDomesticAbuseIncident):  # every child of the household named
        children = (family.person(i) for i in incident_people(event, family).children)
        return tuple((c, "household") for c in children if c)
    if subject.role is HouseholdRole.CHILD:
        return ((subject, "this_child"),)
    about_parent = isinstance(
        event, ParentMentalHealthCrisis | ServiceWithdrawal | PregnancyNotification
    ) or (isinstance(event, EdAttendance) and is_parent_crisis(event))
    if not about_parent:
        return ()
    return tuple((c, "a_parent") for c in family.children_of(subject.person_id))


def route_open_plans(
    event: Event, family: Family, on: date, others: Sequence[Decision] = ()
) -> list[Decision]:
    """One notice per child and lead; ``others`` are the event's other notices, whose highest
    severity the lead's notice matches."""
    floor = max((Severity.MEDIUM, *(d.severity for d in others)), key=ORDER.index)
    rule_id = f"{RULE}.{event.event_type.value}"
    found: dict[tuple[Addressee, NoticeType, tuple[str, ...]], Decision] = {}
    for child, relation, plan in _open_plans_concerned(event, family, on):
        severity = Severity.HIGH if plan.kind == PlanKind.CHILD_PROTECTION else floor
        facts: dict[str, str | int | bool] = {"plan": plan.kind, "event_about": relation}
        decision = _to_lead(plan.lead_org, family, child, severity, rule_id, facts)
        if decision is None:
            continue
        key = (decision.addressee, decision.notice_type, decision.about)
        if key not in found or ORDER.index(severity) > ORDER.index(found[key].severity):
            found[key] = decision
    return list(found.values())


def _open_plans_concerned(
    event: Event, family: Family, on: date
) -> list[tuple[Member, str, PlanView]]:
    open_plans = family.open_plans(on)
    return [
        (child, relation, plan)
        for child, relation in concerned_children(event, family)
        for plan in open_plans
        if plan.person_id == child.person_id
    ]


def _to_lead(
    lead_org: str | None, family: Family, child: Member, severity: Severity, rule_id: str,
    facts: dict[str, str | int | bool],
) -> Decision | None:  # fmt: skip
    about = (child.person_id,)
    if lead_org:
        addressee = Addressee(lead_org, ContactRole.SAFEGUARDING_LEAD)
        return Decision(addressee, NoticeType.PLAN_OWNER, severity, rule_id, about, facts)
    facts = {**facts, "no_lead_professional_recorded": True}
    front_door = family.front_door(child.area)
    if front_door is None:  # the child's area has none: the family's own, else nobody
        facts[FALLBACK_REASON] = NO_FRONT_DOOR_FOR_AREA
        front_door = family.front_door()
    if front_door is None:  # reported and parked, never nothing (rules/fallback.py)
        return nobody_to_tell(f"{rule_id}.no_lead", NoticeType.FRONT_DOOR_REFERRAL, severity,
                              about, facts, child.area or family.area)  # fmt: skip
    return Decision(Addressee(front_door, ContactRole.DUTY_MANAGER),
                    NoticeType.FRONT_DOOR_REFERRAL, severity, f"{rule_id}.no_lead", about,
                    facts)  # fmt: skip
