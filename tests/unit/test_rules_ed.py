"""Emergency department attendances: serious presentations and frequent attenders."""

from datetime import datetime
from typing import Any

import pytest

from broker.rules.ed_attendance import route_ed_attendance
from broker.rules.family import Addressee, ContactRole, Decision, Family, Member
from broker.rules.history import PersonHistory
from broker.rules.thresholds import Thresholds
from schemas.events import EdAttendance
from schemas.notices import NoticeType, Severity
from unit.builders import (
    AREA,
    FRONT_DOOR,
    ON,
    OTHER_AREA,
    OTHER_FRONT_DOOR,
    child,
    days_before,
    ed_payload,
    event,
    family,
    in_area,
    parent,
)


def attendance(category: str = "other", **recorded: Any) -> EdAttendance:
    parsed = event(ed_payload(presenting_category=category, **recorded))
    assert isinstance(parsed, EdAttendance)
    return parsed


def history(ed: EdAttendance, *earlier_days: int) -> PersonHistory:
    """This attendance plus earlier ones the given number of days before it."""
    return PersonHistory(ed_attendances=(ed.arrived_at, *days_before(ed.arrived_at, *earlier_days)))


def about_child(**kwargs: Any) -> tuple[Family, Member]:
    patient = child("kid", gp="gp-northgate", health_visiting="hv-demo", **kwargs)
    return family(parent("mum", gp="gp-riverside"), patient, subject="kid"), patient


def route(category: str, fam: Family, *earlier_days: int, **recorded: Any) -> list[Decision]:
    ed = attendance(category, **recorded)
    return route_ed_attendance(ed, fam, history(ed, *earlier_days), ON)


def addressees(decisions: list[Decision]) -> set[tuple[str, NoticeType]]:
    return {(d.addressee.org_id, d.notice_type) for d in decisions}


HEALTH_AND_FRONT_DOOR = {
    ("gp-northgate", NoticeType.GP_INFORMATION),
    ("hv-demo", NoticeType.HEALTH_VISITING),
    (FRONT_DOOR, NoticeType.FRONT_DOOR_REFERRAL),
}


class TestSeriousPresentations:
    @pytest.mark.parametrize("years", [0, 2, 4])
    def test_ingestion_under_five(self, years: int) -> None:
        """Ingestion or poisoning under five is HIGH to GP, health team and front door."""
        fam, _ = about_child(years=years, months=3)
        decisions = route("ingestion_or_poisoning", fam)
        assert addressees(decisions) == HEALTH_AND_FRONT_DOOR
        assert {d.severity for d in decisions} == {Severity.HIGH}
        assert {d.rule_id.split(".")[1] for d in decisions} == {"ingestion_under_five"}

    def test_ingestion_at_five_is_not_automatic(self) -> None:
        """A five-year-old's single ingestion attendance raises nothing by itself."""
        fam, _ = about_child(years=5)
        assert route("ingestion_or_poisoning", fam) == []

    @pytest.mark.parametrize("months", [0, 2, 5, 6, 11])
    def test_injury_to_baby_not_yet_mobile_by_age(self, months: int) -> None:
        """Mobility not recorded: any injury under twelve months is HIGH to GP, health team
        and front door."""
        fam, _ = about_child(years=0, months=months)
        decisions = route("injury", fam)
        assert addressees(decisions) == HEALTH_AND_FRONT_DOOR
        assert {d.severity for d in decisions} == {Severity.HIGH}
        assert {d.rule_id.split(".")[1] for d in decisions} == {"injury_not_yet_mobile"}
        assert decisions[0].facts["not_yet_mobile_from"] == "age"

    def test_injury_at_twelve_months_is_not_automatic(self) -> None:
        """Mobility not recorded: a single injury attendance at twelve months raises nothing."""
        fam, _ = about_child(years=1, months=0)
        assert route("injury", fam) == []


class TestNotYetMobile:
    @pytest.mark.parametrize(("years", "months"), [(0, 3), (1, 2), (3, 0)])
    def test_recorded_not_yet_mobile_is_high_at_any_age(self, years: int, months: int) -> None:
        """An injury to a child the attendance records as not yet mobile is HIGH, whatever
        the age: the developmental fact, not the age, decides."""
        fam, _ = about_child(years=years, months=months)
        decisions = route("injury", fam, not_yet_mobile=True)
        assert addressees(decisions) == HEALTH_AND_FRONT_DOOR
        assert {d.severity for d in decisions} == {Severity.HIGH}
        assert {d.rule_id.split(".")[1] for d in decisions} == {"injury_not_yet_mobile"}
        assert decisions[0].facts["not_yet_mobile_from"] == "attendance"

    def test_recorded_mobile_baby_is_not_automatic(self) -> None:
        """A baby the attendance records as already mobile (crawling) is not caught by age."""
        fam, _ = about_child(years=0, months=9)
        assert route("injury", fam, not_yet_mobile=False) == []

    def test_not_yet_mobile_applies_to_injuries_only(self) -> None:
        """A non-mobile baby's 'other' attendance is not an injury to a non-mobile baby."""
        fam, _ = about_child(years=0, months=3)
        assert route("other", fam, not_yet_mobile=True) == []

    def test_front_door_notice_addressed_to_duty_manager(self) -> None:
        """The front door notice goes to the duty manager, about the child."""
        fam, _ = about_child(years=1)
        front = [
            d for d in route("ingestion_or_poisoning", fam) if d.addressee.org_id == FRONT_DOOR
        ]
        assert [(d.addressee, d.about) for d in front] == [
            (Addressee(FRONT_DOOR, ContactRole.DUTY_MANAGER), ("kid",))
        ]


class TestFrequentAttender:
    def test_childs_third_attendance_in_a_year(self) -> None:
        """A child's third attendance within 365 days is a MEDIUM frequent-attender notice."""
        fam, _ = about_child(years=8)
        decisions = route("other", fam, 30, 200)
        assert {d.rule_id for d in decisions} == {
            "ed.frequent_attender.gp",
            "ed.frequent_attender.health",
        }
        assert {d.severity for d in decisions} == {Severity.MEDIUM}
        assert dict(decisions[0].facts) == {"attendances": 3, "window_days": 365, "threshold": 3}

    def test_frequent_attender_does_not_reach_front_door(self) -> None:
        """A MEDIUM frequent-attender notice goes to health, not the front door."""
        fam, _ = about_child(years=8)
        assert FRONT_DOOR not in {d.addressee.org_id for d in route("other", fam, 30, 200)}

    def test_childs_second_attendance(self) -> None:
        """A child's second attendance raises nothing."""
        fam, _ = about_child(years=8)
        assert route("other", fam, 30) == []

    def test_attendances_outside_the_window_do_not_count(self) -> None:
        """Attendances more than 365 days before do not count towards the threshold."""
        fam, _ = about_child(years=8)
        assert route("other", fam, 30, 400) == []

    def test_adults_fifth_attendance(self) -> None:
        """An adult's fifth attendance within a year is a frequent-attender notice."""
        fam = family(parent("mum", gp="gp-riverside"), child("kid", school="school-oakfield"))
        decisions = route("injury", fam, 10, 20, 30, 40)
        assert [(d.addressee.org_id, d.rule_id) for d in decisions] == [
            ("gp-riverside", "ed.frequent_attender.gp")
        ]
        assert decisions[0].facts["threshold"] == 5

    def test_adults_fourth_attendance(self) -> None:
        """An adult's fourth attendance raises nothing."""
        fam = family(parent("mum", gp="gp-riverside"))
        assert route("injury", fam, 10, 20, 30) == []

    def test_thresholds_are_configurable(self) -> None:
        """A partnership's own threshold replaces the default."""
        fam, _ = about_child(years=8)
        ed = attendance()
        decisions = route_ed_attendance(
            ed, fam, history(ed, 30), ON, Thresholds(child_ed_attendances=2)
        )
        assert decisions


class TestParentPresentation:
    @pytest.mark.parametrize("category", ["self_harm", "mental_health"])
    def test_parent_self_harm_is_treated_as_crisis(self, category: str) -> None:
        """A parent's self-harm or mental health presentation tells the children's schools."""
        fam = family(
            parent("mum", gp="gp-riverside"),
            child("kid", school="school-oakfield", gp="gp-northgate"),
        )
        decisions = route(category, fam)
        schools = [d for d in decisions if d.notice_type is NoticeType.SCHOOL_SUPPORT]
        assert [(d.addressee.org_id, d.about) for d in schools] == [("school-oakfield", ("kid",))]
        assert schools[0].rule_id == "ed.parent_presentation.child"
        assert {"gp-riverside", "gp-northgate"} <= {d.addressee.org_id for d in decisions}

    def test_parent_self_harm_with_a_baby_reaches_front_door(self) -> None:
        """As a crisis, a parent's self-harm with a baby under one goes HIGH to the front door."""
        fam = family(
            parent("mum", gp="gp-riverside"),
            child("baby", years=0, months=4, health_visiting="hv-demo"),
        )
        decisions = route("self_harm", fam)
        assert FRONT_DOOR in {d.addressee.org_id for d in decisions}
        assert {d.severity for d in decisions} == {Severity.HIGH}

    def test_childs_self_harm_is_not_a_parent_crisis(self) -> None:
        """A child's own self-harm is routed as the child's, not as a parent's crisis: the
        parent's GP is not told."""
        fam, _ = about_child(years=14, school="school-oakfield")
        decisions = route("self_harm", fam)
        assert decisions
        assert not [d for d in decisions if "parent_presentation" in d.rule_id]
        assert "gp-riverside" not in {d.addressee.org_id for d in decisions}

    def test_parents_deliberate_ingestion_is_a_crisis(self) -> None:
        """A parent's deliberate overdose is self-harm: a crisis, HIGH, to the front door."""
        fam = family(
            parent("mum", gp="gp-riverside"),
            child("kid", school="school-oakfield", gp="gp-northgate"),
        )
        decisions = route("ingestion_or_poisoning", fam, intent="deliberate")
        assert {d.rule_id.split(".")[1] for d in decisions} == {"parent_presentation"}
        assert {d.severity for d in decisions} == {Severity.HIGH}
        assert FRONT_DOOR in {d.addressee.org_id for d in decisions}
        assert decisions[0].facts["self_harm"] is True

    @pytest.mark.parametrize("intent", [None, "accidental", "unknown"])
    def test_parents_other_ingestion_is_not_a_crisis(self, intent: str | None) -> None:
        """A parent's ingestion not known to be deliberate is not treated as a crisis."""
        fam = family(parent("mum", gp="gp-riverside"), child("kid", school="school-oakfield"))
        assert route("ingestion_or_poisoning", fam, intent=intent) == []


def teenager(**kwargs: Any) -> tuple[Family, Member]:
    """A fourteen-year-old living in ``AREA``; the health team and school as given."""
    patient = in_area(child("kid", years=14, gp="gp-northgate", **kwargs), AREA)
    return family(parent("mum", gp="gp-riverside"), patient, subject="kid"), patient


class TestChildsOwnPresentation:
    @pytest.mark.parametrize(
        ("category", "intent"),
        [
            ("self_harm", None),
            ("self_harm", "accidental"),
            ("ingestion_or_poisoning", "deliberate"),
        ],
    )
    def test_self_harm_is_high(self, category: str, intent: str | None) -> None:
        """A child's self-harm or deliberate overdose is HIGH to the GP, the health team and
        the front door."""
        fam, _ = teenager(health_visiting="sn-demo", school="school-oakfield")
        decisions = route(category, fam, intent=intent)
        assert addressees(decisions) == {
            ("gp-northgate", NoticeType.GP_INFORMATION),
            ("sn-demo", NoticeType.HEALTH_VISITING),
            (FRONT_DOOR, NoticeType.FRONT_DOOR_REFERRAL),
        }
        assert {d.severity for d in decisions} == {Severity.HIGH}
        assert {d.about for d in decisions} == {("kid",)}

    def test_mental_health_is_medium_and_reaches_the_front_door(self) -> None:
        """A child's mental health presentation is MEDIUM, and the front door considers it."""
        fam, _ = teenager(health_visiting="sn-demo")
        decisions = route("mental_health", fam)
        assert {d.severity for d in decisions} == {Severity.MEDIUM}
        assert (FRONT_DOOR, NoticeType.FRONT_DOOR_REFERRAL) in addressees(decisions)

    def test_school_key_adult_when_no_health_team(self) -> None:
        """A child registered with no school nursing team: the school's key adult instead."""
        fam, _ = teenager(school="school-oakfield")
        decisions = route("self_harm", fam)
        [school] = [d for d in decisions if d.notice_type is NoticeType.SCHOOL_SUPPORT]
        assert school.addressee == Addressee("school-oakfield", ContactRole.KEY_ADULT)

    def test_health_team_rather_than_school(self) -> None:
        """With a school nursing team registered, the school itself is not told."""
        fam, _ = teenager(health_visiting="sn-demo", school="school-oakfield")
        assert not [
            d for d in route("self_harm", fam) if d.notice_type is NoticeType.SCHOOL_SUPPORT
        ]

    def test_front_door_of_the_childs_area(self) -> None:
        """The referral goes to the front door where the child lives, not the family's area."""
        patient = in_area(child("kid", years=14, gp="gp-northgate"), OTHER_AREA)
        fam = family(parent("mum"), patient, subject="kid")
        decisions = route("self_harm", fam)
        fronts = [d for d in decisions if d.notice_type is NoticeType.FRONT_DOOR_REFERRAL]
        assert [d.addressee.org_id for d in fronts] == [OTHER_FRONT_DOOR]

    def test_rule_id_does_not_name_the_presentation(self) -> None:
        """The rule id travels in headers a school and the transport see: it says neither
        self-harm nor mental health; the facts (minimised per recipient) do."""
        fam, _ = teenager(school="school-oakfield")
        decisions = route("self_harm", fam) + route("mental_health", fam)
        assert all(d.rule_id.startswith("ed.child_presentation") for d in decisions)
        assert all("harm" not in d.rule_id and "mental" not in d.rule_id for d in decisions)
        assert {d.facts["presenting"] for d in decisions} == {"self_harm", "mental_health"}

    @pytest.mark.parametrize("intent", [None, "accidental", "unknown"])
    def test_older_childs_other_ingestion_is_not_self_harm(self, intent: str | None) -> None:
        """A teenager's ingestion not known to be deliberate is not self-harm by itself."""
        fam, _ = teenager(health_visiting="sn-demo")
        assert route("ingestion_or_poisoning", fam, intent=intent) == []

    def test_toddlers_deliberate_ingestion_stays_high(self) -> None:
        """Recorded as deliberate or not, an ingestion under five is HIGH to the front door."""
        fam, _ = about_child(years=2)
        decisions = route("ingestion_or_poisoning", fam, intent="deliberate")
        assert {d.severity for d in decisions} == {Severity.HIGH}
        assert (FRONT_DOOR, NoticeType.FRONT_DOOR_REFERRAL) in addressees(decisions)


class TestHistory:
    def test_counts_attendances_since_a_moment(self) -> None:
        """ed_count_since counts attendances at or after the start."""
        start = datetime.fromisoformat("2027-01-01T00:00:00+00:00")
        history_ = PersonHistory(ed_attendances=(start, *days_before(start, 1)))
        assert history_.ed_count_since(start) == 1
