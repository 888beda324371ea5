"""One entry point over every event type: the table of rules."""

from datetime import date, datetime

from broker.rules.crisis import route_crisis
from broker.rules.ed_attendance import route_ed_attendance
from broker.rules.family import NOT_A_CONCERN, Decision, Family
from broker.rules.history import PersonHistory
from broker.rules.move import route_move
from broker.rules.not_brought import route_not_brought
from broker.rules.patterns import apply_patterns, event_signals, merged
from broker.rules.repeated_crises import repeated_crises
from broker.rules.thresholds import Thresholds
from broker.rules.unmatched import route_unmatched, unmatched_referral
from broker.rules.withdrawal import route_withdrawal
from schemas.events import (
    AppointmentOutcome,
    EdAttendance,
    Event,
    FamilyMovingArea,
    ParentMentalHealthCrisis,
    ServiceWithdrawal,
    WithdrawalReason,
)


def decide(
    event: Event,
    family: Family,
    history: PersonHistory,
    received_at: datetime,
    limits: Thresholds = Thresholds(),
) -> list[Decision]:
    """Every notice this event calls for, each with the rule and facts that fired it: the
    event type's own rule first, then a parent's repeated crises (``history`` is the
    subject's, this event included), then the family-level patterns over the household's
    history. Each front door gets one referral for the event, people to match included."""
    if family.subject is None:
        return route_unmatched(family, len(event.people()))
    decisions = by_event_type(event, family, history, received_at.date(), limits)
    decisions += repeated_crises(event, family, history, limits)
    decisions = apply_patterns(
        decisions, recorded_signals(event), family, received_at, limits, is_new_concern(event)
    )
    if family.unmatched:
        decisions = merged(decisions + unmatched_referral(family, family.unmatched))
    return decisions


PLANNED_ENDINGS = frozenset({WithdrawalReason.STEPPED_DOWN, WithdrawalReason.COMPLETED})


def recorded_signals(event: Event) -> frozenset[str]:
    """What the patterns, now and later through the chronology, know of the event: its risk
    signals, and NOT_A_CONCERN for a planned ending."""
    planned = isinstance(event, ServiceWithdrawal) and event.reason in PLANNED_ENDINGS
    return event_signals(event) | ({NOT_A_CONCERN} if planned else set())


def is_new_concern(event: Event) -> bool:
    """Whether the event is news a plan's owners must hear: a step-down or a service that
    completed its work is not; a crisis, an attendance or a disengagement is."""
    match event:
        case ServiceWithdrawal():
            return event.reason not in PLANNED_ENDINGS
        case AppointmentOutcome():
            return event.outcome == "was_not_brought"
        case _:
            return True


def by_event_type(
    event: Event, family: Family, history: PersonHistory, received_on: date, limits: Thresholds
) -> list[Decision]:
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
