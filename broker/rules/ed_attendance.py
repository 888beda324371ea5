"""Who is told about an emergency department attendance. Pure: no I/O, no clock.

Raised: a child's third attendance in twelve months, an adult's fifth, any ingestion or
poisoning under five, any injury to a baby not yet mobile (to the GPs, the health visiting or
school nursing team, and the front door where serious); a parent's self-harm or mental health
presentation is treated as a crisis for the children.
"""

from datetime import date

from broker.rules.common import front_door_decision, gp_decisions
from broker.rules.crisis import family_signals, route_parent_in_crisis
from broker.rules.family import Addressee, ContactRole, Decision, Family, HouseholdRole, Member
from broker.rules.history import PersonHistory
from broker.rules.thresholds import Thresholds
from schemas.events import EdAttendance, PresentingCategory
from schemas.notices import NoticeType, Severity

RULE = "ed"
PARENT_CRISIS_PRESENTATIONS = frozenset({
    PresentingCategory.SELF_HARM, PresentingCategory.MENTAL_HEALTH,
})  # fmt: skip


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
    if subject.role is HouseholdRole.PARENT_OR_CARER and (
        event.presenting_category in PARENT_CRISIS_PRESENTATIONS
    ):
        raised = frozenset({event.presenting_category.value}) | family_signals(family, received_on)
        return route_parent_in_crisis(family, raised, received_on, f"{RULE}.parent_presentation")
    fired = _fired(event, subject, history, received_on, limits)
    if fired is None:
        return []
    rule_id, severity, facts = fired
    return _to_health_and_front_door(family, subject, rule_id, severity, facts)


Fired = tuple[str, Severity, dict[str, str | int | bool]]


def _fired(
    event: EdAttendance, subject: Member, history: PersonHistory, on: date, limits: Thresholds
) -> Fired | None:
    category = event.presenting_category
    years, months = subject.age_in_years(on), subject.age_in_months(on)
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
        and (months is not None and months < limits.not_yet_mobile_months)
    ):
        return f"{RULE}.injury_not_yet_mobile", Severity.HIGH, {"presenting": category.value}
    count = history.ed_count_since(event.arrived_at - limits.ed_window)
    threshold = limits.child_ed_attendances if is_child else limits.adult_ed_attendances
    if count >= threshold:
        facts: dict[str, str | int | bool] = {
            "attendances": count, "window_days": limits.ed_window.days, "threshold": threshold,
        }  # fmt: skip
        return f"{RULE}.frequent_attender", Severity.MEDIUM, facts
    return None


def _to_health_and_front_door(
    family: Family, subject: Member, rule_id: str, severity: Severity,
    facts: dict[str, str | int | bool],
) -> list[Decision]:  # fmt: skip
    """The GPs and health teams: for a parent, think family (the other parent's GP, each
    child's GP and the children's health visiting or school nursing teams)."""
    about = (subject.person_id,)
    people: tuple[Member, ...] = (subject,)
    if subject.role is HouseholdRole.PARENT_OR_CARER:
        people += (*family.other_parents(subject.person_id), *family.children_of(subject.person_id))
    decisions = gp_decisions(people, severity, rule_id, facts)
    teams = dict.fromkeys(p.health_visiting for p in people if p.health_visiting)
    decisions += [
        Decision(Addressee(team, ContactRole.SAFEGUARDING_LEAD), NoticeType.HEALTH_VISITING,
                 severity, f"{rule_id}.health", about, facts)
        for team in teams if team
    ]  # fmt: skip
    if severity is Severity.HIGH:
        decisions += front_door_decision(family, severity, rule_id, about, facts)
    return decisions
