"""Who is told when a child's education goes wrong: an attendance concern, a child missing
education, a declaration of elective home education. Pure: no I/O, no clock.

Always the education safeguarding officer of the child's area (the local authority tracks
children missing education and those educated at home), and the child's GP and health visiting
or school nursing team: when school no longer sees the child, health may be the only service
that does. The front door of the child's area as well when the child is on an open plan or
the family has a safeguarding history (a plan ever, or an earlier referral): absence is then
a sign the reviews say was missed (Child B: a child protection plan before birth, a nursery
place hardly used, then "home schooling" days before the incident).

High: home education for a child with an education, health and care plan, whether the event
or the directory says so (the authority must review how the plan's provision is met), and a
child missing education whose whereabouts are unknown. Otherwise medium. An early-years or
nursery place not taken up also counts toward the child's was-not-brought pattern, judged as
at any missed appointment (``not_brought``).
"""

from datetime import date

from broker.rules.common import (
    NO_FRONT_DOOR_FOR_AREA,
    front_door_decision,
    front_door_route,
    gp_decisions,
    gp_route,
)
from broker.rules.fallback import FALLBACK_REASON, nobody_to_tell
from broker.rules.family import Addressee, ContactRole, Decision, Family, HouseholdRole, Member
from broker.rules.history import PersonHistory
from broker.rules.not_brought import booking_of, pattern_routes, route_booking
from broker.rules.table import Route, Rule
from broker.rules.thresholds import Thresholds
from schemas.events import (
    AttendanceConcern,
    ChildMissingEducation,
    EducationEvent,
    ElectiveHomeEducation,
)
from schemas.notices import NoticeType, Severity

RULE_IDS: dict[type[EducationEvent], str] = {
    AttendanceConcern: "attendance",
    ChildMissingEducation: "missing_education",
    ElectiveHomeEducation: "home_education",
}
OFFICER = "education_officer"
OPEN_PLAN = "child_on_open_plan"
SAFEGUARDING_HISTORY = "safeguarding_history"
# Earlier notices that show the front door already knew the family.
REFERRALS = frozenset({NoticeType.FRONT_DOOR_REFERRAL, NoticeType.OUT_OF_HOURS,
                       NoticeType.TRANSFER})  # fmt: skip
Facts = dict[str, str | int | bool]


def has_ehcp(event: EducationEvent, child: Member) -> bool:
    """Whether the child has an education, health and care plan: the event says so, or the
    directory does (a school may not know of a plan the authority holds, and the reverse)."""
    return event.has_ehcp or child.has_ehcp


def severity_of(event: EducationEvent, child: Member) -> Severity:
    match event:
        case ElectiveHomeEducation() if has_ehcp(event, child):
            return Severity.HIGH
        case ChildMissingEducation() if not event.whereabouts_known:
            return Severity.HIGH
        case _:
            return Severity.MEDIUM


def education_facts(event: EducationEvent, child: Member) -> Facts:
    """What every reader is told happened; the event's own fields travel as detail."""
    match event:
        case AttendanceConcern():
            facts: Facts = {"education_concern": event.concern.value}
        case ChildMissingEducation():
            facts = {"education_concern": "missing_education"}
            facts |= {} if event.whereabouts_known else {"whereabouts_unknown": True}
        case ElectiveHomeEducation():
            facts = {"education_concern": "elective_home_education"}
    return facts | ({"ehcp": True} if has_ehcp(event, child) else {})


def why_front_door(child: Member, family: Family, on: date) -> str | None:
    """Why the front door hears of it, or None: the child's open plan first, else the family's
    safeguarding history (any plan of the family's children, open or closed, or an earlier
    front door referral about the household)."""
    if any(p.person_id == child.person_id for p in family.open_plans(on)):
        return OPEN_PLAN
    children = {c.person_id for c in family.children}
    if any(p.person_id in children for p in family.plans):
        return SAFEGUARDING_HISTORY
    if any(n.notice_type in REFERRALS for n in family.history.notices):
        return SAFEGUARDING_HISTORY
    return None


def route_education(
    event: EducationEvent, family: Family, history: PersonHistory, received_on: date,
    limits: Thresholds,
) -> list[Decision]:  # fmt: skip
    child = family.subject
    if child is None or child.role is not HouseholdRole.CHILD:
        return []
    rule, severity = RULE_IDS[type(event)], severity_of(event, child)
    facts = education_facts(event, child)
    about = (child.person_id,)
    decisions = _officer(child, family, severity, rule, facts)
    decisions += gp_decisions((child,), severity, rule, facts, child.person_id)
    decisions += _health_team(child, severity, rule, facts)
    if reason := why_front_door(child, family, received_on):
        decisions += front_door_decision(family, severity, rule, about, facts | {reason: True},
                                         (child.area,))  # fmt: skip
    booking = booking_of(event)
    if booking is not None:  # an early-years place: one more booking the child was not brought to
        decisions += route_booking(booking, family, history, received_on, limits)
    return decisions


def _officer(
    child: Member, family: Family, severity: Severity, rule: str, facts: Facts
) -> list[Decision]:
    """The education safeguarding officer of the child's area, held by its front door; an
    area the broker has no front door for: the family's front door, with the reason."""
    about = (child.person_id,)
    if door := family.front_door(child.area):
        return [Decision(Addressee(door, ContactRole.EDUCATION_SAFEGUARDING_OFFICER),
                         NoticeType.EDUCATION_SAFEGUARDING, severity, f"{rule}.{OFFICER}",
                         about, facts)]  # fmt: skip
    if door := family.front_door():
        return [Decision(Addressee(door, ContactRole.DUTY_MANAGER),
                         NoticeType.FRONT_DOOR_REFERRAL, severity, f"{rule}.{OFFICER}.fallback",
                         about, {**facts, FALLBACK_REASON: NO_FRONT_DOOR_FOR_AREA})]  # fmt: skip
    # No front door anywhere: reported and parked, never nothing (rules/fallback.py).
    return [nobody_to_tell(f"{rule}.{OFFICER}", NoticeType.FRONT_DOOR_REFERRAL, severity, about,
                           {**facts, FALLBACK_REASON: NO_FRONT_DOOR_FOR_AREA},
                           child.area or family.area)]  # fmt: skip


def _health_team(child: Member, severity: Severity, rule: str, facts: Facts) -> list[Decision]:
    if not child.health_visiting:
        return []
    return [Decision(Addressee(child.health_visiting, ContactRole.SAFEGUARDING_LEAD),
                     NoticeType.HEALTH_VISITING, severity, f"{rule}.health",
                     (child.person_id,), facts)]  # fmt: skip


def _routes(rule: str, when: str, high: str | None) -> tuple[Route, ...]:
    """The routes ``route_education`` decides for one event type; ``high``: when it is high."""
    both = (Severity.MEDIUM, Severity.HIGH) if high else (Severity.MEDIUM,)
    when_high = f"{when} (high: {high})" if high else when
    return (
        Route(f"{rule}.{OFFICER}", when_high, "the education safeguarding officer of the "
              "child's area", NoticeType.EDUCATION_SAFEGUARDING,
              ContactRole.EDUCATION_SAFEGUARDING_OFFICER, both),
        gp_route(rule, when, "the child's GP", both),
        Route(f"{rule}.health", when, "the child's health visiting or school nursing team",
              NoticeType.HEALTH_VISITING, ContactRole.SAFEGUARDING_LEAD, both),
        front_door_route(rule, f"{when}, the child on an open plan or the family with a "
                         "safeguarding history (a plan ever, or an earlier referral)", both),
    )  # fmt: skip


ATTENDANCE = Rule(
    AttendanceConcern,
    route_education,
    (
        *_routes("attendance", "a school or nursery reports persistent absence, a sharp fall "
                 "in attendance or an early-years place not taken up", None),
        # An early-years concern is one more booking not brought: the pattern's own readers.
        *pattern_routes("an early-years place not taken up or hardly used, counted as a "
                        "missed appointment, and then "),
    ),
)  # fmt: skip
MISSING_EDUCATION = Rule(
    ChildMissingEducation,
    route_education,
    _routes("missing_education", "a child missing education", "whereabouts unknown"),
)
HOME_EDUCATION = Rule(
    ElectiveHomeEducation,
    route_education,
    _routes("home_education", "parents declare elective home education",
            "the child has an education, health and care plan"),
)  # fmt: skip
