"""Areas, the education safeguarding officer, plan leads, and patterns through ``decide``."""

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from broker.rules.common import child_contact
from broker.rules.crisis import route_crisis, route_parent_in_crisis
from broker.rules.family import (
    Addressee,
    ContactRole,
    Decision,
    Family,
    HouseholdHistory,
    Member,
    PlanView,
)
from broker.rules.history import PersonHistory
from broker.rules.not_brought import route_not_brought
from broker.rules.routing import decide
from schemas.events import AppointmentOutcome, ParentMentalHealthCrisis
from schemas.notices import NoticeType, Severity
from unit.builders import (
    AREA,
    FRONT_DOOR,
    ON,
    OTHER_AREA,
    OTHER_FRONT_DOOR,
    RECEIVED,
    appointment_payload,
    child,
    crisis_payload,
    event,
    family,
    in_area,
    parent,
    past_event,
    past_notices,
    plan_view,
    step_down_plan,
    with_context,
    withdrawal_payload,
)

ESO = ContactRole.EDUCATION_SAFEGUARDING_OFFICER


def contact(member: Member, fam: Family | None = None) -> Decision | None:
    fam = fam or family(parent("mum"), member)
    return child_contact(member, fam, ON, Severity.MEDIUM, "crisis", {"x": True})


def unknown_age(member: Member) -> Member:
    return replace(member, date_of_birth=None)


def crisis(**flags: object) -> ParentMentalHealthCrisis:
    parsed = event(crisis_payload(**flags))
    assert isinstance(parsed, ParentMentalHealthCrisis)
    return parsed


def front_doors(decisions: list[Decision]) -> list[Decision]:
    return [d for d in decisions if d.notice_type is NoticeType.FRONT_DOOR_REFERRAL]


class TestEducationSafeguardingOfficer:
    def test_school_age_without_school_goes_to_the_eso_of_the_childs_area(self) -> None:
        """A school-age child with no school place goes to the ESO of the area they live in."""
        kid = in_area(child("kid", years=9), OTHER_AREA)
        decision = contact(kid)
        assert decision is not None
        assert (decision.addressee, decision.notice_type) == (
            Addressee(OTHER_FRONT_DOOR, ESO),
            NoticeType.SCHOOL_SUPPORT,
        )
        assert (decision.rule_id, decision.about, decision.severity) == (
            "crisis.child",
            ("kid",),
            Severity.MEDIUM,
        )

    def test_child_without_an_area_uses_the_familys_area(self) -> None:
        """With no area recorded for the child's household, the family's area's ESO is told."""
        decision = contact(child("kid", years=9))
        assert decision is not None
        assert decision.addressee == Addressee(FRONT_DOOR, ESO)

    def test_school_age_with_a_health_team_but_no_school_goes_to_the_eso(self) -> None:
        """A school-age child's health visiting registration does not replace the ESO."""
        decision = contact(child("kid", years=5, health_visiting="hv-demo"))
        assert decision is not None
        assert decision.addressee == Addressee(FRONT_DOOR, ESO)

    def test_school_place_wins(self) -> None:
        """A child with a school place goes to the school's key adult, not the ESO."""
        decision = contact(child("kid", years=9, school="school-oakfield"))
        assert decision is not None
        assert decision.addressee == Addressee("school-oakfield", ContactRole.KEY_ADULT)

    def test_area_without_a_front_door_goes_to_the_familys_front_door(self) -> None:
        """A school-age child with no school, in an area with no front door the broker knows:
        not nobody, but the family's own front door, with the reason."""
        decision = contact(in_area(child("kid", years=9), "E09000001"))
        assert decision is not None
        assert (decision.addressee, decision.notice_type) == (
            Addressee(FRONT_DOOR, ContactRole.DUTY_MANAGER),
            NoticeType.FRONT_DOOR_REFERRAL,
        )
        assert decision.facts["fallback_reason"] == "no_front_door_for_area"

    def test_under_five_with_health_visiting_goes_to_health_visiting(self) -> None:
        """A child of four years eleven months goes to the health visiting team."""
        decision = contact(child("kid", years=4, months=11, health_visiting="hv-demo"))
        assert decision is not None
        assert (decision.addressee, decision.notice_type) == (
            Addressee("hv-demo", ContactRole.SAFEGUARDING_LEAD),
            NoticeType.HEALTH_VISITING,
        )

    def test_under_five_without_health_visiting_goes_to_the_front_door(self) -> None:
        """A child under five with no health visiting team is not dropped, nor sent to the
        ESO: the front door hears, with the reason, so that someone sees the child."""
        decision = contact(child("kid", years=3))
        assert decision is not None
        assert (decision.addressee, decision.notice_type, decision.about) == (
            Addressee(FRONT_DOOR, ContactRole.DUTY_MANAGER),
            NoticeType.FRONT_DOOR_REFERRAL,
            ("kid",),
        )
        assert decision.facts["fallback_reason"] == "no_health_visiting_registration"

    def test_unknown_age_with_health_visiting_goes_to_health_visiting(self) -> None:
        """A child of unknown age registered with health visiting goes to that team."""
        decision = contact(unknown_age(child("kid", health_visiting="hv-demo")))
        assert decision is not None
        assert decision.addressee == Addressee("hv-demo", ContactRole.SAFEGUARDING_LEAD)

    def test_unknown_age_without_health_visiting_goes_to_the_front_door(self) -> None:
        """A child of unknown age with no school and no health team: the front door hears."""
        decision = contact(unknown_age(child("kid")))
        assert decision is not None
        assert decision.addressee == Addressee(FRONT_DOOR, ContactRole.DUTY_MANAGER)
        assert decision.facts["fallback_reason"] == "no_health_visiting_registration"


def two_homes() -> Family:
    """Mum is recorded in two households in two areas, a child in each."""
    return family(
        in_area(parent("mum", "h1", gp="gp-riverside"), AREA),
        in_area(parent("mum", "h2", gp="gp-riverside"), OTHER_AREA),
        in_area(child("elder", "h1", school="school-oakfield"), AREA),
        in_area(child("younger", "h2", school="school-brookside"), OTHER_AREA),
    )


def separated() -> Family:
    """Mum in one area; the child lives with her and also with Dad in another area."""
    return family(
        in_area(parent("mum", "h1", gp="gp-riverside"), AREA),
        in_area(child("elder", "h1", school="school-oakfield"), AREA),
        in_area(child("elder", "h2", school="school-oakfield"), OTHER_AREA),
        in_area(parent("dad", "h2", gp="gp-hillview"), OTHER_AREA),
    )


class TestChildrenAreas:
    def test_distinct_areas_in_order(self) -> None:
        """Each area where the person's children live, once, in the order first met."""
        fam = family(
            in_area(parent("mum", "h1"), AREA),
            in_area(parent("mum", "h2"), OTHER_AREA),
            in_area(child("a", "h1"), AREA),
            in_area(child("b", "h2"), OTHER_AREA),
            in_area(child("c", "h1"), AREA),
        )
        assert fam.children_areas("mum") == (AREA, OTHER_AREA)

    def test_no_child_area_falls_back_to_the_familys_area(self) -> None:
        """With no area recorded for any child, the family's own area is used."""
        assert family(parent("mum"), child("kid")).children_areas("mum") == (AREA,)

    def test_no_area_at_all_is_empty(self) -> None:
        """With no child area and no family area there are no areas."""
        assert family(parent("mum"), child("kid"), area=None).children_areas("mum") == ()

    def test_children_of_other_households_do_not_count(self) -> None:
        """A child living only in a household the person does not share adds no area."""
        fam = family(
            in_area(parent("mum", "h1"), AREA),
            in_area(child("kid", "h1"), AREA),
            in_area(child("unrelated", "h3"), OTHER_AREA),
        )
        assert fam.children_areas("mum") == (AREA,)

    def test_child_living_in_two_areas_counts_both(self) -> None:
        """A child who also lives with the other parent in another area adds that area."""
        assert set(separated().children_areas("mum")) == {AREA, OTHER_AREA}


class TestCrisisInTwoAreas:
    def test_children_in_two_areas_reach_two_front_doors(self) -> None:
        """A high-risk crisis reaches the front door of each area where the children live."""
        fronts = front_doors(route_crisis(crisis(suicidal_ideation=True), two_homes(), ON))
        assert [(d.addressee.org_id, d.severity) for d in fronts] == [
            (FRONT_DOOR, Severity.HIGH),
            (OTHER_FRONT_DOOR, Severity.HIGH),
        ]
        assert {d.about for d in fronts} == {("mum", "elder", "younger")}

    def test_child_shared_with_a_parent_in_another_area_reaches_both_front_doors(self) -> None:
        """A child living with each separated parent in two areas brings both front doors."""
        fronts = front_doors(route_crisis(crisis(domestic_abuse=True), separated(), ON))
        assert {d.addressee.org_id for d in fronts} == {FRONT_DOOR, OTHER_FRONT_DOOR}

    def test_self_harm_is_high_risk(self) -> None:
        """Self-harm, raised by an ED attendance, is a high-risk signal for a parent in crisis."""
        decisions = route_parent_in_crisis(two_homes(), frozenset({"self_harm"}), ON, "ed")
        assert {d.severity for d in decisions} == {Severity.HIGH}
        assert len(front_doors(decisions)) == 2


def appointment() -> AppointmentOutcome:
    parsed = event(appointment_payload())
    assert isinstance(parsed, AppointmentOutcome)
    return parsed


def not_brought(fam: Family) -> list[Decision]:
    latest = appointment()
    history = PersonHistory(
        appointments=tuple((latest.booked_for, "was_not_brought") for _ in "abcd")
    )
    return route_not_brought(latest, fam, history, ON)


def wnb_family(*plans: PlanView) -> Family:
    kid = child("kid", years=3, gp="gp-northgate", health_visiting="hv-demo")
    return with_context(family(parent("mum"), kid, subject="kid"), plans=plans)


def plan_notices(decisions: list[Decision]) -> list[Decision]:
    return [d for d in decisions if d.notice_type is NoticeType.PLAN_OWNER]


class TestNotBroughtPlanLead:
    def test_open_plan_lead_is_told(self) -> None:
        """The lead professional of the child's open plan gets a PLAN_OWNER notice."""
        [lead] = plan_notices(not_brought(wnb_family(plan_view("kid", lead_org="csc-demo"))))
        assert (lead.addressee, lead.severity, lead.rule_id, lead.about) == (
            Addressee("csc-demo", ContactRole.SAFEGUARDING_LEAD),
            Severity.MEDIUM,
            "was_not_brought.plan_lead",
            ("kid",),
        )
        assert lead.facts["attendance_rate_percent"] == 0

    def test_closed_plan_lead_is_not_told(self) -> None:
        """A plan that ended before the received date has no lead to tell."""
        closed = plan_view("kid", lead_org="csc-demo", ended_on=ON - timedelta(days=1))
        assert not plan_notices(not_brought(wnb_family(closed)))

    def test_another_childs_plan_lead_is_not_told(self) -> None:
        """Only a plan for this child brings its lead in."""
        other = plan_view("sibling", lead_org="csc-demo")
        assert not plan_notices(not_brought(wnb_family(other)))

    def test_one_notice_per_lead(self) -> None:
        """Two open plans with the same lead give that lead one notice."""
        plans = (
            plan_view("kid", lead_org="csc-demo", plan_id="p1"),
            plan_view("kid", kind="early_help", lead_org="csc-demo", plan_id="p2"),
        )
        assert len(plan_notices(not_brought(wnb_family(*plans)))) == 1


def crisis_family(history: HouseholdHistory) -> Family:
    return with_context(
        family(
            parent("mum", gp="gp-riverside", involved=("mh-demo",)),
            child("kid", years=8, school="school-oakfield", gp="gp-northgate"),
        ),
        history=history,
    )


class TestDecideWithHistory:
    def test_domestic_abuse_after_mental_health_reaches_the_front_door_as_co_occurrence(
        self,
    ) -> None:
        """A crisis with domestic abuse after a mental-health event refers for co-occurrence."""
        history = HouseholdHistory(events=(past_event(60, "mental_health"),))
        decisions = decide(
            crisis(domestic_abuse=True), crisis_family(history), PersonHistory(), RECEIVED
        )
        [front] = front_doors(decisions)
        assert front.addressee == Addressee(FRONT_DOOR, ContactRole.DUTY_MANAGER)
        assert "co_occurrence" in front.rule_id
        assert front.severity is Severity.HIGH

    def test_earlier_substance_misuse_makes_all_three(self) -> None:
        """Earlier substance misuse plus this crisis with domestic abuse names all three."""
        history = HouseholdHistory(events=(past_event(60, "substance_misuse"),))
        decisions = decide(
            crisis(domestic_abuse=True), crisis_family(history), PersonHistory(), RECEIVED
        )
        [front] = front_doors(decisions)
        assert front.facts["co_occurring"] == "domestic_abuse,mental_health,substance_misuse"
        assert {d.severity for d in decisions} == {Severity.HIGH}

    def test_one_decision_per_addressee_kind_and_people(self) -> None:
        """decide merges the rule's and the patterns' notices to the same recipient."""
        history = HouseholdHistory(events=(past_event(60, "mental_health"),))
        decisions = decide(
            crisis(domestic_abuse=True), crisis_family(history), PersonHistory(), RECEIVED
        )
        keys = [(d.addressee, d.notice_type, d.about) for d in decisions]
        assert len(keys) == len(set(keys))

    def test_third_quiet_withdrawal_reaches_the_front_door(self) -> None:
        """A withdrawal (the parent moved away) after two quiet events in 91 days goes to the
        front door."""
        history = HouseholdHistory(
            notices=past_notices("e1", 50, Severity.LOW) + past_notices("e2", 20, Severity.LOW)
        )
        parsed = event(withdrawal_payload(reason="moved"))
        decisions = decide(parsed, crisis_family(history), PersonHistory(), RECEIVED)
        [front] = front_doors(decisions)
        assert (front.rule_id, front.severity) == ("accumulation.front_door", Severity.MEDIUM)

    @pytest.mark.parametrize(
        "ending",
        [{"reason": "completed"}, {"reason": "stepped_down", "step_down": step_down_plan()}],
        ids=["completed", "stepped_down"],
    )
    def test_a_planned_ending_is_not_the_third_concern(self, ending: dict[str, Any]) -> None:
        """A completed discharge or a step-down after two quiet events is no concern: the
        agencies hear of it, the front door does not."""
        history = HouseholdHistory(
            notices=past_notices("e1", 50, Severity.LOW) + past_notices("e2", 20, Severity.LOW)
        )
        parsed = event(withdrawal_payload(**ending))
        decisions = decide(parsed, crisis_family(history), PersonHistory(), RECEIVED)
        assert decisions
        assert not front_doors(decisions)

    @pytest.mark.parametrize("days", [10, 90])
    def test_step_down_window_brings_plan_owners_in(self, days: int) -> None:
        """A crisis inside a step-down window also tells the plan's lead and owners."""
        plan = plan_view(
            "kid",
            started_on=ON - timedelta(days=days),
            step_down_until=ON + timedelta(days=1),
            lead_org="csc-demo",
            owner_orgs=("early-help-demo",),
        )
        fam = with_context(crisis_family(HouseholdHistory()), plans=(plan,))
        decisions = decide(crisis(), fam, PersonHistory(), RECEIVED)
        assert {d.addressee.org_id for d in plan_notices(decisions)} == {
            "csc-demo",
            "early-help-demo",
        }
