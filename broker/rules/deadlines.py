"""When each notice must be acknowledged. Pure: the time of receipt comes in as an argument.

School notices: the school's session start on its next school day (weekends, bank holidays of
England or Wales, and the school's term dates). Front door by severity: 4 working hours,
24 working hours, 72 hours. Transfers: one working day. Others: a fixed period per type.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import holidays

from schemas.notices import NoticeType, Severity

LONDON = ZoneInfo("Europe/London")
WORKDAY_START, WORKDAY_END = time(9, 0), time(17, 0)
WORKDAY_HOURS = 8
FRONT_DOOR_WORKING_HOURS = {Severity.HIGH: 4, Severity.MEDIUM: 24}
FRONT_DOOR_LOW = timedelta(hours=72)
OTHER_PERIODS: Mapping[NoticeType, timedelta] = {
    NoticeType.GP_INFORMATION: timedelta(hours=72),
    NoticeType.HEALTH_VISITING: timedelta(hours=72),
    NoticeType.AGENCY_INFORMATION: timedelta(hours=72),
    # Out of hours the emergency duty team acts now, in real time: no working hours apply.
    NoticeType.OUT_OF_HOURS: timedelta(hours=1),
}


@dataclass(frozen=True)
class SchoolCalendar:
    """A school's day: when its session starts, and its terms (empty: every weekday)."""

    session_start: time = time(8, 45)
    terms: tuple[tuple[date, date], ...] = field(default=())
    nation: str = "ENG"

    def is_school_day(self, day: date) -> bool:
        if day.weekday() >= 5 or is_bank_holiday(day, self.nation):
            return False
        return not self.terms or any(start <= day <= end for start, end in self.terms)


@cache
def _bank_holidays(nation: str, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("GB", subdiv=nation, years=year))


def is_bank_holiday(day: date, nation: str = "ENG") -> bool:
    return day in _bank_holidays(nation, day.year)


def next_session_start(received_at: datetime, calendar: SchoolCalendar) -> datetime:
    """The start of the first school session after receipt, in London time."""
    local = received_at.astimezone(LONDON)
    day = local.date()
    for _ in range(400):  # a year and a bit: longer than any school holiday
        start = datetime.combine(day, calendar.session_start, LONDON)
        if calendar.is_school_day(day) and start > local:
            return start
        day += timedelta(days=1)
    raise ValueError("the school calendar has no school day within a year")


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


def add_working_hours(start: datetime, hours: float, nation: str = "ENG") -> datetime:
    """Counts only 09:00-17:00 on working days, London time."""
    remaining = timedelta(hours=hours)
    moment = start.astimezone(LONDON)
    while True:
        day = moment.date()
        open_at = datetime.combine(day, WORKDAY_START, LONDON)
        close_at = datetime.combine(day, WORKDAY_END, LONDON)
        working = day.weekday() < 5 and not is_bank_holiday(day, nation)
        if working and moment < close_at:
            moment = max(moment, open_at)
            if moment + remaining <= close_at:
                return moment + remaining
            remaining -= close_at - moment
        moment = datetime.combine(day + timedelta(days=1), time(0), LONDON)


DeadlinePolicy = Callable[[datetime, Severity, SchoolCalendar, str], datetime]


def _front_door(
    received_at: datetime, severity: Severity, _calendar: SchoolCalendar, nation: str
) -> datetime:
    if severity in FRONT_DOOR_WORKING_HOURS:
        return add_working_hours(received_at, FRONT_DOOR_WORKING_HOURS[severity], nation)
    return elapsed(received_at, FRONT_DOOR_LOW)


def elapsed(start: datetime, period: timedelta) -> datetime:
    """Real elapsed time: adding to a London time would add wall-clock hours across a change
    of the clocks, giving two deadlines for one instant."""
    return start.astimezone(UTC) + period


POLICIES: dict[NoticeType, DeadlinePolicy] = {
    NoticeType.SCHOOL_SUPPORT: lambda at, _s, calendar, _n: next_session_start(at, calendar),
    NoticeType.FRONT_DOOR_REFERRAL: _front_door,
    NoticeType.PLAN_OWNER: _front_door,  # a returning concern is as urgent for its owners
    NoticeType.TRANSFER: lambda at, _s, _c, nation: add_working_hours(at, WORKDAY_HOURS, nation),
}


def deadline_for(
    notice_type: NoticeType,
    severity: Severity,
    received_at: datetime,
    calendar: SchoolCalendar = SchoolCalendar(),
    nation: str = "ENG",
    periods: Mapping[NoticeType, timedelta] = OTHER_PERIODS,
) -> datetime:
    """The policy of the notice type where it has one; otherwise a period set by the
    partnership per notice type (``periods``)."""
    if notice_type in POLICIES:
        return POLICIES[notice_type](received_at, severity, calendar, nation)
    return elapsed(received_at, periods.get(notice_type, OTHER_PERIODS[notice_type]))
