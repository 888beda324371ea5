"""Deadlines: school session starts (stale calendars included), working hours at the front
door, working days for GP, health visiting and agency notices, real time out of hours."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.rules.deadlines import (
    LONGEST_HOLIDAY_DAYS,
    WORKING_DAY_TYPES,
    SchoolCalendar,
    WorkingHours,
    add_working_hours,
    deadline_for,
    is_bank_holiday,
    is_working_day,
    is_working_time,
    next_session_start,
    working_days_in,
)
from schemas.notices import NoticeType, Severity

LONDON = ZoneInfo("Europe/London")
TERMS = ((date(2027, 4, 12), date(2027, 5, 28)), (date(2027, 6, 7), date(2027, 7, 21)))
ENGLAND = SchoolCalendar()


def london(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)  # type: ignore[misc]


def school(received: datetime, calendar: SchoolCalendar = ENGLAND) -> datetime:
    return deadline_for(NoticeType.SCHOOL_SUPPORT, Severity.HIGH, received, calendar)


class TestSchoolDeadline:
    @pytest.mark.parametrize(
        ("received", "due"),
        [
            (london(2027, 1, 15, 19, 0), london(2027, 1, 18, 8, 45)),  # Friday evening
            (london(2027, 1, 16, 11, 0), london(2027, 1, 18, 8, 45)),  # Saturday
            (london(2027, 1, 17, 23, 59), london(2027, 1, 18, 8, 45)),  # Sunday night
            (london(2027, 1, 13, 7, 30), london(2027, 1, 13, 8, 45)),  # Wednesday early
            (london(2027, 1, 13, 8, 45), london(2027, 1, 14, 8, 45)),  # at session start
            (london(2027, 1, 13, 12, 0), london(2027, 1, 14, 8, 45)),  # Wednesday midday
        ],
        ids=["friday-evening", "saturday", "sunday-night", "before-start", "at-start", "midday"],
    )
    def test_next_session_start(self, received: datetime, due: datetime) -> None:
        """The deadline is the next school day's session start after receipt."""
        assert school(received) == due

    def test_bank_holiday_monday_is_skipped(self) -> None:
        """Friday before the Early May bank holiday (3 May 2027) is due on Tuesday."""
        assert is_bank_holiday(date(2027, 5, 3))
        assert school(london(2027, 4, 30, 18, 0)) == london(2027, 5, 4, 8, 45)

    def test_christmas_is_skipped(self) -> None:
        """Christmas Eve 2027 evening is due after Christmas, Boxing Day and their substitutes."""
        assert school(london(2027, 12, 24, 18, 0)) == london(2027, 12, 29, 8, 45)

    def test_holiday_outside_term_is_skipped(self) -> None:
        """Received at the end of half-term's last school day: due on the next term's first day."""
        calendar = SchoolCalendar(terms=TERMS)
        assert school(london(2027, 5, 28, 18, 0), calendar) == london(2027, 6, 7, 8, 45)

    def test_in_term_weekday_counts(self) -> None:
        """Inside a term an ordinary weekday is a school day."""
        calendar = SchoolCalendar(terms=TERMS)
        assert school(london(2027, 6, 8, 12, 0), calendar) == london(2027, 6, 9, 8, 45)

    def test_school_own_session_start(self) -> None:
        """A school whose session starts at 08:30 is due at 08:30."""
        calendar = SchoolCalendar(session_start=time(8, 30))
        assert school(london(2027, 1, 15, 19, 0), calendar) == london(2027, 1, 18, 8, 30)

    @pytest.mark.parametrize(
        ("received", "utc"),
        [
            (datetime(2027, 7, 2, 18, 0, tzinfo=UTC), datetime(2027, 7, 5, 7, 45, tzinfo=UTC)),
            (datetime(2027, 1, 15, 18, 0, tzinfo=UTC), datetime(2027, 1, 18, 8, 45, tzinfo=UTC)),
        ],
        ids=["summer-bst", "winter-gmt"],
    )
    def test_session_start_is_london_time(self, received: datetime, utc: datetime) -> None:
        """08:45 in London is 07:45 UTC in summer and 08:45 UTC in winter."""
        assert school(received).astimezone(UTC) == utc

    def test_late_utc_evening_is_already_the_next_london_day(self) -> None:
        """23:30 UTC on a summer Sunday is 00:30 BST Monday: due at Monday's session start."""
        received = datetime(2027, 7, 4, 23, 30, tzinfo=UTC)
        assert school(received) == london(2027, 7, 5, 8, 45)


OLD_TERMS = ((date(2020, 1, 6), date(2020, 2, 7)),)


class TestStaleSchoolCalendar:
    @pytest.mark.parametrize(
        ("terms", "on", "stale"),
        [
            (OLD_TERMS, date(2027, 1, 15), True),
            (TERMS, date(2027, 7, 21), False),
            (TERMS, date(2027, 7, 22), True),
            (TERMS, date(2027, 1, 15), False),
            ((), date(2027, 1, 15), False),
        ],
        ids=["all-ended", "last-day-of-last-term", "day-after-last-term", "terms-ahead", "none"],
    )
    def test_is_stale(self, terms: tuple[tuple[date, date], ...], on: date, stale: bool) -> None:
        """A calendar is stale when it has terms and every one has ended before the day."""
        assert SchoolCalendar(terms=terms).is_stale(on) is stale

    def test_stale_calendar_is_due_the_next_weekday_session_start(self) -> None:
        """Terms that all ended in 2020: a Friday evening notice is due at Monday's session."""
        calendar = SchoolCalendar(terms=OLD_TERMS)
        assert school(london(2027, 1, 15, 19, 0), calendar) == london(2027, 1, 18, 8, 45)

    def test_stale_calendar_still_skips_bank_holidays(self) -> None:
        """Ignoring stale terms does not ignore the Early May bank holiday."""
        calendar = SchoolCalendar(terms=OLD_TERMS, session_start=time(8, 30))
        assert school(london(2027, 4, 30, 18, 0), calendar) == london(2027, 5, 4, 8, 30)

    def test_stale_calendar_makes_every_weekday_a_school_day(self) -> None:
        """Once the terms have run out, a weekday outside any term counts as a school day."""
        calendar = SchoolCalendar(terms=TERMS)
        assert calendar.is_school_day(date(2027, 7, 23))
        assert not calendar.is_school_day(date(2027, 7, 24))  # a Saturday

    def test_day_after_the_last_term_ends(self) -> None:
        """Received on the last day of the last known term: due the next weekday."""
        calendar = SchoolCalendar(terms=TERMS)
        assert school(london(2027, 7, 21, 18, 0), calendar) == london(2027, 7, 22, 8, 45)

    def test_summer_holiday_is_believed(self) -> None:
        """A six-week summer holiday before a known autumn term is a real holiday."""
        calendar = SchoolCalendar(terms=(*TERMS, (date(2027, 9, 2), date(2027, 10, 22))))
        assert school(london(2027, 7, 21, 18, 0), calendar) == london(2027, 9, 2, 8, 45)

    def test_gap_longer_than_any_holiday_is_not_believed(self) -> None:
        """A next term two years away is wrong data: the next weekday session stands."""
        calendar = SchoolCalendar(
            terms=((date(2027, 1, 4), date(2027, 1, 8)), (date(2029, 1, 8), date(2029, 3, 1)))
        )
        assert not calendar.is_stale(date(2027, 1, 9))
        assert school(london(2027, 1, 8, 18, 0), calendar) == london(2027, 1, 11, 8, 45)


class TestBankHolidays:
    def test_st_davids_day_is_not_a_welsh_bank_holiday(self) -> None:
        """1 March is not a bank holiday in Wales (St David's Day is not a public holiday)."""
        assert not is_bank_holiday(date(2027, 3, 1), "WLS")

    def test_england_and_wales_share_bank_holidays(self) -> None:
        """England and Wales have the same bank holidays in 2026-2030."""
        # The holidays package has no date where they differ (checked 1950-2100), so there is
        # no England-versus-Wales deadline case to test; Scotland below shows nation is used.
        days = [date(2026, 1, 1) + timedelta(days=i) for i in range(365 * 5)]
        assert [d for d in days if is_bank_holiday(d, "ENG") != is_bank_holiday(d, "WLS")] == []

    def test_the_schools_nation_decides_the_holidays(self) -> None:
        """The calendar's nation is honoured: 2 January is a holiday in Scotland, not England."""
        received = london(2029, 1, 1, 18, 0)  # New Year's Day, Monday
        assert school(received) == london(2029, 1, 2, 8, 45)
        assert school(received, SchoolCalendar(nation="SCT")) == london(2029, 1, 3, 8, 45)


class TestFrontDoorDeadline:
    @pytest.mark.parametrize(
        ("severity", "received", "due"),
        [
            (Severity.HIGH, london(2027, 1, 15, 15, 0), london(2027, 1, 18, 11, 0)),
            (Severity.HIGH, london(2027, 1, 13, 10, 0), london(2027, 1, 13, 14, 0)),
            (Severity.HIGH, london(2027, 1, 13, 7, 0), london(2027, 1, 13, 13, 0)),
            (Severity.HIGH, london(2027, 1, 16, 3, 0), london(2027, 1, 18, 13, 0)),
            (Severity.HIGH, london(2027, 4, 30, 15, 0), london(2027, 5, 4, 11, 0)),
            (Severity.MEDIUM, london(2027, 1, 15, 15, 0), london(2027, 1, 20, 15, 0)),
            (Severity.LOW, london(2027, 1, 15, 15, 0), london(2027, 1, 18, 15, 0)),
        ],
        ids=[
            "high-friday-afternoon",
            "high-midweek",
            "high-before-opening",
            "high-saturday",
            "high-over-bank-holiday",
            "medium-24-working-hours",
            "low-72-hours",
        ],
    )
    def test_by_severity(self, severity: Severity, received: datetime, due: datetime) -> None:
        """HIGH is 4 working hours, MEDIUM 24 working hours, LOW 72 hours."""
        assert deadline_for(NoticeType.FRONT_DOOR_REFERRAL, severity, received) == due


class TestOtherDeadlines:
    @pytest.mark.parametrize(
        ("received", "due"),
        [
            (london(2027, 1, 15, 15, 0), london(2027, 1, 18, 15, 0)),
            (london(2027, 1, 16, 12, 0), london(2027, 1, 18, 17, 0)),
            (london(2027, 4, 30, 15, 0), london(2027, 5, 4, 15, 0)),
        ],
        ids=["friday-afternoon", "saturday", "over-bank-holiday"],
    )
    def test_transfer_is_one_working_day(self, received: datetime, due: datetime) -> None:
        """A transfer is due eight working hours after receipt."""
        assert deadline_for(NoticeType.TRANSFER, Severity.HIGH, received) == due

    def test_working_hours_span_several_days(self) -> None:
        """Forty working hours from Monday 09:00 end on Friday 17:00."""
        assert add_working_hours(london(2027, 1, 11, 9, 0), 40) == london(2027, 1, 15, 17, 0)


def gp(received: datetime, nation: str = "ENG", **periods: float) -> datetime:
    configured = {NoticeType(kind): timedelta(hours=h) for kind, h in periods.items()}
    return deadline_for(
        NoticeType.GP_INFORMATION, Severity.MEDIUM, received, nation=nation,
        periods={NoticeType.GP_INFORMATION: timedelta(hours=72), **configured},
    )  # fmt: skip


class TestWorkingDayDeadlines:
    """GP, health visiting and agency notices count the recipient's working days, due at the
    close of its working day (17:00 London); the day of receipt is day zero."""

    @pytest.mark.parametrize(
        ("received", "due"),
        [
            (london(2027, 1, 15, 19, 30), london(2027, 1, 20, 17, 0)),
            (london(2027, 1, 11, 10, 0), london(2027, 1, 14, 17, 0)),
            (london(2027, 1, 17, 23, 30), london(2027, 1, 20, 17, 0)),
            (london(2027, 4, 30, 15, 0), london(2027, 5, 6, 17, 0)),
            (london(2027, 3, 25, 12, 0), london(2027, 4, 1, 17, 0)),
            (london(2027, 12, 23, 12, 0), london(2027, 12, 30, 17, 0)),
        ],
        ids=[
            "friday-evening",
            "monday-morning",
            "sunday-night",
            "before-early-may-bank-holiday",
            "over-easter-and-the-clocks",
            "over-christmas",
        ],
    )
    def test_three_working_days_by_default(self, received: datetime, due: datetime) -> None:
        """The default 72 hours are three working days, skipping weekends and bank holidays."""
        assert gp(received) == due

    @pytest.mark.parametrize(
        ("received", "due"),
        [
            (london(2027, 1, 15, 19, 30), london(2027, 1, 18, 17, 0)),
            (london(2027, 1, 18, 7, 0), london(2027, 1, 19, 17, 0)),
            (london(2027, 3, 25, 18, 0), london(2027, 3, 30, 17, 0)),
            (london(2027, 5, 28, 19, 30), london(2027, 6, 1, 17, 0)),
        ],
        ids=["friday-evening", "monday-early", "before-good-friday", "before-spring-bank-holiday"],
    )
    def test_one_working_day_configured_as_24_hours(
        self, received: datetime, due: datetime
    ) -> None:
        """A partnership's 24 hours are one working day: a Friday 19:30 notice is due on
        Monday at 17:00, never on Saturday night."""
        assert gp(received, gp_information=24) == due

    @pytest.mark.parametrize(
        ("received", "nation", "due"),
        [
            (london(2027, 3, 25, 18, 0), "WLS", london(2027, 3, 30, 17, 0)),
            (london(2027, 3, 25, 18, 0), "SCT", london(2027, 3, 29, 17, 0)),
            (london(2027, 8, 27, 18, 0), "WLS", london(2027, 8, 31, 17, 0)),
            (london(2027, 8, 27, 18, 0), "SCT", london(2027, 8, 30, 17, 0)),
            (london(2027, 7, 30, 18, 0), "WLS", london(2027, 8, 2, 17, 0)),
            (london(2027, 7, 30, 18, 0), "SCT", london(2027, 8, 3, 17, 0)),
        ],
        ids=[
            "wales-easter-monday",
            "scotland-no-easter-monday",
            "wales-late-summer-bank-holiday",
            "scotland-works-late-august",
            "wales-works-early-august",
            "scotland-early-summer-bank-holiday",
        ],
    )
    def test_bank_holidays_of_the_recipients_nation(
        self, received: datetime, nation: str, due: datetime
    ) -> None:
        """A Welsh practice does not work on Wales's bank holidays; the nation is honoured
        (Scotland, whose bank holidays differ, shows it)."""
        assert gp(received, nation, gp_information=24) == due

    # The education safeguarding officer's one working day: test_rules_education.py.
    @pytest.mark.parametrize(
        "notice_type", sorted(WORKING_DAY_TYPES - {NoticeType.EDUCATION_SAFEGUARDING})
    )
    def test_health_visiting_and_agency_too(self, notice_type: NoticeType) -> None:
        """All three types count working days: a Friday evening notice is due on Wednesday."""
        received = london(2027, 1, 15, 19, 30)
        assert deadline_for(notice_type, Severity.LOW, received) == london(2027, 1, 20, 17, 0)

    def test_close_of_the_recipients_own_working_day(self) -> None:
        """A practice open until 18:30 is due at 18:30."""
        hours = WorkingHours(time(8, 0), time(18, 30))
        due = deadline_for(NoticeType.GP_INFORMATION, Severity.LOW, london(2027, 1, 15, 19, 30),
                           hours=hours)  # fmt: skip
        assert due == london(2027, 1, 20, 18, 30)

    @pytest.mark.parametrize(
        ("hours", "days"),
        [(24, 1), (25, 2), (36, 2), (48, 2), (72, 3), (120, 5), (6, None), (23.5, None)],
    )
    def test_configured_hours_in_working_days(self, hours: float, days: int | None) -> None:
        """24 hours are one working day, rounded up; under a day stays real time (None)."""
        assert working_days_in(timedelta(hours=hours)) == days

    def test_a_period_under_a_day_is_real_time(self) -> None:
        """A partnership that sets 6 hours asks for urgency: 6 real hours, day or night."""
        received = london(2027, 1, 15, 19, 30)
        assert gp(received, gp_information=6) == received + timedelta(hours=6)


class TestOutOfHoursDeadline:
    @pytest.mark.parametrize(
        "received",
        [london(2027, 1, 15, 19, 30), london(2027, 1, 16, 3, 0), london(2027, 12, 25, 12, 0)],
        ids=["friday-evening", "saturday-night", "christmas-day"],
    )
    def test_one_real_hour(self, received: datetime) -> None:
        """The emergency duty team acts at night: one real hour, whatever the day."""
        due = deadline_for(NoticeType.OUT_OF_HOURS, Severity.HIGH, received)
        assert due == received + timedelta(hours=1)

    def test_a_configured_day_stays_real_time(self) -> None:
        """24 hours for the emergency duty team are 24 real hours, not a working day."""
        received = london(2027, 1, 15, 19, 30)
        periods = {NoticeType.OUT_OF_HOURS: timedelta(hours=24)}
        due = deadline_for(NoticeType.OUT_OF_HOURS, Severity.HIGH, received, periods=periods)
        assert due == london(2027, 1, 16, 19, 30)


EARLY = WorkingHours(time(8, 0), time(18, 0))


class TestWorkingHours:
    def test_default_is_nine_to_five(self) -> None:
        """Unless told otherwise an office works 09:00-17:00, eight hours."""
        assert WorkingHours() == WorkingHours(time(9, 0), time(17, 0))
        assert WorkingHours().length == timedelta(hours=8)

    def test_closing_before_opening_is_refused(self) -> None:
        """A working day that closes before it opens is a mistake in the record."""
        with pytest.raises(ValueError, match="close after it opens"):
            WorkingHours(time(17, 0), time(9, 0))

    @pytest.mark.parametrize(
        ("at", "hours", "nation", "working"),
        [
            (london(2027, 1, 11, 9, 0), WorkingHours(), "ENG", True),
            (london(2027, 1, 11, 8, 59), WorkingHours(), "ENG", False),
            (london(2027, 1, 11, 16, 59), WorkingHours(), "ENG", True),
            (london(2027, 1, 11, 17, 0), WorkingHours(), "ENG", False),
            (london(2027, 1, 16, 12, 0), WorkingHours(), "ENG", False),
            (london(2027, 5, 3, 12, 0), WorkingHours(), "ENG", False),
            (london(2027, 3, 29, 12, 0), WorkingHours(), "WLS", False),
            (london(2027, 3, 29, 12, 0), WorkingHours(), "SCT", True),
            (london(2027, 1, 11, 8, 30), EARLY, "ENG", True),
            (london(2027, 1, 11, 17, 30), EARLY, "ENG", True),
            (datetime(2027, 7, 5, 8, 30, tzinfo=UTC), WorkingHours(), "ENG", True),
            (datetime(2027, 7, 5, 16, 30, tzinfo=UTC), WorkingHours(), "ENG", False),
        ],
        ids=[
            "opening",
            "before-opening",
            "before-closing",
            "closing",
            "saturday",
            "bank-holiday",
            "welsh-easter-monday",
            "scottish-easter-monday",
            "early-opener",
            "late-closer",
            "utc-in-summer-is-09-30",
            "utc-in-summer-is-17-30",
        ],
    )
    def test_is_working_time(
        self, at: datetime, hours: WorkingHours, nation: str, working: bool
    ) -> None:
        """Working time: a weekday, not a bank holiday of the nation, within hours, London."""
        assert is_working_time(at, hours, nation) is working

    def test_add_working_hours_within_the_recipients_hours(self) -> None:
        """Four working hours from Friday 16:00 at an 08:00-18:00 office end Monday 10:00."""
        due = add_working_hours(london(2027, 1, 15, 16, 0), 4, working=EARLY)
        assert due == london(2027, 1, 18, 10, 0)

    def test_front_door_counts_its_own_hours(self) -> None:
        """A high-severity referral on Friday 15:00 to an 08:00-18:00 front door: Monday 09:00."""
        received = london(2027, 1, 15, 15, 0)
        due = deadline_for(NoticeType.FRONT_DOOR_REFERRAL, Severity.HIGH, received, hours=EARLY)
        assert due == london(2027, 1, 18, 9, 0)

    def test_transfer_is_one_of_the_recipients_working_days(self) -> None:
        """Received before an 08:00-18:00 office opens: due when that day closes."""
        received = london(2027, 1, 13, 6, 0)
        assert deadline_for(NoticeType.TRANSFER, Severity.HIGH, received) == london(
            2027, 1, 13, 17, 0
        )
        assert deadline_for(NoticeType.TRANSFER, Severity.HIGH, received, hours=EARLY) == london(
            2027, 1, 13, 18, 0
        )


class TestDeadlinesAcrossDaylightSaving:
    @pytest.mark.parametrize(
        ("notice_type", "severity"),
        [
            (NoticeType.FRONT_DOOR_REFERRAL, Severity.LOW),
            (NoticeType.GP_INFORMATION, Severity.MEDIUM),
            (NoticeType.FRONT_DOOR_REFERRAL, Severity.HIGH),
            (NoticeType.SCHOOL_SUPPORT, Severity.HIGH),
        ],
    )
    def test_same_instant_same_deadline(self, notice_type: NoticeType, severity: Severity) -> None:
        """A receipt time gives the same deadline whether given in UTC or London time."""
        received = london(2027, 3, 26, 12, 0)  # Friday before the clocks go forward
        as_utc = received.astimezone(UTC)
        assert deadline_for(notice_type, severity, received) == deadline_for(
            notice_type, severity, as_utc
        )


received_times = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)
term_dates = st.dates(min_value=date(2018, 1, 1), max_value=date(2033, 12, 31))


class TestDeadlineProperties:
    @settings(max_examples=200, deadline=None)
    @given(
        received=received_times,
        notice_type=st.sampled_from(list(NoticeType)),
        severity=st.sampled_from(list(Severity)),
    )
    def test_deadline_is_after_receipt(
        self, received: datetime, notice_type: NoticeType, severity: Severity
    ) -> None:
        """Every deadline falls after the time the event was received."""
        assert deadline_for(notice_type, severity, received) > received

    @settings(max_examples=200, deadline=None)
    @given(received=received_times, nation=st.sampled_from(["ENG", "WLS"]))
    def test_school_deadline_is_next_school_day_session_start(
        self, received: datetime, nation: str
    ) -> None:
        """A school deadline is a school day's session start, with none missed in between."""
        calendar = SchoolCalendar(nation=nation)
        due = school(received, calendar).astimezone(LONDON)
        assert calendar.is_school_day(due.date())
        assert due.timetz().replace(tzinfo=None) == calendar.session_start
        local = received.astimezone(LONDON)
        day = local.date()
        while day < due.date():
            start = datetime.combine(day, calendar.session_start, LONDON)
            assert not (calendar.is_school_day(day) and start > local)
            day += timedelta(days=1)

    @settings(max_examples=200, deadline=None)
    @given(received=received_times, hours=st.integers(1, 40))
    def test_working_hours_end_inside_a_working_day(self, received: datetime, hours: int) -> None:
        """Adding working hours lands on a weekday, not a bank holiday, within 09:00-17:00."""
        due = add_working_hours(received, hours).astimezone(LONDON)
        assert due.weekday() < 5
        assert not is_bank_holiday(due.date())
        assert time(9, 0) < due.time() <= time(17, 0)

    @settings(max_examples=200, deadline=None)
    @given(
        received=received_times,
        notice_type=st.sampled_from(sorted(WORKING_DAY_TYPES)),
        nation=st.sampled_from(["ENG", "WLS"]),
        days=st.integers(1, 10),
    )
    def test_working_day_deadline_is_a_working_days_close(
        self, received: datetime, notice_type: NoticeType, nation: str, days: int
    ) -> None:
        """A GP, health visiting or agency deadline is after receipt, at 17:00 on a working day
        (never a weekend or a bank holiday), with exactly the configured working days after
        the day of receipt."""
        periods = {notice_type: timedelta(days=days)}
        due = deadline_for(notice_type, Severity.MEDIUM, received, nation=nation, periods=periods)
        local = due.astimezone(LONDON)
        assert due > received
        assert local.weekday() < 5
        assert not is_bank_holiday(local.date(), nation)
        assert local.time() == time(17, 0)
        first = received.astimezone(LONDON).date() + timedelta(days=1)
        between = [first + timedelta(days=i) for i in range((local.date() - first).days + 1)]
        assert sum(is_working_day(d, nation) for d in between) == days

    @settings(max_examples=300, deadline=None)
    @given(
        received=received_times,
        terms=st.lists(st.tuples(term_dates, term_dates), max_size=8),
        nation=st.sampled_from(["ENG", "WLS"]),
    )
    def test_any_calendar_gives_a_session_within_weeks(
        self, received: datetime, terms: list[tuple[date, date]], nation: str
    ) -> None:
        """For any term dates (stale, gapped, reversed) a school deadline is found, after
        receipt and within the longest school holiday: routing never fails on a calendar."""
        calendar = SchoolCalendar(terms=tuple(terms), nation=nation)
        due = next_session_start(received, calendar)
        assert received < due <= received + timedelta(days=LONGEST_HOLIDAY_DAYS + 1)

    @settings(max_examples=200, deadline=None)
    @given(received=received_times, ends_before=st.integers(1, 3000))
    def test_stale_calendar_is_a_calendar_without_terms(
        self, received: datetime, ends_before: int
    ) -> None:
        """Terms that have all ended count for nothing: the deadline is as with no terms."""
        end = received.astimezone(LONDON).date() - timedelta(days=ends_before)
        stale = SchoolCalendar(terms=((end - timedelta(days=40), end),))
        assert stale.is_stale(received.astimezone(LONDON).date())
        assert school(received, stale) == school(received)


class TestNextDigest:
    """The daily digest of low-severity notices is released at 07:00 London time."""

    @pytest.mark.parametrize(
        ("received", "released"),
        [
            ("2027-05-10T14:00:00+00:00", "2027-05-11T07:00:00+01:00"),
            ("2027-05-10T05:00:00+00:00", "2027-05-10T07:00:00+01:00"),
            ("2027-01-10T07:00:00+00:00", "2027-01-11T07:00:00+00:00"),
            ("2027-03-27T12:00:00+00:00", "2027-03-28T07:00:00+01:00"),
        ],
    )
    def test_release_time(self, received: str, released: str) -> None:
        """The next 07:00 in London after receipt, across the change of the clocks."""
        from broker.rules.deadlines import next_digest

        assert next_digest(datetime.fromisoformat(received)) == datetime.fromisoformat(released)


class TestDigestHold:
    """Only a low-severity notice to a recipient who takes a daily digest waits for it."""

    RECEIVED = datetime(2027, 5, 10, 14, 0, tzinfo=UTC)

    def test_low_severity_waits_for_the_digest(self) -> None:
        """A low-severity notice is held until the next 07:00 London release."""
        from broker.rules.deadlines import digest_hold

        held = digest_hold(self.RECEIVED, daily_digest=True, severity=Severity.LOW)
        assert held == datetime.fromisoformat("2027-05-11T07:00:00+01:00")

    @pytest.mark.parametrize("severity", [Severity.MEDIUM, Severity.HIGH])
    def test_nothing_else_is_held(self, severity: Severity) -> None:
        """A medium or high-severity notice is never held back, digest or not."""
        from broker.rules.deadlines import digest_hold

        assert digest_hold(self.RECEIVED, daily_digest=True, severity=severity) is None

    def test_no_digest_no_hold(self) -> None:
        """A recipient who takes no digest has even its low-severity notices at once."""
        from broker.rules.deadlines import digest_hold

        assert digest_hold(self.RECEIVED, daily_digest=False, severity=Severity.LOW) is None
