"""Out of hours: a high-risk referral to a closed front door also goes to the emergency duty
team at once (domain brief, second edition, "Out of hours")."""

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.rules.deadlines import LONDON, WorkingHours, deadline_for, is_working_time
from broker.rules.family import Addressee, ContactRole, Decision, Family
from broker.rules.out_of_hours import with_out_of_hours
from schemas.notices import NoticeType, Severity
from unit.builders import FRONT_DOOR, OTHER_AREA, OTHER_FRONT_DOOR, child, family, parent

WALES = "W06000015"
WELSH_FRONT_DOOR = "la-cardiff"


def smiths() -> Family:
    fam = family(parent("mum"), child("kid", school="school-oakfield"))
    return replace(fam, front_doors={**fam.front_doors, WALES: WELSH_FRONT_DOOR})


def referral(severity: Severity = Severity.HIGH, door: str = FRONT_DOOR) -> Decision:
    addressee = Addressee(door, ContactRole.DUTY_MANAGER)
    facts: dict[str, str | int | bool] = {"suicidal_ideation": True}
    kind = NoticeType.FRONT_DOOR_REFERRAL
    return Decision(addressee, kind, severity, "crisis.front_door", ("mum", "kid"), facts)


def london(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)  # type: ignore[misc]


def alerts(decisions: list[Decision]) -> list[Decision]:
    return [d for d in decisions if d.notice_type is NoticeType.OUT_OF_HOURS]


class TestWhenTheEmergencyDutyTeamIsTold:
    @pytest.mark.parametrize(
        ("received", "told"),
        [
            (london(2027, 5, 14, 19, 30), True),  # Friday evening
            (london(2027, 5, 15, 11, 0), True),  # Saturday
            (london(2027, 5, 31, 10, 0), True),  # spring bank holiday, mid-morning
            (london(2027, 5, 12, 3, 0), True),  # Wednesday night
            (london(2027, 5, 12, 8, 59), True),  # a minute before the front door opens
            (london(2027, 5, 12, 9, 0), False),  # as it opens
            (london(2027, 5, 12, 16, 59), False),  # a minute before it closes
            (london(2027, 5, 12, 17, 0), True),  # as it closes
        ],
    )
    def test_a_high_referral_outside_office_hours(self, received: datetime, told: bool) -> None:
        """Evenings, nights, weekends and bank holidays: the EDT hears at once."""
        assert bool(alerts(with_out_of_hours([referral()], smiths(), received))) is told

    def test_the_alert_goes_to_the_same_authoritys_team_about_the_same_people(self) -> None:
        """The EDT of the front door's own authority, about whom the referral is, with why."""
        [alert] = alerts(with_out_of_hours([referral()], smiths(), london(2027, 5, 14, 19, 30)))
        assert alert.addressee == Addressee(FRONT_DOOR, ContactRole.EMERGENCY_DUTY)
        assert (alert.severity, alert.about) == (Severity.HIGH, ("mum", "kid"))
        assert alert.rule_id == "crisis.front_door.out_of_hours"
        assert alert.facts["suicidal_ideation"] is True
        assert alert.facts["front_door_closed"] is True

    @pytest.mark.parametrize("severity", [Severity.LOW, Severity.MEDIUM])
    def test_lower_severities_wait_for_the_front_door(self, severity: Severity) -> None:
        """Only high-risk referrals wake the emergency duty team."""
        decisions = [referral(severity)]
        assert with_out_of_hours(decisions, smiths(), london(2027, 5, 14, 19, 30)) == decisions

    def test_other_notices_never_raise_an_alert(self) -> None:
        """A school's or GP's notice is not a referral: no alert, whatever the hour."""
        key_adult = Addressee("school-oakfield", ContactRole.KEY_ADULT)
        kind = NoticeType.SCHOOL_SUPPORT
        school = Decision(key_adult, kind, Severity.HIGH, "crisis.child", ("kid",))
        assert with_out_of_hours([school], smiths(), london(2027, 5, 15, 2, 0)) == [school]

    def test_the_front_doors_own_hours_count(self) -> None:
        """A front door open until 20:00 is open at 19:30, and closed at 20:30."""
        fam = replace(smiths(), working_hours={FRONT_DOOR: WorkingHours(time(8), time(20))})
        assert not alerts(with_out_of_hours([referral()], fam, london(2027, 5, 14, 19, 30)))
        assert alerts(with_out_of_hours([referral()], fam, london(2027, 5, 14, 20, 30)))

    def test_each_front_doors_nation_counts(self) -> None:
        """A front door keeps the bank holidays of its own nation: a Welsh one is closed on
        Easter Monday (a bank holiday in Wales) and open the Tuesday after."""
        easter_monday = london(2027, 3, 29, 11, 0)
        welsh = referral(door=WELSH_FRONT_DOOR)
        assert alerts(with_out_of_hours([welsh], smiths(), easter_monday))
        assert not alerts(with_out_of_hours([welsh], smiths(), london(2027, 3, 30, 11, 0)))

    def test_each_referral_to_a_closed_door_gets_its_own_alert(self) -> None:
        """Two areas' front doors, both closed: both authorities' teams hear."""
        decisions = [referral(), referral(door=OTHER_FRONT_DOOR)]
        fam = replace(smiths(), front_doors={**smiths().front_doors, OTHER_AREA: OTHER_FRONT_DOOR})
        raised = alerts(with_out_of_hours(decisions, fam, london(2027, 5, 15, 9, 0)))
        told = {a.addressee.org_id for a in raised}
        assert told == {FRONT_DOOR, OTHER_FRONT_DOOR}


moments = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)


class TestProperties:
    @given(moments)
    def test_alerted_exactly_when_the_front_door_is_closed(self, at: datetime) -> None:
        """An alert is raised if and only if the moment is outside working time."""
        raised = bool(alerts(with_out_of_hours([referral()], smiths(), at)))
        assert raised is not is_working_time(at)

    @given(moments)
    def test_nothing_is_removed_or_lowered(self, at: datetime) -> None:
        """The front door keeps its referral; alerts only add."""
        decisions = [referral(), referral(Severity.MEDIUM)]
        assert with_out_of_hours(decisions, smiths(), at)[: len(decisions)] == decisions

    @given(moments)
    def test_the_alert_is_due_within_the_hour_in_real_time(self, at: datetime) -> None:
        """The emergency duty team acts now: an hour of real time, day or night."""
        due = deadline_for(NoticeType.OUT_OF_HOURS, Severity.HIGH, at)
        assert due - at == timedelta(hours=1)
