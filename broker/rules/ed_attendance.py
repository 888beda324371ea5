"""Who is told about an emergency department attendance. Pure: no I/O, no clock.

Self-harm is a self-harm presentation or a deliberate overdose or ingestion, whoever it is.

- A parent's self-harm or mental health presentation is a parent's crisis: the children's
  schools or health visiting, the GPs, and the front door on any high-risk signal.
- A child's own self-harm is HIGH; a child's own mental health presentation is MEDIUM. Either
  goes to the child's GP; to the child's health team (school nursing or health visiting) when
  the child is registered with one, otherwise to the school's key adult (who, by the
  minimisation tables, learns that something happened, never what); and to the front door of
  the child's area, which considers it. The rule id names neither: school and transport see it.
- Otherwise, to the GPs and health teams (and the front door where serious): any ingestion or
  poisoning under five, any injury to a baby not yet mobile (HIGH), a child's third attendance
  in twelve months or an adult's fifth (MEDIUM). "Not yet mobile" is what the attendance
  records (not yet crawling or walking); only when it is not recorded does age stand in.
"""

from datetime import date

from broker.rules.common import (
    child_contact,
    front_door_decision,
    front_door_route,
    gp_decisions,
    gp_route,
)
from broker.rules.crisis import family_signals, parent_in_crisis_routes, route_parent_in_crisis
from broker.rules.family import Addressee, ContactRole, Decision, Family, HouseholdRole, Member
from broker.rules.history import PersonHistory
from broker.rules.table import Route, Rule
from broker.rules.thresholds import Thresholds
from schemas.events import EdAttendance, Intent, PresentingCategory
from schemas.notices import NoticeType, Severity

RULE = "ed"
Facts = dict[str, str | int | bool]
Fired = tuple[str, Severity, Facts]


def route_ed_attendance(
    event: EdAttendance,
    family: Family,
    history: PersonHistory,
    received_on: date,
    limits: Thresholds = Thresholds(),
) -> list[Decision]:
    subject = family.subject
    if subject is None:
        return []
    if subject.role is HouseholdRole.PARENT_OR_CARER and is_parent_crisis(event):
        raised = crisis_signals(event) | family_signals(family, received_on)
        return route_parent_in_crisis(family, raised, received_on, f"{RULE}.parent_presentation")
    if subject.role is HouseholdRole.CHILD and (own := childs_own_presentation(event)):
        severity, facts = own
        return _child_presentation(family, subject, received_on, severity, facts)
    fired = _fired(event, subject, history, received_on, limits)
    if fired is None:
        return []
    rule_id, severity, facts = fired
    return _to_health_and_front_door(family, subject, rule_id, severity, facts)


def is_self_harm(event: EdAttendance) -> bool:
    """A self-harm presentation, or an overdose or ingestion that was meant."""
    return event.presenting_category is PresentingCategory.SELF_HARM or (
        event.presenting_category is PresentingCategory.INGESTION_OR_POISONING
        and event.intent is Intent.DELIBERATE
    )


def is_parent_crisis(event: EdAttendance) -> bool:
    return is_self_harm(event) or event.presenting_category is PresentingCategory.MENTAL_HEALTH


def crisis_signals(event: EdAttendance) -> frozenset[str]:
    """The crisis signals a parent's presentation carries: self-harm is a high-risk one."""
    return frozenset({"self_harm" if is_self_harm(event) else event.presenting_category.value})


def childs_own_presentation(event: EdAttendance) -> tuple[Severity, Facts] | None:
    facts: Facts = {"presenting": event.presenting_category.value}
    if event.intent is not None:
        facts["intent"] = event.intent.value
    if is_self_harm(event):
        return Severity.HIGH, {**facts, "self_harm": True}
    if event.presenting_category is PresentingCategory.MENTAL_HEALTH:
        return Severity.MEDIUM, facts
    return None


def _child_presentation(
    family: Family, child: Member, on: date, severity: Severity, facts: Facts
) -> list[Decision]:
    """GP; the child's health team, or else the school's key adult; the front door."""
    rule_id, about = f"{RULE}.child_presentation", (child.person_id,)
    decisions = gp_decisions((child,), severity, rule_id, facts)
    if child.health_visiting:
        decisions.append(Decision(Addressee(child.health_visiting, ContactRole.SAFEGUARDING_LEAD),
                                  NoticeType.HEALTH_VISITING, severity, f"{rule_id}.health",
                                  about, facts))  # fmt: skip
    elif contact := child_contact(child, family, on, severity, rule_id, facts):
        decisions.append(contact)
    return decisions + front_door_decision(family, severity, rule_id, about, facts, (child.area,))


def is_not_yet_mobile(event: EdAttendance, child: Member, on: date, limits: Thresholds) -> bool:
    """What the attendance records; only when it records nothing, an age under the limit."""
    if event.not_yet_mobile is not None:
        return event.not_yet_mobile
    months = child.age_in_months(on)
    return months is not None and months < limits.not_yet_mobile_months


def _fired(
    event: EdAttendance, subject: Member, history: PersonHistory, on: date, limits: Thresholds
) -> Fired | None:
    category = event.presenting_category
    years = subject.age_in_years(on)
    is_child = subject.role is HouseholdRole.CHILD
    if (
        is_child
        and category is PresentingCategory.INGESTION_OR_POISONING
        and (years is not None and years < limits.ingestion_age_years)
    ):
        return f"{RULE}.ingestion_under_five", Severity.HIGH, {"presenting": category.value}
    if (
        is_child
        and category is PresentingCategory.INJURY
        and is_not_yet_mobile(event, subject, on, limits)
    ):
        recorded = "attendance" if event.not_yet_mobile is not None else "age"
        facts: Facts = {"presenting": category.value, "not_yet_mobile": True,
                        "not_yet_mobile_from": recorded}  # fmt: skip
        return f"{RULE}.injury_not_yet_mobile", Severity.HIGH, facts
    count = history.ed_count_since(event.arrived_at - limits.ed_window)
    threshold = limits.child_ed_attendances if is_child else limits.adult_ed_attendances
    if count >= threshold:
        facts = {"attendances": count, "window_days": limits.ed_window.days, "threshold": threshold}
        return f"{RULE}.frequent_attender", Severity.MEDIUM, facts
    return None


def _to_health_and_front_door(
    family: Family, subject: Member, rule_id: str, severity: Severity, facts: Facts
) -> list[Decision]:
    """The GPs and health teams: for a parent, think family (the other parent's GP, each
    child's GP and the children's health visiting or school nursing teams)."""
    about = (subject.person_id,)
    people: tuple[Member, ...] = (subject,)
    if subject.role is HouseholdRole.PARENT_OR_CARER:
        people += (*family.other_parents(subject.person_id), *family.children_of(subject.person_id))
    decisions = gp_decisions(people, severity, rule_id, facts, subject.person_id)
    teams = dict.fromkeys(p.health_visiting for p in people if p.health_visiting)
    decisions += [
        Decision(Addressee(team, ContactRole.SAFEGUARDING_LEAD), NoticeType.HEALTH_VISITING,
                 severity, f"{rule_id}.health", about, facts)
        for team in teams if team
    ]  # fmt: skip
    if severity is Severity.HIGH:
        decisions += front_door_decision(family, severity, rule_id, about, facts)
    return decisions


def _health_route(rule_id: str, when: str, who: str, severities: tuple[Severity, ...]) -> Route:
    return Route(f"{rule_id}.health", when, who, NoticeType.HEALTH_VISITING,
                 ContactRole.SAFEGUARDING_LEAD, severities)  # fmt: skip


def _child_presentation_routes() -> tuple[Route, ...]:
    rule_id, either = f"{RULE}.child_presentation", (Severity.MEDIUM, Severity.HIGH)
    when = "a child's own self-harm (high) or mental health presentation (medium)"
    return (
        gp_route(rule_id, when, "the child's GP", either),
        _health_route(rule_id, when, "the child's health visiting or school nursing team",
                      either),
        Route(f"{rule_id}.child", f"{when}, the child known to no health team, at school",
              "the school's key adult (that something happened, never what)",
              NoticeType.SCHOOL_SUPPORT, ContactRole.KEY_ADULT, either),
        Route(f"{rule_id}.child", f"{when}, the child known to no health team nor any school",
              "the local authority's education safeguarding officer",
              NoticeType.SCHOOL_SUPPORT, ContactRole.EDUCATION_SAFEGUARDING_OFFICER, either),
        front_door_route(rule_id, when, either),
    )  # fmt: skip


def _serious_routes(rule_id: str, when: str) -> tuple[Route, ...]:
    high = (Severity.HIGH,)
    return (
        gp_route(rule_id, when, "the GPs (a parent's: the other parent's and children's too)",
                 high),
        _health_route(rule_id, when, "the health visiting or school nursing teams", high),
        front_door_route(rule_id, when, high),
    )  # fmt: skip


def _frequent_routes() -> tuple[Route, ...]:
    rule_id, medium = f"{RULE}.frequent_attender", (Severity.MEDIUM,)
    limits = Thresholds()  # the table states the defaults; a partnership may set its own
    when = (f"{limits.child_ed_attendances} attendances of a child (an adult: "
            f"{limits.adult_ed_attendances}) in {limits.ed_window.days} days")  # fmt: skip
    return (
        gp_route(rule_id, when, "the GPs (a parent's: the other parent's and children's too)",
                 medium),
        _health_route(rule_id, when, "the health visiting or school nursing teams", medium),
    )  # fmt: skip


ED_ATTENDANCE = Rule(
    EdAttendance,
    route_ed_attendance,
    (
        *parent_in_crisis_routes(f"{RULE}.parent_presentation",
                                 "a parent's self-harm or mental health presentation"),
        *_child_presentation_routes(),
        *_serious_routes(f"{RULE}.ingestion_under_five", "ingestion or poisoning under five"),
        *_serious_routes(f"{RULE}.injury_not_yet_mobile", "an injury to a baby not yet mobile"),
        *_frequent_routes(),
    ),
)  # fmt: skip
