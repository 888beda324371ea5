"""One entry point over every event type: the table of rules."""

from datetime import date, datetime

from broker.rules.crisis import route_crisis
from broker.rules.ed_attendance import route_ed_attendance
from broker.rules.family import NOT_A_CONCERN, Decision, Family
from broker.rules.history import PersonHistory
from broker.rules.move import route_move
from broker.rules.not_brought import route_not_brought
from broker.rules.out_of_hours import with_out_of_hours
from broker.rules.patterns import apply_patterns, event_signals, merged
from broker.rules.plans import NOT_NEWS, is_new_concern, route_open_plans
from broker.rules.repeated_crises import repeated_crises
from broker.rules.school_deputy import with_deputies
from broker.rules.step_down import route_step_down
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
    history, then the lead professional of any open plan of a child the event concerns.
    Each front door gets one referral for the event, people to match included; out of
    hours, its emergency duty team hears of a high-risk referral at once; a school's key
    adult and deputy hear of a high-severity notice together."""
    if family.subject is None:
        return route_unmatched(family, len(event.people()))
    decisions = by_event_type(event, family, history, received_at.date(), limits)
    decisions += repeated_crises(event, family, history, limits)
    decisions = apply_patterns(
        decisions, recorded_signals(event), family, received_at, limits, is_new_concern(event)
    )
    # After the patterns: the lead's notice takes the severity they settled on, and being on
    # a plan must not hide the quiet low-severity events the accumulation pattern counts.
    decisions = merged(decisions + route_open_plans(event, family, received_at.date(), decisions))
    if family.unmatched:
        decisions = merged(decisions + unmatched_referral(family, family.unmatched))
    return with_deputies(with_out_of_hours(decisions, family, received_at))


def recorded_signals(event: Event) -> frozenset[str]:
    """What the patterns, now and later through the chronology, know of the event: its risk
    signals, and NOT_A_CONCERN for a planned ending."""
    planned = isinstance(event, ServiceWithdrawal) and event.reason in NOT_NEWS
    return event_signals(event) | ({NOT_A_CONCERN} if planned else set())


def by_event_type(
    event: Event, family: Family, history: PersonHistory, received_on: date, limits: Thresholds
) -> list[Decision]:
    match event:
        case ParentMentalHealthCrisis():
            decisions = route_crisis(event, family, received_on)
        case ServiceWithdrawal():
            decisions = route_withdrawal(event, family, received_on)
            decisions += route_step_down(event, family)
        case FamilyMovingArea():
            decisions = route_move(event, family, received_on)
        case EdAttendance():
            decisions = route_ed_attendance(event, family, history, received_on, limits)
        case AppointmentOutcome():
            decisions = route_not_brought(event, family, history, received_on, limits)
    return decisions
