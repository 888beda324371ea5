"""A step-down plan reaches its owners; its lead professional is reminded at the review."""

from datetime import date, datetime, time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.rules.deadlines import LONDON, WorkingHours, is_working_day
from broker.rules.family import Decision, Family
from broker.rules.step_down import LEAD, OWNER, RULE, is_reminded, reminder_at, route_step_down
from broker.rules.trust import screen
from schemas.events import ServiceWithdrawal
from schemas.notices import NoticeType, Severity
from unit.builders import (
    CHILD_NHS,
    FRONT_DOOR,
    child,
    event,
    family,
    parent,
    professional,
    step_down_plan,
    withdrawal_payload,
)


def stepped_down(
    source: str = FRONT_DOOR, subject: str = "mum", **plan: object
) -> ServiceWithdrawal:
    payload = withdrawal_payload(reason="stepped_down", source_org=source,
                                 step_down=step_down_plan(**plan))  # fmt: skip
    if subject == "kid":
        payload["subject"] = {"nhs_number": CHILD_NHS}
    parsed = event(payload)
    assert isinstance(parsed, ServiceWithdrawal)
    return parsed


def household(subject: str = "mum") -> Family:
    return family(
        parent("mum", involved=("mh-demo",)),
        child("kid", school="school-oakfield"),
        child("baby", years=0, months=6, health_visiting="hv-demo"),
        subject=subject,
    )


def by_org(decisions: list[Decision]) -> dict[str, Decision]:
    return {d.addressee.org_id: d for d in decisions}


class TestRouteStepDown:
    def test_lead_and_every_action_owner_receive_the_plan(self) -> None:
        """One plan-owner notice to the lead's organisation and one to each owner's."""
        plan = {"lead_professional": professional() | {"org_id": "early-help-demo"},
                "action_owners": [professional() | {"org_id": "school-oakfield"},
                                  professional() | {"org_id": "hv-demo"}]}  # fmt: skip
        decisions = route_step_down(stepped_down(**plan), household())
        assert sorted(by_org(decisions)) == ["early-help-demo", "hv-demo", "school-oakfield"]
        assert {d.notice_type for d in decisions} == {NoticeType.PLAN_OWNER}
        assert {d.rule_id for d in decisions} == {RULE}

    def test_each_notice_says_the_owners_role(self) -> None:
        """The lead's notice says it leads; each other owner's that it owns an action."""
        plan = {"lead_professional": professional() | {"org_id": "early-help-demo"},
                "action_owners": [professional() | {"org_id": "school-oakfield"}]}  # fmt: skip
        found = by_org(route_step_down(stepped_down(**plan), household()))
        assert found["early-help-demo"].facts["step_down_role"] == LEAD
        assert found["school-oakfield"].facts["step_down_role"] == OWNER

    def test_an_organisation_both_lead_and_owner_gets_one_notice(self) -> None:
        """An organisation named as lead and as action owner receives the plan once, as lead."""
        same = {"org_id": "early-help-demo"}
        plan = {"lead_professional": professional() | same,
                "action_owners": [professional("Other") | same]}  # fmt: skip
        [decision] = route_step_down(stepped_down(**plan), household())
        assert decision.facts["step_down_role"] == LEAD

    def test_a_parents_step_down_is_about_the_parents_children(self) -> None:
        """The plan is the children's: the notices are about them."""
        [decision, *_] = route_step_down(stepped_down(), household())
        assert set(decision.about) == {"kid", "baby"}

    def test_a_childs_step_down_is_about_that_child(self) -> None:
        """A child's own step-down is about the child alone."""
        [decision, *_] = route_step_down(stepped_down(subject="kid"), household("kid"))
        assert decision.about == ("kid",)

    def test_medium_with_the_review_date(self) -> None:
        """The plan must be taken up (MEDIUM, acknowledged) and carries its review date."""
        decisions = route_step_down(stepped_down(review_by="2027-08-01"), household())
        assert {d.severity for d in decisions} == {Severity.MEDIUM}
        assert {d.facts["review_by"] for d in decisions} == {"2027-08-01"}


class TestTrust:
    def test_an_unlinked_owner_named_by_another_service_is_held(self) -> None:
        """A service that is not the front door cannot make an unlinked organisation a plan
        owner: the plan's notice to it waits for the front door's confirmation."""
        plan = {"lead_professional": professional() | {"org_id": "early-help-demo"},
                "action_owners": [professional() | {"org_id": "school-oakfield"}]}  # fmt: skip
        step = stepped_down(source="mh-demo", **plan)
        screened = screen(step, household(), route_step_down(step, household()))
        assert [d.addressee.org_id for d in screened.withheld] == ["early-help-demo"]
        assert "school-oakfield" in by_org(screened.decisions)  # linked: the child's school

    def test_the_front_doors_step_down_tells_every_owner(self) -> None:
        """The family's own front door names the owners: nothing is held."""
        plan = {"lead_professional": professional() | {"org_id": "early-help-demo"}}
        step = stepped_down(**plan)
        screened = screen(step, household(), route_step_down(step, household()))
        assert screened.withheld == []


class TestReminderAt:
    @pytest.mark.parametrize(
        ("review_by", "reminded_on"),
        [
            (date(2027, 4, 14), date(2027, 4, 14)),  # a Wednesday: that morning
            (date(2027, 4, 11), date(2027, 4, 9)),  # a Sunday: the Friday before
            (date(2027, 5, 31), date(2027, 5, 28)),  # spring bank holiday: the Friday before
            (date(2027, 3, 29), date(2027, 3, 25)),  # Easter Monday: before Good Friday
        ],
    )
    def test_the_start_of_the_last_working_day_on_or_before_the_review(
        self, review_by: date, reminded_on: date
    ) -> None:
        """The lead is reminded as their working day starts on the review date, or on the
        last working day before it."""
        assert reminder_at(review_by) == datetime.combine(reminded_on, time(9), tzinfo=LONDON)

    def test_the_leads_own_hours(self) -> None:
        """An office opening at 08:00 is reminded at 08:00."""
        hours = WorkingHours(time(8), time(16))
        assert reminder_at(date(2027, 4, 14), hours).time() == time(8)

    @given(st.dates(min_value=date(2026, 1, 1), max_value=date(2030, 12, 31)))
    def test_never_after_the_review_and_always_a_working_day(self, review_by: date) -> None:
        """Whatever the review date, the reminder falls on a working day no later than it,
        and at most a long weekend before it."""
        reminded = reminder_at(review_by).date()
        assert reminded <= review_by
        assert is_working_day(reminded)
        assert (review_by - reminded).days <= 4


class TestIsReminded:
    @pytest.mark.parametrize(
        ("rule_id", "role", "reminded"),
        [(RULE, LEAD, True), (RULE, OWNER, False), ("withdrawal.gp", LEAD, False),
         (f"open_plan.x+{RULE}", LEAD, True), (f"{RULE}.fallback", LEAD, False)],
    )  # fmt: skip
    def test_only_the_leads_step_down_notice(self, rule_id: str, role: str, reminded: bool) -> None:
        """Only the lead professional's own step-down notice schedules a review reminder."""
        assert is_reminded(rule_id, role) is reminded
