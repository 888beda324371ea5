"""When each notice must be acknowledged. Pure: the time of receipt comes in as an argument.

School notices: the school's session start on its next school day (weekends, bank holidays of
England or Wales, and the school's term dates; a calendar whose terms have all ended is
ignored, so a stale record never stops routing). Front door by severity: 4 working hours,
24 working hours, 72 hours. Transfers: one working day. GP, health visiting and agency
notices: a period set by the partnership, counted in the recipient's working days and due at
the close of its working day. Out of hours: a period of real time, day and night.
"""

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import holidays

from schemas.notices import NoticeType, Severity

LONDON = ZoneInfo("Europe/London")
WORKDAY_START, WORKDAY_END = time(9, 0), time(17, 0)
FRONT_DOOR_WORKING_HOURS = {Severity.HIGH: 4, Severity.MEDIUM: 24}
FRONT_DOOR_LOW = timedelta(hours=72)
# The partnership's periods (settings: SGB_ROUTING__DEADLINE_HOURS). For the working-day types
# below, 24 hours stand for one working day; see working_days_in.
OTHER_PERIODS: Mapping[NoticeType, timedelta] = {
    NoticeType.GP_INFORMATION: timedelta(hours=72),
    NoticeType.HEALTH_VISITING: timedelta(hours=72),
    NoticeType.AGENCY_INFORMATION: timedelta(hours=72),
    NoticeType.OUTCOME: timedelta(hours=72),
    # Out of hours the emergency duty team acts now, in real time: no working hours apply.
    NoticeType.OUT_OF_HOURS: timedelta(hours=1),
    # A child missing education or leaving school: the officer starts enquiries by the close of
    # its next working day (the school's own deletion notice allows the authority no longer).
    NoticeType.EDUCATION_SAFEGUARDING: timedelta(hours=24),
}
# "GP, health visiting and agency deadlines count the recipient's working days" (second
# edition): never due on a Sunday night or a bank holiday.
WORKING_DAY_TYPES = frozenset(
    {NoticeType.GP_INFORMATION, NoticeType.HEALTH_VISITING, NoticeType.AGENCY_INFORMATION,
     NoticeType.OUTCOME, NoticeType.EDUCATION_SAFEGUARDING}
)  # fmt: skip
# No school holiday in the UK is longer (Northern Ireland's summer is eight and a half weeks):
# term dates showing no school day for longer than this are wrong, and are not believed.
LONGEST_HOLIDAY_DAYS = 70


@dataclass(frozen=True)
class WorkingHours:
    """When a recipient's office is staffed on its working days, London time."""

    opens: time = WORKDAY_START
    closes: time = WORKDAY_END

    def __post_init__(self) -> None:
        if not self.opens < self.closes:
            raise ValueError("a working day must close after it opens")

    @property
    def length(self) -> timedelta:
        return datetime.combine(date.min, self.closes) - datetime.combine(date.min, self.opens)


OFFICE_HOURS = WorkingHours()


@cache
def _bank_holidays(nation: str, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("GB", subdiv=nation, years=year))


def is_bank_holiday(day: date, nation: str = "ENG") -> bool:
    return day in _bank_holidays(nation, day.year)


def nation_of(area: str | None) -> str:
    """Bank holidays follow the nation: ONS area codes for Wales start with W."""
    return "WLS" if area and area.startswith("W") else "ENG"


def is_working_day(day: date, nation: str = "ENG") -> bool:
    return day.weekday() < 5 and not is_bank_holiday(day, nation)


def is_working_time(at: datetime, hours: WorkingHours = OFFICE_HOURS, nation: str = "ENG") -> bool:
    """Whether the office is open at this moment: a working day of its nation, within its
    hours, London time."""
    local = at.astimezone(LONDON)
    return is_working_day(local.date(), nation) and hours.opens <= local.time() < hours.closes


@dataclass(frozen=True)
class SchoolCalendar:
    """A school's day: when its session starts, and its terms (empty: every weekday)."""

    session_start: time = time(8, 45)
    terms: tuple[tuple[date, date], ...] = field(default=())
    nation: str = "ENG"

    def is_stale(self, on: date) -> bool:
        """The school has term dates and every one of them has ended before this day: its
        record needs new dates (a data-quality alert), and meanwhile every weekday counts."""
        return bool(self.terms) and all(end < on for _, end in self.terms)

    def is_school_day(self, day: date) -> bool:
        if not is_working_day(day, self.nation):
            return False
        if not self.terms or self.is_stale(day):
            return True
        return any(start <= day <= end for start, end in self.terms)


def next_session_start(received_at: datetime, calendar: SchoolCalendar) -> datetime:
    """The start of the first school session after receipt, in London time. Term dates that
    show no school day for longer than any school holiday are not believed: the next weekday
    (not a bank holiday) stands instead, as for a stale calendar. Never raises."""
    local = received_at.astimezone(LONDON)
    for believed in (calendar, replace(calendar, terms=())):
        start = _first_session(local, believed)
        if start is not None:
            return start
    # Not reached (bank holidays never fill ten weeks); still a moment after receipt.
    return datetime.combine(local.date() + timedelta(days=1), calendar.session_start, LONDON)


def _first_session(local: datetime, calendar: SchoolCalendar) -> datetime | None:
    for offset in range(LONGEST_HOLIDAY_DAYS + 1):
        day = local.date() + timedelta(days=offset)
        start = datetime.combine(day, calendar.session_start, LONDON)
        if calendar.is_school_day(day) and start > local:
            return start
    return None


DIGEST_TIME = time(7, 0)


def next_digest(received_at: datetime) -> datetime:
    """When a recipient's daily digest of low-severity notices is next released: 07:00 London."""
    local = received_at.astimezone(LONDON)
    today = datetime.combine(local.date(), DIGEST_TIME, LONDON)
    return (
        today
        if today > local
        else datetime.combine(local.date() + timedelta(days=1), DIGEST_TIME, LONDON)
    )


def digest_hold(received_at: datetime, daily_digest: bool, severity: Severity) -> datetime | None:
    """Until when a notice is held back: for a recipient who takes a daily digest, a
    low-severity notice waits for its next release (its clock starts then); nothing else is
    held."""
    return next_digest(received_at) if daily_digest and severity is Severity.LOW else None


def add_working_hours(
    start: datetime, hours: float, nation: str = "ENG", working: WorkingHours = OFFICE_HOURS
) -> datetime:
    """Counts only the working hours (09:00-17:00 unless given) of working days, London time."""
    remaining = timedelta(hours=hours)
    moment = start.astimezone(LONDON)
    while True:
        day = moment.date()
        open_at = datetime.combine(day, working.opens, LONDON)
        close_at = datetime.combine(day, working.closes, LONDON)
        if is_working_day(day, nation) and moment < close_at:
            moment = max(moment, open_at)
            if moment + remaining <= close_at:
                return moment + remaining
            remaining -= close_at - moment
        moment = datetime.combine(day + timedelta(days=1), time(0), LONDON)


def close_of_working_days(
    received_at: datetime, days: int, nation: str = "ENG", working: WorkingHours = OFFICE_HOURS
) -> datetime:
    """The close of the recipient's ``days``-th working day after the day of receipt. As in
    statutory working-day periods, the day of receipt is day zero, whatever the hour: a notice
    received on Monday morning or Sunday night with one working day is due on Monday evening
    or Tuesday evening, never on a Sunday night."""
    day = received_at.astimezone(LONDON).date()
    while days > 0:
        day += timedelta(days=1)
        if is_working_day(day, nation):
            days -= 1
    return datetime.combine(day, working.closes, LONDON)


def working_days_in(period: timedelta) -> int | None:
    """A partnership's period for a working-day type, in working days: 24 hours are one
    working day, rounded up (36 hours: two). A period under a day is urgent by the
    partnership's choice and stays real time, day and night (None)."""
    if period < timedelta(days=1):
        return None
    return math.ceil(period / timedelta(days=1))


def elapsed(start: datetime, period: timedelta) -> datetime:
    """Real elapsed time: adding to a London time would add wall-clock hours across a change
    of the clocks, giving two deadlines for one instant."""
    return start.astimezone(UTC) + period


@dataclass(frozen=True)
class DeadlineContext:
    """What a deadline depends on besides the notice: the recipient's school calendar, nation
    and working hours, and the partnership's periods."""

    calendar: SchoolCalendar
    nation: str
    hours: WorkingHours
    periods: Mapping[NoticeType, timedelta]

    def period(self, notice_type: NoticeType) -> timedelta:
        return self.periods.get(notice_type, OTHER_PERIODS[notice_type])


DeadlinePolicy = Callable[[datetime, Severity, DeadlineContext], datetime]


def _front_door(received_at: datetime, severity: Severity, given: DeadlineContext) -> datetime:
    if severity in FRONT_DOOR_WORKING_HOURS:
        hours = FRONT_DOOR_WORKING_HOURS[severity]
        return add_working_hours(received_at, hours, given.nation, given.hours)
    return elapsed(received_at, FRONT_DOOR_LOW)


def _transfer(received_at: datetime, _severity: Severity, given: DeadlineContext) -> datetime:
    one_day = given.hours.length / timedelta(hours=1)  # one of the recipient's working days
    return add_working_hours(received_at, one_day, given.nation, given.hours)


def _in_working_days(notice_type: NoticeType) -> DeadlinePolicy:
    def policy(received_at: datetime, _severity: Severity, given: DeadlineContext) -> datetime:
        period = given.period(notice_type)
        days = working_days_in(period)
        if days is None:
            return elapsed(received_at, period)
        return close_of_working_days(received_at, days, given.nation, given.hours)

    return policy


def _in_real_time(notice_type: NoticeType) -> DeadlinePolicy:
    return lambda received_at, _s, given: elapsed(received_at, given.period(notice_type))


POLICIES: dict[NoticeType, DeadlinePolicy] = {
    NoticeType.SCHOOL_SUPPORT: lambda at, _s, given: next_session_start(at, given.calendar),
    NoticeType.FRONT_DOOR_REFERRAL: _front_door,
    NoticeType.PLAN_OWNER: _front_door,  # a returning concern is as urgent for its owners
    NoticeType.STRATEGY_DISCUSSION: _front_door,  # partners join the front door's discussion
    NoticeType.TRANSFER: _transfer,
    **{kind: _in_working_days(kind) for kind in WORKING_DAY_TYPES},
    NoticeType.OUT_OF_HOURS: _in_real_time(NoticeType.OUT_OF_HOURS),
}


def deadline_for(
    notice_type: NoticeType,
    severity: Severity,
    received_at: datetime,
    calendar: SchoolCalendar = SchoolCalendar(),
    nation: str = "ENG",
    periods: Mapping[NoticeType, timedelta] = OTHER_PERIODS,
    *,
    hours: WorkingHours = OFFICE_HOURS,
) -> datetime:
    """The deadline by the notice type's policy, for a recipient in ``nation`` working
    ``hours``; ``periods`` are the partnership's, per notice type."""
    return POLICIES[notice_type](
        received_at, severity, DeadlineContext(calendar, nation, hours, periods)
    )


def _front_door_words(severity: Severity) -> str:
    if severity in FRONT_DOOR_WORKING_HOURS:
        return f"{severity.value}: {FRONT_DOOR_WORKING_HOURS[severity]} working hours"
    return f"{severity.value}: {FRONT_DOOR_LOW // timedelta(hours=1)} hours"


def _period_words(notice_type: NoticeType) -> str:
    period = OTHER_PERIODS[notice_type]
    if notice_type in WORKING_DAY_TYPES and (days := working_days_in(period)) is not None:
        plural = "" if days == 1 else "s"
        return f"{days} working day{plural}, at the close of the recipient's day"
    hours = period / timedelta(hours=1)
    return f"{hours:g} hour{'' if hours == 1 else 's'}, in real time"


def describe_deadline(notice_type: NoticeType, severities: tuple[Severity, ...]) -> str:
    """The deadline policy of ``POLICIES`` in words, with the partnership's default periods,
    for the who-is-told table."""
    if notice_type is NoticeType.SCHOOL_SUPPORT:
        return "the school's next session start (term dates, weekends, bank holidays)"
    if notice_type is NoticeType.TRANSFER:
        return "one working day"
    if notice_type in (NoticeType.FRONT_DOOR_REFERRAL, NoticeType.PLAN_OWNER,
                       NoticeType.STRATEGY_DISCUSSION):  # fmt: skip
        ordered = sorted(severities, key=list(Severity).index, reverse=True)
        return "; ".join(_front_door_words(s) for s in ordered)
    return _period_words(notice_type)
