"""One entry point over every event type: the table of rules."""

from datetime import datetime

from broker.rules import (
    fallback,
    out_of_hours,
    patterns,
    peer_areas,
    plans,
    school_deputy,
    strategy,
    unmatched,
)
from broker.rules import repeated_crises as repeated
from broker.rules.contacts import CONTACT
from broker.rules.crisis import CRISIS
from broker.rules.domestic_abuse import DOMESTIC_ABUSE
from broker.rules.ed_attendance import ED_ATTENDANCE
from broker.rules.education import ATTENDANCE, HOME_EDUCATION, MISSING_EDUCATION
from broker.rules.family import NOT_A_CONCERN, Decision, Family
from broker.rules.history import PersonHistory
from broker.rules.move import MOVE
from broker.rules.not_brought import NOT_BROUGHT
from broker.rules.out_of_hours import with_out_of_hours
from broker.rules.patterns import apply_patterns, event_signals, merged
from broker.rules.peers import unknown_family_transfer
from broker.rules.plans import NOT_NEWS, is_new_concern, route_open_plans
from broker.rules.pregnancy import PREGNANCY
from broker.rules.school_deputy import with_deputies
from broker.rules.table import EventRule, Route
from broker.rules.thresholds import Thresholds
from broker.rules.withdrawal import WITHDRAWAL
from schemas.events import AgencyContact, Event, EventType, ServiceWithdrawal

# Each event type's own rule, one signature for all (table.py): the first step of ``decide``.
ROUTES: dict[EventType, EventRule] = {
    EventType.PARENT_MENTAL_HEALTH_CRISIS: CRISIS,
    EventType.SERVICE_WITHDRAWAL: WITHDRAWAL,
    EventType.FAMILY_MOVING_AREA: MOVE,
    EventType.ED_ATTENDANCE: ED_ATTENDANCE,
    EventType.APPOINTMENT_OUTCOME: NOT_BROUGHT,
    EventType.POLICE_DOMESTIC_ABUSE_INCIDENT: DOMESTIC_ABUSE,
    EventType.ATTENDANCE_CONCERN: ATTENDANCE,
    EventType.CHILD_MISSING_EDUCATION: MISSING_EDUCATION,
    EventType.ELECTIVE_HOME_EDUCATION: HOME_EDUCATION,
    EventType.AGENCY_CONTACT: CONTACT,
    # Pregnancy and unborn babies (issue 15, item 2)
    EventType.PREGNANCY_NOTIFICATION: PREGNANCY,
}
# What ``decide`` adds to any event type's rule, in the order it adds them.
COMMON_ROUTES: tuple[Route, ...] = (
    *repeated.ROUTES,
    *patterns.ROUTES,
    *plans.ROUTES,
    *unmatched.ROUTES,
    *strategy.ROUTES,
    *out_of_hours.ROUTES,
    *school_deputy.ROUTES,
    *fallback.ROUTES,
    *peer_areas.ROUTES,
)


def decide(
    event: Event,
    family: Family,
    history: PersonHistory,
    received_at: datetime,
    limits: Thresholds = Thresholds(),
) -> list[Decision]:
    """Every notice this event calls for, each with the rule and facts that fired it: the
    event type's own rule first (``ROUTES``), then a parent's repeated crises (``history`` is the
    subject's, this event included), then the family-level patterns over the household's
    history, then the lead professional of any open plan of a child the event concerns.
    Each front door gets one referral for the event, people to match included, asked to
    convene a strategy discussion the same day (police and health told) when the event calls
    for one; out of hours, its emergency duty team hears of a high-risk referral at once; a
    school's key adult and deputy hear of a high-severity notice together."""
    if family.subject is None:
        # A peer's transfer of a family new here reaches its receiving front door at once.
        transfer = unknown_family_transfer(event, family, received_at.date())
        return transfer or unmatched.route_unmatched(family, len(event.people()))
    decisions = ROUTES[event.event_type](event, family, history, received_at.date(), limits)
    decisions += repeated.repeated_crises(event, family, history, limits)
    decisions = apply_patterns(
        decisions, recorded_signals(event), family, received_at, limits, is_new_concern(event)
    )
    # After the patterns: the lead's notice takes the severity they settled on, and being on
    # a plan must not hide the quiet low-severity events the accumulation pattern counts.
    decisions = decisions + route_open_plans(event, family, received_at.date(), decisions)
    decisions = merged(peer_areas.kept_at_home(decisions, family))
    if family.unmatched:
        decisions = merged(decisions + unmatched.unmatched_referral(family, family.unmatched))
    decisions = strategy.with_strategy_discussion(event, decisions, family, received_at, limits)
    decisions = peer_areas.kept_at_home(decisions, family)
    return with_deputies(with_out_of_hours(decisions, family, received_at))


def recorded_signals(event: Event) -> frozenset[str]:
    """What the patterns, now and later through the chronology, know of the event: its risk
    signals, and NOT_A_CONCERN for a planned ending."""
    planned = isinstance(event, ServiceWithdrawal) and event.reason in NOT_NEWS
    planned |= isinstance(event, AgencyContact)  # a contact or a check: information only
    return event_signals(event) | ({NOT_A_CONCERN} if planned else set())
