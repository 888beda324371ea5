"""Parent mental health crisis: schools or health visiting, GPs, and the front door."""

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.rules.crisis import route_crisis
from broker.rules.family import Addressee, ContactRole, Decision, Family, Member, PlanView
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
    plan_view,
    with_context,
)

HIGH_RISK_FLAGS = [
    "suicidal_ideation",
    "threats_to_kill",
    "threats_to_harm_others",
    "domestic_abuse",
    "substance_misuse",
]
OTHER_FLAGS = ["sectioned", "admitted"]


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


def two_carers() -> Family:
    """Mum and Dad both live with the children: neither is a sole carer."""
    return family(
        parent("mum", "h1", gp="gp-riverside"),
        parent("dad", "h1", gp="gp-hillview"),
        child("elder", "h1", years=8, school="school-oakfield", gp="gp-northgate"),
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

    def test_one_notice_per_practice_for_its_other_patients(self) -> None:
        """A practice with several listed patients besides the subject gets one notice naming
        them all."""
        fam = family(
            parent("mum", gp="gp-riverside"),
            child("elder", gp="gp-northgate"),
            child("toddler", years=2, gp="gp-northgate"),
        )
        decisions = to(route_crisis(crisis(), fam, ON), NoticeType.GP_INFORMATION)
        northgate = [d.about for d in decisions if d.addressee.org_id == "gp-northgate"]
        assert northgate == [("elder", "toddler")]

    def test_the_subjects_practice_hears_of_the_subject_apart(self) -> None:
        """A practice holding the subject's record and a child's gets the subject's notice
        apart, so that the subject's clinical detail is filed under the subject alone."""
        decisions = to(route_crisis(crisis(), carters(), ON), NoticeType.GP_INFORMATION)
        riverside = [d.about for d in decisions if d.addressee.org_id == "gp-riverside"]
        assert riverside == [("mum",), ("toddler",)]

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
    def test_sectioned_with_another_carer_at_home_does_not_reach_the_front_door(
        self, flag: str
    ) -> None:
        """Sectioned or admitted, with another carer living with the children and no other
        signal: not a high-risk signal by itself."""
        decisions = route_crisis(crisis(**{flag: True}), two_carers(), ON)
        assert not to(decisions, NoticeType.FRONT_DOOR_REFERRAL)
        assert decisions[0].facts[flag] is True
        assert "sole_carer_unavailable" not in decisions[0].facts

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


class TestSoleCarer:
    @pytest.mark.parametrize("flag", OTHER_FLAGS)
    def test_sole_carer_sectioned_or_admitted_is_high_risk(self, flag: str) -> None:
        """The only carer in a home with children, sectioned or admitted: HIGH to the front
        door, with the reason."""
        fam = family(parent("mum", gp="gp-riverside"), child("kid", school="school-oakfield"))
        decisions = route_crisis(crisis(**{flag: True}), fam, ON)
        assert {d.severity for d in decisions} == {Severity.HIGH}
        [front] = to(decisions, NoticeType.FRONT_DOOR_REFERRAL)
        assert front.facts["sole_carer_unavailable"] is True

    def test_sole_carer_in_one_of_two_homes(self) -> None:
        """Mum alone with the children at h1 is their sole carer there, though Dad lives at h2."""
        decisions = route_crisis(crisis(sectioned=True), carters(), ON)
        assert to(decisions, NoticeType.FRONT_DOOR_REFERRAL)[0].facts["sole_carer_unavailable"]

    def test_sole_carer_not_sectioned_or_admitted(self) -> None:
        """Caring alone is not itself a signal: only when the carer is taken away."""
        fam = family(parent("mum", gp="gp-riverside"), child("kid", school="school-oakfield"))
        decisions = route_crisis(crisis(), fam, ON)
        assert {d.severity for d in decisions} == {Severity.MEDIUM}
        assert "sole_carer_unavailable" not in decisions[0].facts

    def test_adult_living_without_children_is_no_sole_carer(self) -> None:
        """An adult living alone, whose child lives with the other parent, leaves no child
        without a carer: the other parent is at home."""
        fam = family(
            parent("dad", "h2", gp="gp-hillview"),
            parent("mum", "h1", gp="gp-riverside"),
            child("kid", "h1", school="school-oakfield"),
            subject="dad",
        )
        decisions = route_crisis(crisis(admitted=True), fam, ON)
        assert all("sole_carer_unavailable" not in d.facts for d in decisions)


def on_plan(fam: Family, *plans: PlanView) -> Family:
    return with_context(fam, plans=plans)


class TestPlansTheDirectoryHolds:
    def test_child_on_a_child_protection_plan_is_high_risk(self) -> None:
        """A child of the adult on an open child protection plan in the directory makes the
        crisis HIGH and brings the front door in, though the event says nothing of it."""
        fam = on_plan(two_carers(), plan_view("elder", kind="child_protection"))
        decisions = route_crisis(crisis(), fam, ON)
        assert {d.severity for d in decisions} == {Severity.HIGH}
        assert to(decisions, NoticeType.FRONT_DOOR_REFERRAL)[0].facts["child_protection_plan"]

    @pytest.mark.parametrize(
        "plan",
        [
            plan_view("elder", kind="child_in_need"),
            plan_view("elder", kind="child_protection", ended_on=ON - timedelta(days=1)),
            plan_view("stranger", kind="child_protection"),
        ],
        ids=["child_in_need", "closed", "not_this_adults_child"],
    )
    def test_other_plans_are_not_a_high_risk_signal(self, plan: PlanView) -> None:
        """A child in need plan, a closed plan or another family's plan is not this signal."""
        decisions = route_crisis(crisis(), on_plan(two_carers(), plan), ON)
        assert {d.severity for d in decisions} == {Severity.MEDIUM}

    @settings(max_examples=100, deadline=None)
    @given(flags=flags, kind=st.sampled_from(["child_protection", "child_in_need", "early_help"]))
    def test_an_open_plan_never_lowers_severity(self, flags: dict[str, bool], kind: str) -> None:
        """Adding an open plan for a child never lowers the highest severity sent."""
        without = route_crisis(crisis(**flags), two_carers(), ON)
        fam = on_plan(two_carers(), plan_view("elder", kind=kind))
        assert max_severity(route_crisis(crisis(**flags), fam, ON)) >= max_severity(without)
