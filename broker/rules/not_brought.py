"""Who is told when children are not brought to appointments. Pure: no I/O, no clock.

The attendance rate is looked at on every outcome, attended ones included, over the window
that ends at the appointment just recorded (by default: under 75% of at least four booked in
six months; see ``Thresholds`` for why), in two ways:

- The child's own rate. Below it: the child's GP, health visiting or school nursing team, and
  the lead professional of any open plan for the child, with the rate and the counts.
- The rate across the brothers and sisters (the children sharing a household with the child),
  once at least two of them have appointments in the window: a family can miss a little of
  each child's care and a lot of the children's care together. Below it: the same people, for
  each of those children who was not brought at least once in the window, with the children's
  rate and the child's own counts. A child both rates concern gets one notice per recipient
  once ``merged`` joins them.

A child with SEND or an education, health and care plan, or a parent with a learning
disability, raises these notices from medium to high, with a fact saying which (``needs``).

A parent's cancellation is care rebooked, not missed: it counts only from the second in a row
(``Thresholds.wnb_cancellations_in_a_row``), and then as not brought; ``counted`` turns the
outcomes into what the rates count.

When a notice is sent, so that nobody is flooded: on each was-not-brought while the rate is
below the threshold (another missed appointment is news), and on an attended outcome only
when the rate at the appointment before it, in that appointment's own window, was not below:
the attended outcome is then the one that first shows the pattern (a fourth booking that makes
the rate count, or older attended appointments leaving the window).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from broker.rules.common import gp_decisions, gp_route, ordinal
from broker.rules.family import Addressee, ContactRole, Decision, Family, HouseholdRole, Member
from broker.rules.history import Appointments, Outcome, PersonHistory
from broker.rules.needs import with_needs
from broker.rules.table import Route, Rule
from broker.rules.thresholds import Thresholds
from schemas.events import AppointmentOutcome, AttendanceConcern, Event, Setting
from schemas.notices import NoticeType, Severity

RULE = "was_not_brought"
SIBLINGS = f"{RULE}.siblings"
Facts = dict[str, str | int | bool]


@dataclass(frozen=True)
class Rate:
    booked: int
    attended: int

    @property
    def percent(self) -> int:
        return round(100 * self.attended / self.booked) if self.booked else 0

    def below(self, limits: Thresholds) -> bool:
        return (
            self.booked >= limits.wnb_min_booked
            and self.attended / self.booked < limits.wnb_min_attendance_rate
        )


def counted(appointments: Appointments, in_a_row: int) -> Appointments:
    """The outcomes the rates count: a parent's cancellation is left out, except from the
    ``in_a_row``-th consecutive one on, which counts as not brought."""
    kept: list[tuple[datetime, Outcome]] = []
    run = 0
    for booked, outcome in sorted(appointments):
        run = run + 1 if outcome == "cancelled_by_parent" else 0
        if outcome != "cancelled_by_parent":
            kept.append((booked, outcome))
        elif run >= in_a_row:
            kept.append((booked, "was_not_brought"))
    return tuple(kept)


def cancellations(appointments: Appointments, at: datetime, window: timedelta) -> int:
    """The parent's cancellations in the window that ends at ``at``, counted or not."""
    return sum(1 for booked, outcome in appointments
               if outcome == "cancelled_by_parent" and at - window <= booked <= at)  # fmt: skip


def rate_at(appointments: Appointments, at: datetime, window: timedelta) -> Rate:
    """Attendance over the window that ends at ``at``."""
    outcomes = [outcome for booked, outcome in appointments if at - window <= booked <= at]
    return Rate(len(outcomes), outcomes.count("attended"))


# The rate at a moment if it is below the threshold there, else None.
Judge = Callable[[datetime], Rate | None]
# One booking in the pattern: when it was for, and whether the child was brought.
Booking = tuple[datetime, Outcome]


def booking_of(event: Event) -> Booking | None:
    """What the event adds to its child's was-not-brought record, if anything: an appointment's
    outcome; an early-years or nursery attendance concern counts as one booking the child was
    not brought to (a place not taken up, or hardly used, is care the child misses), at the
    time the setting reports it."""
    match event:
        case AppointmentOutcome():
            return event.booked_for, event.outcome
        case AttendanceConcern() if event.setting is Setting.EARLY_YEARS:
            return event.occurred_at, "was_not_brought"
        case _:
            return None


def due(judge: Judge, appointments: Appointments, booking: Booking, missed: bool) -> Rate | None:
    """The rate to state if this booking calls for a notice (see the module docstring), with
    ``appointments`` as counted: a miss (``missed``: not brought, or a cancellation that
    counts) is news; a cancellation that does not count changes no rate."""
    booked_for, outcome = booking
    now = judge(booked_for)
    if now is None or missed:
        return now
    if outcome == "cancelled_by_parent":
        return None
    earlier = [booked for booked, _ in appointments if booked < booked_for]
    return now if not earlier or judge(max(earlier)) is None else None


def route_not_brought(
    event: AppointmentOutcome,
    family: Family,
    history: PersonHistory,
    received_on: date,
    limits: Thresholds = Thresholds(),
) -> list[Decision]:
    booking = booking_of(event)
    if booking is None:
        return []
    return route_booking(booking, family, history, received_on, limits)


def route_booking(
    booking: Booking, family: Family, history: PersonHistory, received_on: date,
    limits: Thresholds = Thresholds(),
) -> list[Decision]:  # fmt: skip
    """The was-not-brought pattern judged at one booking of the subject child, whatever event
    recorded it (``booking_of``)."""
    child = family.subject
    if child is None or child.role is not HouseholdRole.CHILD:
        return []
    return _own_rate(booking, family, child, history, received_on, limits) + _siblings_rate(
        booking, family, child, history, received_on, limits
    )


def is_missed(booking: Booking, own: Appointments) -> bool:
    """Not brought, or cancelled by the parent and counted as not brought (``own``: the
    child's outcomes as counted)."""
    booked_for, outcome = booking
    return outcome == "was_not_brought" or (
        outcome == "cancelled_by_parent" and (booked_for, "was_not_brought") in own
    )


def _own_rate(
    booking: Booking, family: Family, child: Member, history: PersonHistory,
    on: date, limits: Thresholds,
) -> list[Decision]:  # fmt: skip
    own = counted(history.appointments, limits.wnb_cancellations_in_a_row)

    def judge(at: datetime) -> Rate | None:
        rate = rate_at(own, at, limits.wnb_window)
        return rate if rate.below(limits) else None

    rate = due(judge, own, booking, is_missed(booking, own))
    if rate is None:
        return []
    cancelled = cancellations(history.appointments, booking[0], limits.wnb_window)
    return _told_about(child, family, on, RULE, _own_facts(rate, cancelled, limits))


def _siblings_rate(
    booking: Booking, family: Family, child: Member, history: PersonHistory,
    on: date, limits: Thresholds,
) -> list[Decision]:  # fmt: skip
    children = (child, *family.siblings_of(child.person_id))
    recorded = {child.person_id: history.appointments} | {
        c.person_id: history.siblings[c.person_id].appointments
        for c in children
        if c.person_id in history.siblings and c.person_id != child.person_id
    }
    in_a_row = limits.wnb_cancellations_in_a_row
    by_child = {person: counted(outcomes, in_a_row) for person, outcomes in recorded.items()}
    together = tuple(a for appointments in by_child.values() for a in appointments)

    def judge(at: datetime) -> Rate | None:
        seen = sum(1 for a in by_child.values() if rate_at(a, at, limits.wnb_window).booked)
        rate = rate_at(together, at, limits.wnb_window)
        return rate if seen >= 2 and rate.below(limits) else None  # one child: its own rate

    rate = due(judge, together, booking, is_missed(booking, by_child[child.person_id]))
    if rate is None:
        return []
    window = limits.wnb_window
    own = {c.person_id: rate_at(by_child.get(c.person_id, ()), booking[0], window)
           for c in children}  # fmt: skip
    shared = _siblings_facts(rate, sum(1 for r in own.values() if r.booked), limits)
    decisions: list[Decision] = []
    for member in children:
        mine = own[member.person_id]
        if mine.booked > mine.attended:  # not brought at least once in the window
            cancelled = cancellations(recorded.get(member.person_id, ()), booking[0], window)
            facts = shared | _own_facts(mine, cancelled, limits)
            decisions += _told_about(member, family, on, SIBLINGS, facts)
    return decisions


def _own_facts(rate: Rate, cancelled: int, limits: Thresholds) -> Facts:
    """The child's rate and counts; ``was_not_brought`` includes the cancellations that
    counted, and ``cancelled_by_parent`` (when there were any) says how many there were."""
    facts: Facts = {
        "attendance_rate_percent": rate.percent,
        "booked": rate.booked,
        "attended": rate.attended,
        "was_not_brought": rate.booked - rate.attended,
        "window_days": limits.wnb_window.days,
    }
    return facts | ({"cancelled_by_parent": cancelled} if cancelled else {})


def _siblings_facts(rate: Rate, children: int, limits: Thresholds) -> Facts:
    return {
        "siblings_attendance_rate_percent": rate.percent,
        "siblings_booked": rate.booked,
        "siblings_attended": rate.attended,
        "children_with_appointments": children,
        "window_days": limits.wnb_window.days,
    }


def _told_about(child: Member, family: Family, on: date, rule: str, facts: Facts) -> list[Decision]:
    """The child's GP, health visiting or school nursing team, and open plans' leads; high
    when the child has SEND or an EHCP or a parent a learning disability (``needs``)."""
    return with_needs(_readers(child, family, on, rule, facts), family)


def _readers(child: Member, family: Family, on: date, rule: str, facts: Facts) -> list[Decision]:
    decisions = gp_decisions((child,), Severity.MEDIUM, rule, facts)
    if child.health_visiting:
        decisions.append(
            Decision(Addressee(child.health_visiting, ContactRole.SAFEGUARDING_LEAD),
                     NoticeType.HEALTH_VISITING, Severity.MEDIUM, f"{rule}.health",
                     (child.person_id,), facts)
        )  # fmt: skip
    return decisions + _plan_leads(family, child.person_id, on, rule, facts)


def _plan_leads(family: Family, child_id: str, on: date, rule: str, facts: Facts) -> list[Decision]:
    """The lead professional of any open plan for the child hears of the pattern too."""
    leads = dict.fromkeys(
        p.lead_org for p in family.open_plans(on) if p.person_id == child_id and p.lead_org
    )
    return [
        Decision(Addressee(org, ContactRole.SAFEGUARDING_LEAD), NoticeType.PLAN_OWNER,
                 Severity.MEDIUM, f"{rule}.plan_lead", (child_id,), facts)
        for org in leads if org
    ]  # fmt: skip


def _told_about_routes(rule: str, when: str) -> tuple[Route, ...]:
    """The routes ``_told_about`` decides; high for a child with additional needs."""
    severities = (Severity.MEDIUM, Severity.HIGH)
    return (
        gp_route(rule, when, "the child's GP, with the rate and counts", severities),
        Route(f"{rule}.health", when, "the child's health visiting or school nursing team",
              NoticeType.HEALTH_VISITING, ContactRole.SAFEGUARDING_LEAD, severities),
        Route(f"{rule}.plan_lead", f"{when}, the child on an open plan",
              "the plan's lead professional", NoticeType.PLAN_OWNER,
              ContactRole.SAFEGUARDING_LEAD, severities),
    )  # fmt: skip


_DEFAULT = Thresholds()  # the table states the defaults; a partnership may set its own


def pattern_routes(counted: str = "") -> tuple[Route, ...]:
    """The routes the pattern decides; ``counted`` says first what else counted as a booking
    (for a rule that records one, ``booking_of``)."""
    return (
        *_told_about_routes(RULE, f"{counted}a child brought to under "
                                  f"{_DEFAULT.wnb_min_attendance_rate:.0%} of at least "
                                  f"{_DEFAULT.wnb_min_booked} appointments in "
                                  f"{_DEFAULT.wnb_window.days} days (judged on every outcome; "
                                  "again at each miss; a parent's cancellations count as "
                                  f"misses from the {ordinal(_DEFAULT.wnb_cancellations_in_a_row)}"
                                  " in a row; high: the child has SEND or an EHCP, or a "
                                  "parent a learning disability)"),
        *_told_about_routes(SIBLINGS, f"{counted}brothers and sisters together below that "
                                      "rate: each child not brought at least once (high: "
                                      "the child has SEND or an EHCP, or a parent a learning "
                                      "disability)"),
    )  # fmt: skip


NOT_BROUGHT = Rule(AppointmentOutcome, route_not_brought, pattern_routes())
