"""Parent mental health crisis: schools or health visiting, GPs, and the front door."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.rules.crisis import route_crisis
from broker.rules.family import Addressee, ContactRole, Decision, Family, Member
from schemas.events import ParentMentalHealthCrisis
from schemas.notices import NoticeType, Severity
from unit.builders import (
    FRONT_DOOR,
    ON,
    child,
    crisis_payload,
    event,
    family,
    max_severity,
    parent,
)

HIGH_RISK_FLAGS = ["suicidal_ideation", "threats_to_kill", "domestic_abuse", "substance_misuse"]
OTHER_FLAGS = ["sectioned", "admitted", "threats_to_harm_others"]


def crisis(**flags: object) -> ParentMentalHealthCrisis:
    parsed = event(crisis_payload(**flags))
    assert isinstance(parsed, ParentMentalHealthCrisis)
    return parsed


def carters() -> Family:
    """Separated parents: Mum at h1 with both children, Dad at h2 where the elder also stays."""
    return family(
        parent("mum", "h1", gp="gp-riverside", involved=("mh-demo",)),
        parent("dad", "h2", gp="gp-hillview"),
        child("elder", "h1", years=8, school="school-oakfield", gp="gp-northgate"),
        child("elder", "h2", years=8, school="school-oakfield", gp="gp-northgate"),
        child("toddler", "h1", years=2, health_visiting="hv-demo", gp="gp-riverside"),
    )


def to(decisions: list[Decision], notice_type: NoticeType) -> list[Decision]:
    return [d for d in decisions if d.notice_type is notice_type]


def orgs(decisions: list[Decision], notice_type: NoticeType) -> list[str]:
    return [d.addressee.org_id for d in to(decisions, notice_type)]


class TestChildContacts:
    def test_school_age_child_goes_to_school_key_adult(self) -> None:
        """A child with a school place is notified through the school's key adult."""
        schools = to(route_crisis(crisis(), carters(), ON), NoticeType.SCHOOL_SUPPORT)
        assert [(d.addressee, d.about) for d in schools] == [
            (Addressee("school-oakfield", ContactRole.KEY_ADULT), ("elder",))
        ]

    def test_child_under_five_without_school_goes_to_health_visiting(self) -> None:
        """A child under five with no school is notified through the health visiting team."""
        health = to(route_crisis(crisis(), carters(), ON), NoticeType.HEALTH_VISITING)
        assert [(d.addressee, d.about) for d in health] == [
            (Addressee("hv-demo", ContactRole.SAFEGUARDING_LEAD), ("toddler",))
        ]

    def test_child_in_two_households_is_told_once(self) -> None:
        """A child living in both parents' households gets one school notice, not two."""
        assert orgs(route_crisis(crisis(), carters(), ON), NoticeType.SCHOOL_SUPPORT) == [
            "school-oakfield"
        ]

    def test_children_of_another_household_only_are_not_told(self) -> None:
        """A child living only in a household the adult does not share is not notified."""
        fam = family(
            parent("mum", "h1", gp="gp-riverside"),
            child("elder", "h1", school="school-oakfield"),
            parent("neighbour", "h3"),
            child("unrelated", "h3", school="school-brookside"),
        )
        assert orgs(route_crisis(crisis(), fam, ON), NoticeType.SCHOOL_SUPPORT) == [
            "school-oakfield"
        ]


class TestGpNotices:
    def test_every_relevant_gp_is_told(self) -> None:
        """The adult's GP, the other parent's GP and each child's GP are notified."""
        gps = orgs(route_crisis(crisis(), carters(), ON), NoticeType.GP_INFORMATION)
        assert set(gps) == {"gp-riverside", "gp-hillview", "gp-northgate"}

    def test_one_notice_per_practice(self) -> None:
        """A practice with several listed patients gets one notice naming them all."""
        decisions = to(route_crisis(crisis(), carters(), ON), NoticeType.GP_INFORMATION)
        assert len(decisions) == len({d.addressee.org_id for d in decisions})
        riverside = next(d for d in decisions if d.addressee.org_id == "gp-riverside")
        assert riverside.about == ("mum", "toddler")

    def test_separated_parent_in_another_household_gets_gp_notice(self) -> None:
        """The other parent, living elsewhere with the child, has their GP told."""
        fam = family(
            parent("mum", "h1", gp="gp-riverside"),
            child("elder", "h1", school="school-oakfield"),
            child("elder", "h2", school="school-oakfield"),
            parent("dad", "h2", gp="gp-hillview"),
        )
        hillview = [
            d for d in route_crisis(crisis(), fam, ON) if d.addressee.org_id == "gp-hillview"
        ]
        assert [d.about for d in hillview] == [("dad",)]

    def test_unrelated_adult_gp_not_told(self) -> None:
        """An adult sharing no child with the subject does not have their GP told."""
        fam = family(
            parent("mum", "h1", gp="gp-riverside"),
            child("elder", "h1", school="school-oakfield"),
            parent("neighbour", "h3", gp="gp-hillview"),
        )
        assert "gp-hillview" not in orgs(route_crisis(crisis(), fam, ON), NoticeType.GP_INFORMATION)

    def test_gp_notices_are_addressed_to_the_safeguarding_lead(self) -> None:
        """GP notices go to each practice's safeguarding lead."""
        decisions = to(route_crisis(crisis(), carters(), ON), NoticeType.GP_INFORMATION)
        assert {d.addressee.role for d in decisions} == {ContactRole.SAFEGUARDING_LEAD}


class TestSeverityAndFrontDoor:
    def test_no_signal_means_medium_and_no_front_door(self) -> None:
        """Without a high-risk signal every notice is MEDIUM and the front door is not told."""
        decisions = route_crisis(crisis(), carters(), ON)
        assert {d.severity for d in decisions} == {Severity.MEDIUM}
        assert not to(decisions, NoticeType.FRONT_DOOR_REFERRAL)

    @pytest.mark.parametrize("flag", OTHER_FLAGS)
    def test_other_flags_alone_do_not_reach_the_front_door(self, flag: str) -> None:
        """Sectioned, admitted or threats to harm others alone are not high-risk signals."""
        decisions = route_crisis(crisis(**{flag: True}), carters(), ON)
        assert not to(decisions, NoticeType.FRONT_DOOR_REFERRAL)
        assert decisions[0].facts[flag] is True

    @pytest.mark.parametrize("flag", HIGH_RISK_FLAGS)
    def test_high_risk_flag_reaches_front_door_high(self, flag: str) -> None:
        """Each high-risk flag sends a HIGH notice to the front door where the children live."""
        front = to(
            route_crisis(crisis(**{flag: True}), carters(), ON), NoticeType.FRONT_DOOR_REFERRAL
        )
        assert [(d.addressee, d.severity) for d in front] == [
            (Addressee(FRONT_DOOR, ContactRole.DUTY_MANAGER), Severity.HIGH)
        ]
        assert front[0].about == ("mum", "elder", "toddler")

    @pytest.mark.parametrize("flag", HIGH_RISK_FLAGS)
    def test_high_risk_flag_makes_every_notice_high(self, flag: str) -> None:
        """With a high-risk signal every notice, school and GP included, is HIGH."""
        decisions = route_crisis(crisis(**{flag: True}), carters(), ON)
        assert {d.severity for d in decisions} == {Severity.HIGH}

    def test_child_present_is_a_high_risk_signal(self) -> None:
        """A child present at the incident raises the front door notice and child_present."""
        decisions = route_crisis(crisis(children_present=[{"local_id": "e"}]), carters(), ON)
        assert {d.severity for d in decisions} == {Severity.HIGH}
        assert to(decisions, NoticeType.FRONT_DOOR_REFERRAL)[0].facts["child_present"] is True

    @pytest.mark.parametrize("months", [0, 1, 6, 11])
    def test_child_under_one_raises_severity(self, months: int) -> None:
        """A baby under one in the household is a high-risk signal at any age in months."""
        fam = family(
            parent("mum", gp="gp-riverside"),
            child("baby", years=0, months=months, health_visiting="hv-demo"),
        )
        decisions = route_crisis(crisis(), fam, ON)
        assert {d.severity for d in decisions} == {Severity.HIGH}
        assert to(decisions, NoticeType.FRONT_DOOR_REFERRAL)[0].facts["child_under_one"] is True

    def test_child_of_one_does_not_raise_severity(self) -> None:
        """A child who has turned one is not a child under one."""
        fam = family(parent("mum"), child("baby", years=1, health_visiting="hv-demo"))
        assert {d.severity for d in route_crisis(crisis(), fam, ON)} == {Severity.MEDIUM}

    def test_no_children_no_front_door(self) -> None:
        """An adult with no children in any household does not reach the children's front door."""
        fam = family(parent("mum", gp="gp-riverside"))
        decisions = route_crisis(crisis(suicidal_ideation=True), fam, ON)
        assert orgs(decisions, NoticeType.GP_INFORMATION) == ["gp-riverside"]
        assert not to(decisions, NoticeType.FRONT_DOOR_REFERRAL)

    def test_rule_ids_say_why(self) -> None:
        """Each decision names the rule that fired it."""
        decisions = route_crisis(crisis(domestic_abuse=True), carters(), ON)
        assert {d.rule_id for d in decisions} == {"crisis.child", "crisis.gp", "crisis.front_door"}


flags = st.fixed_dictionaries({name: st.booleans() for name in HIGH_RISK_FLAGS + OTHER_FLAGS})
kids = st.lists(
    st.builds(
        lambda i, years, months, school: child(
            f"kid{i}",
            years=years,
            months=months,
            school="school-oakfield" if school else None,
            health_visiting="hv-demo",
            gp="gp-northgate",
        ),
        st.integers(0, 1000),
        st.integers(0, 17),
        st.integers(0, 11),
        st.booleans(),
    ),
    min_size=1,
    max_size=4,
)


class TestChildrenNeverLowerSeverity:
    @settings(max_examples=100, deadline=None)
    @given(flags=flags, children=kids)
    def test_adding_children_to_the_family(
        self, flags: dict[str, bool], children: list[Member]
    ) -> None:
        """Adding children to the household never lowers the highest severity sent."""
        adult = parent("mum", gp="gp-riverside")
        without = route_crisis(crisis(**flags), family(adult), ON)
        with_children = route_crisis(crisis(**flags), family(adult, *children), ON)
        assert max_severity(with_children) >= max_severity(without)

    @settings(max_examples=100, deadline=None)
    @given(flags=flags, children=kids, present=st.integers(1, 3))
    def test_adding_children_present(
        self, flags: dict[str, bool], children: list[Member], present: int
    ) -> None:
        """Naming children present at the incident never lowers the highest severity sent."""
        fam = family(parent("mum", gp="gp-riverside"), *children)
        refs = [{"local_id": f"p{i}"} for i in range(present)]
        without = route_crisis(crisis(**flags), fam, ON)
        with_present = route_crisis(crisis(**flags, children_present=refs), fam, ON)
        assert max_severity(with_present) >= max_severity(without)
