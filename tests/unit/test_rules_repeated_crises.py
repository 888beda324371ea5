"""Repeated crises of one parent reach the front door, as one referral with the crisis's own."""

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.rules.crisis import route_crisis
from broker.rules.family import Addressee, ContactRole, Decision, Family
from broker.rules.history import PersonHistory
from broker.rules.repeated_crises import crisis_at, repeated_crises
from broker.rules.routing import decide
from broker.rules.thresholds import Thresholds
from schemas.events import EdAttendance, Event, ParentMentalHealthCrisis
from schemas.notices import NoticeType, Severity
from unit.builders import (
    AREA,
    FRONT_DOOR,
    ON,
    OTHER_AREA,
    OTHER_FRONT_DOOR,
    RECEIVED,
    SEVERITY_RANK,
    child,
    crisis_payload,
    ed_payload,
    event,
    family,
    in_area,
    parent,
)

LIMITS = Thresholds()
FRONT = Addressee(FRONT_DOOR, ContactRole.DUTY_MANAGER)
HIGH_RISK_FLAGS = ["suicidal_ideation", "threats_to_kill", "domestic_abuse", "substance_misuse"]


def parents_family(subject: str = "mum") -> Family:
    return family(
        parent("mum", gp="gp-riverside", involved=("mh-demo",)),
        child("kid", years=8, school="school-oakfield", gp="gp-northgate"),
        subject=subject,
    )


def crisis(**flags: object) -> ParentMentalHealthCrisis:
    parsed = event(crisis_payload(**flags))
    assert isinstance(parsed, ParentMentalHealthCrisis)
    return parsed


def ed(category: str = "injury") -> EdAttendance:
    parsed = event(ed_payload(presenting_category=category))
    assert isinstance(parsed, EdAttendance)
    return parsed


def crises(this: Event, *days_before: int) -> PersonHistory:
    """This crisis and earlier ones, ``days_before`` it."""
    at = crisis_at(this, parents_family())
    assert at is not None
    return PersonHistory(crises=(at, *(at - timedelta(days=d) for d in days_before)))


def front_doors(decisions: list[Decision]) -> list[Decision]:
    return [d for d in decisions if d.notice_type is NoticeType.FRONT_DOOR_REFERRAL]


class TestCrisisAt:
    def test_a_crisis_event_is_a_crisis_when_it_happened(self) -> None:
        """A parent's crisis event counts from when it occurred."""
        this = crisis()
        assert crisis_at(this, parents_family()) == this.occurred_at

    @pytest.mark.parametrize("category", ["self_harm", "mental_health"])
    def test_a_parents_crisis_presentation_at_ed_is_a_crisis(self, category: str) -> None:
        """A parent's self-harm or mental-health presentation at ED is a crisis, at arrival."""
        this = ed(category)
        assert crisis_at(this, parents_family()) == this.arrived_at

    def test_a_parents_injury_at_ed_is_not_a_crisis(self) -> None:
        """An injury is an attendance, not a crisis."""
        assert crisis_at(ed(), parents_family()) is None

    def test_a_childs_self_harm_is_not_a_parents_crisis(self) -> None:
        """A child's own self-harm is routed as the child's, not counted as a parent's crisis."""
        this = ed("self_harm")
        assert crisis_at(this, parents_family(subject="kid")) is None


class TestRepeatedCrises:
    def test_third_crisis_in_six_months_refers(self) -> None:
        """Two earlier crises within 183 days make this the third: the front door, MEDIUM,
        about the parent and the children, stating the count."""
        this = crisis()
        [front] = repeated_crises(this, parents_family(), crises(this, 150, 40), LIMITS)
        assert (front.addressee, front.notice_type, front.severity) == (
            FRONT,
            NoticeType.FRONT_DOOR_REFERRAL,
            Severity.MEDIUM,
        )
        assert front.rule_id == "repeated_crises.front_door"
        assert front.about == ("mum", "kid")
        assert dict(front.facts) == {"parent_crises": 3, "crises_window_days": 183}

    def test_second_crisis_does_not_refer(self) -> None:
        """One earlier crisis makes two: nothing yet."""
        this = crisis()
        assert repeated_crises(this, parents_family(), crises(this, 40), LIMITS) == []

    @pytest.mark.parametrize(("days", "refers"), [(183, True), (184, False)])
    def test_the_window_is_six_months(self, days: int, refers: bool) -> None:
        """A crisis exactly 183 days earlier is inside the window; a day more is not."""
        this = crisis()
        history = crises(this, days, 40)
        assert bool(repeated_crises(this, parents_family(), history, LIMITS)) is refers

    def test_threshold_is_configurable(self) -> None:
        """With repeated_crises=2 in 30 days, the second crisis refers."""
        this = crisis()
        limits = Thresholds(repeated_crises=2, repeated_crises_window=timedelta(days=30))
        [front] = repeated_crises(this, parents_family(), crises(this, 20), limits)
        assert dict(front.facts) == {"parent_crises": 2, "crises_window_days": 30}

    def test_ed_presentations_count_with_crisis_events(self) -> None:
        """A parent's self-harm at ED with two earlier crises is the third crisis."""
        this = ed("self_harm")
        assert repeated_crises(this, parents_family(), crises(this, 100, 50), LIMITS)

    def test_only_a_crisis_refers(self) -> None:
        """A parent's injury at ED after three crises is no crisis itself: no referral."""
        this = ed()
        at = this.arrived_at
        history = PersonHistory(crises=(at, at - timedelta(days=5), at - timedelta(days=9)))
        assert repeated_crises(this, parents_family(), history, LIMITS) == []

    def test_a_parent_without_children_is_not_referred(self) -> None:
        """The front door is the children's: a parent with no children known refers nobody."""
        alone = family(parent("mum", gp="gp-riverside"))
        this = crisis()
        assert repeated_crises(this, alone, crises(this, 60, 30), LIMITS) == []

    def test_each_area_where_the_children_live_is_referred(self) -> None:
        """Children in two areas: the front door of each."""
        two_areas = family(
            in_area(parent("mum", "h1"), AREA),
            in_area(child("kid", "h1"), AREA),
            in_area(parent("mum", "h2"), OTHER_AREA),
            in_area(child("baby", "h2", years=1), OTHER_AREA),
        )
        this = crisis()
        decisions = repeated_crises(this, two_areas, crises(this, 60, 30), LIMITS)
        assert {d.addressee.org_id for d in decisions} == {FRONT_DOOR, OTHER_FRONT_DOOR}


class TestOneReferral:
    def test_repeated_medium_crises_reach_the_front_door(self) -> None:
        """A third crisis with no high-risk signal, which alone would not reach the front door,
        does: one MEDIUM referral."""
        this = crisis()
        assert not front_doors(route_crisis(this, parents_family(), ON))
        decisions = decide(this, parents_family(), crises(this, 120, 60), RECEIVED)
        [front] = front_doors(decisions)
        assert (front.severity, front.rule_id) == (Severity.MEDIUM, "repeated_crises.front_door")

    def test_a_high_risk_crisis_keeps_one_referral(self) -> None:
        """A third crisis, with suicidal ideation: one referral, HIGH, naming both reasons."""
        this = crisis(suicidal_ideation=True)
        decisions = decide(this, parents_family(), crises(this, 120, 60), RECEIVED)
        [front] = front_doors(decisions)
        assert front.severity is Severity.HIGH
        assert front.rule_id == "crisis.front_door+repeated_crises.front_door"
        assert front.facts["suicidal_ideation"] is True
        assert front.facts["parent_crises"] == 3

    @settings(max_examples=100, deadline=None)
    @given(
        flags=st.sets(st.sampled_from(HIGH_RISK_FLAGS)),
        earlier=st.lists(st.integers(0, 400), max_size=5),
    )
    def test_one_referral_never_less_severe_than_the_crisis_alone(
        self, flags: set[str], earlier: list[int]
    ) -> None:
        """For any crisis and history of crises: at most one referral per front door, and no
        notice less severe than the crisis rule alone made it."""
        this = crisis(**dict.fromkeys(flags, True))
        alone = route_crisis(this, parents_family(), ON)
        decisions = decide(this, parents_family(), crises(this, *earlier), RECEIVED)
        referrals = front_doors(decisions)
        assert len({d.addressee for d in referrals}) == len(referrals)
        by_key = {(d.addressee, d.notice_type): d for d in decisions}
        for d in alone:
            after = by_key[(d.addressee, d.notice_type)]
            assert SEVERITY_RANK[after.severity] >= SEVERITY_RANK[d.severity]
