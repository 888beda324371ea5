"""Who is told when a child is not brought to appointments. Pure: no I/O, no clock.

Below the attendance rate over the window (by default fewer than 60% of at least four booked
appointments in six months): the child's GP and health visiting or school nursing team. The
notice states the rate and the counts.
"""

from datetime import date

from broker.rules.common import gp_decisions
from broker.rules.family import Addressee, ContactRole, Decision, Family, HouseholdRole
from broker.rules.history import PersonHistory
from broker.rules.thresholds import Thresholds
from schemas.events import AppointmentOutcome
from schemas.notices import NoticeType, Severity

RULE = "was_not_brought"


def route_not_brought(
    event: AppointmentOutcome,
    family: Family,
    history: PersonHistory,
    received_on: date,
    limits: Thresholds = Thresholds(),
) -> list[Decision]:
    child = family.subject
    if child is None or child.role is not HouseholdRole.CHILD or event.outcome == "attended":
        return []
    booked, attended = history.appointments_since(event.booked_for - limits.wnb_window)
    if booked < limits.wnb_min_booked or attended / booked >= limits.wnb_min_attendance_rate:
        return []
    facts: dict[str, str | int | bool] = {
        "attendance_rate_percent": round(100 * attended / booked),
        "booked": booked,
        "attended": attended,
        "was_not_brought": booked - attended,
        "window_days": limits.wnb_window.days,
    }
    decisions = gp_decisions((child,), Severity.MEDIUM, RULE, facts)
    if child.health_visiting:
        decisions.append(
            Decision(Addressee(child.health_visiting, ContactRole.SAFEGUARDING_LEAD),
                     NoticeType.HEALTH_VISITING, Severity.MEDIUM, f"{RULE}.health",
                     (child.person_id,), facts)
        )  # fmt: skip
    return decisions + _plan_leads(family, child.person_id, received_on, facts)


def _plan_leads(
    family: Family, child_id: str, on: date, facts: dict[str, str | int | bool]
) -> list[Decision]:
    """The lead professional of any open plan for the child hears of the pattern too."""
    leads = dict.fromkeys(
        p.lead_org for p in family.open_plans(on) if p.person_id == child_id and p.lead_org
    )
    return [
        Decision(Addressee(org, ContactRole.SAFEGUARDING_LEAD), NoticeType.PLAN_OWNER,
                 Severity.MEDIUM, f"{RULE}.plan_lead", (child_id,), facts)
        for org in leads if org
    ]  # fmt: skip
