"""Deadlines: school session starts, working hours at the front door, fixed periods."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.rules.deadlines import (
    SchoolCalendar,
    add_working_hours,
    deadline_for,
    is_bank_holiday,
    next_session_start,
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

    def test_no_school_day_within_a_year_is_an_error(self) -> None:
        """A calendar whose terms have all ended raises rather than looping for ever."""
        calendar = SchoolCalendar(terms=((date(2020, 1, 6), date(2020, 2, 7)),))
        with pytest.raises(ValueError, match="no school day"):
            next_session_start(london(2027, 1, 15, 19, 0), calendar)

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

    @pytest.mark.parametrize(
        "notice_type",
        [NoticeType.GP_INFORMATION, NoticeType.HEALTH_VISITING, NoticeType.AGENCY_INFORMATION],
    )
    def test_fixed_period_of_72_hours(self, notice_type: NoticeType) -> None:
        """GP, health visiting and agency notices are due 72 hours after receipt."""
        received = datetime(2027, 1, 15, 15, 0, tzinfo=UTC)
        assert deadline_for(notice_type, Severity.LOW, received) == received + timedelta(hours=72)

    def test_working_hours_span_several_days(self) -> None:
        """Forty working hours from Monday 09:00 end on Friday 17:00."""
        assert add_working_hours(london(2027, 1, 11, 9, 0), 40) == london(2027, 1, 15, 17, 0)


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
