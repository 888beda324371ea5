"""Repeated crises of one parent reach the front door. Pure: no I/O, no clock.

Disguised compliance shows as repeated medium-level concerns: a parent in crisis again and
again, each time without a high-risk signal, never reaches the front door on any one crisis.
So a parent's crises are counted per person over a rolling window (by default three in six
months, ``Thresholds``): a crisis event, or the parent's self-harm or mental-health
presentation at ED, which routing already treats as a crisis. Reaching the count refers the
parent and their children to the front door where the children live, at MEDIUM; the referral
joins the crisis's own one when there is one (``patterns.merged``), so one incident stays one
referral, HIGH if the crisis itself was. Each further crisis in the window refers again: each
is a new incident. A parent with no children known to the directory is not referred: the
front door is the children's.
"""

from datetime import datetime

from broker.rules.common import front_door_decision, front_door_route
from broker.rules.ed_attendance import is_parent_crisis
from broker.rules.family import Decision, Family, HouseholdRole
from broker.rules.history import PersonHistory
from broker.rules.thresholds import Thresholds
from schemas.events import EdAttendance, Event, ParentMentalHealthCrisis
from schemas.notices import Severity

RULE = "repeated_crises"
_DEFAULT = Thresholds()  # the table states the defaults; a partnership may set its own
ROUTES = (
    front_door_route(RULE, f"{_DEFAULT.repeated_crises} crises of a parent in "
                     f"{_DEFAULT.repeated_crises_window.days} days (crisis events, self-harm or "
                     "mental health presentations at ED), children known", (Severity.MEDIUM,)),
)  # fmt: skip


def crisis_at(event: Event, family: Family) -> datetime | None:
    """When the event's subject, a parent or carer, was in crisis; None if it is no crisis."""
    subject = family.subject
    if subject is None or subject.role is not HouseholdRole.PARENT_OR_CARER:
        return None
    match event:
        case ParentMentalHealthCrisis():
            return event.occurred_at
        case EdAttendance() if is_parent_crisis(event):
            return event.arrived_at
        case _:
            return None


def repeated_crises(
    event: Event, family: Family, history: PersonHistory, limits: Thresholds
) -> list[Decision]:
    """``history`` is the subject's, this crisis included."""
    at, subject = crisis_at(event, family), family.subject
    if at is None or subject is None:
        return []
    crises = history.crises_since(at - limits.repeated_crises_window)
    children = family.children_of(subject.person_id)
    if crises < limits.repeated_crises or not children:
        return []
    facts: dict[str, str | int | bool] = {
        "parent_crises": crises,
        "crises_window_days": limits.repeated_crises_window.days,
    }
    about = (subject.person_id, *(c.person_id for c in children))
    areas = family.children_areas(subject.person_id)
    return front_door_decision(family, Severity.MEDIUM, RULE, about, facts, areas)
