"""One entry point over every event type: the table of rules."""

from datetime import date

from broker.rules.crisis import route_crisis
from broker.rules.ed_attendance import route_ed_attendance
from broker.rules.family import Decision, Family
from broker.rules.history import PersonHistory
from broker.rules.move import route_move
from broker.rules.not_brought import route_not_brought
from broker.rules.thresholds import Thresholds
from broker.rules.unmatched import route_unmatched
from broker.rules.withdrawal import route_withdrawal
from schemas.events import (
    AppointmentOutcome,
    EdAttendance,
    Event,
    FamilyMovingArea,
    ParentMentalHealthCrisis,
    ServiceWithdrawal,
)


def decide(
    event: Event,
    family: Family,
    history: PersonHistory,
    received_on: date,
    limits: Thresholds = Thresholds(),
) -> list[Decision]:
    """Every notice this event calls for, each with the rule and facts that fired it."""
    if family.subject is None:
        return route_unmatched(family, len(event.people()))
    match event:
        case ParentMentalHealthCrisis():
            decisions = route_crisis(event, family, received_on)
        case ServiceWithdrawal():
            decisions = route_withdrawal(event, family, received_on)
        case FamilyMovingArea():
            decisions = route_move(event, family, received_on)
        case EdAttendance():
            decisions = route_ed_attendance(event, family, history, received_on, limits)
        case AppointmentOutcome():
            decisions = route_not_brought(event, family, history, received_on, limits)
    return decisions
