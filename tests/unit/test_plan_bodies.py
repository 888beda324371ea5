"""Plans as their readers act on them: a transfer's structured history, a step-down's plan,
who to call when concerns return, and the review reminder."""

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.rules.family import Addressee, ContactRole, Decision, Family
from broker.rules.minimisation import event_detail
from broker.rules.plan_bodies import (
    CONCERN_RETURNED,
    REVIEW_WORDING,
    contact_line,
    digest_kind,
    plan_blocks,
    review_reminder,
    transfer_history,
)
from broker.rules.step_down import RULE as STEP_DOWN_RULE
from schemas.events import FamilyMovingArea, ServiceWithdrawal
from schemas.notices import NoticeBody, NoticeType, PersonView, ProfessionalView, Severity
from unit.builders import (
    CHILD_NHS,
    ON,
    RECEIVED,
    child,
    event,
    family,
    move_payload,
    parent,
    plan_view,
    professional,
    step_down_plan,
    with_context,
    withdrawal_payload,
)

PEOPLE = {
    "mum": PersonView(given_name="Jess", role="parent_or_carer"),
    "kid": PersonView(given_name="Leo", nhs_number=CHILD_NHS, role="child"),
}
LINES = {"csc-demo": "Children's Services (0100)", "early-help-demo": "Early Help (0200)"}
CP_PLAN: dict[str, Any] = {
    "kind": "child_protection", "category": "neglect",
    "child": {"nhs_number": CHILD_NHS, "given_name": "Leo"},
    "started_on": "2025-01-06", "ended_on": "2025-09-01",
    "lead_professional": professional("Sam Okoro"),
}  # fmt: skip


def moving(*plans: dict[str, Any]) -> FamilyMovingArea:
    parsed = event(move_payload(plans=list(plans)))
    assert isinstance(parsed, FamilyMovingArea)
    return parsed


def household(*plans: Any) -> Family:
    members = family(parent("mum"), child("kid", school="school-oakfield"))
    return with_context(members, plans=tuple(plans), org_lines=LINES)


def transfer(about: tuple[str, ...] = ("mum", "kid")) -> Decision:
    return Decision(Addressee("other-front-door", ContactRole.DUTY_MANAGER),
                    NoticeType.TRANSFER, Severity.MEDIUM, "move.transfer", about)  # fmt: skip


class TestTransferHistory:
    def test_each_listed_plan_is_structured(self) -> None:
        """A listed plan reads as kind, category, dates, child and lead professional."""
        [plan] = transfer_history(moving(CP_PLAN), household(), PEOPLE, ON).plans
        assert (plan.kind, plan.category, plan.started_on, plan.ended_on, plan.open) == (
            "child_protection", "neglect", date(2025, 1, 6), date(2025, 9, 1), False
        )  # fmt: skip
        assert plan.child is not None
        assert plan.child.given_name == "Leo"
        assert plan.lead_professional is not None
        assert plan.lead_professional.name == "Sam Okoro"
        assert plan.lead_professional.organisation == LINES["csc-demo"]
        assert plan.recorded_by == "event"

    def test_plans_the_broker_kept_are_added(self) -> None:
        """A plan the directory holds, ended ones too, is in the history though the move
        does not list it."""
        kept = plan_view("kid", kind="early_help", started_on=ON - timedelta(days=90),
                         ended_on=ON - timedelta(days=10), lead_org="early-help-demo")  # fmt: skip
        history = transfer_history(moving(CP_PLAN), household(kept), PEOPLE, ON)
        assert [(p.kind, p.recorded_by) for p in history.plans] == [
            ("child_protection", "event"), ("early_help", "directory"),
        ]  # fmt: skip
        assert history.plans[1].lead_professional is not None
        assert history.plans[1].lead_professional.organisation == LINES["early-help-demo"]

    def test_a_plan_both_listed_and_kept_appears_once(self) -> None:
        """The directory's copy of a listed plan (same child, kind and start) is not
        repeated."""
        kept = plan_view("kid", kind="child_protection", started_on=date(2025, 1, 6))
        history = transfer_history(moving(CP_PLAN), household(kept), PEOPLE, ON)
        assert len(history.plans) == 1

    def test_a_plan_kept_from_this_very_move_is_not_repeated(self) -> None:
        """Confirmed later, a move's listed plans are already kept: listed once."""
        move = moving(CP_PLAN)
        kept = plan_view("kid", kind="child_protection", started_on=date(2025, 1, 6),
                         plan_id=f"move:{move.event_id}:0")  # fmt: skip
        assert len(transfer_history(move, household(kept), PEOPLE, ON).plans) == 1

    def test_only_a_transfer_carries_the_history(self) -> None:
        """The new GP and school are not given the family's plan history by this block."""
        gp = Decision(Addressee("gp-new", ContactRole.SAFEGUARDING_LEAD),
                      NoticeType.GP_INFORMATION, Severity.MEDIUM, "move.new_gp",
                      ("kid",))  # fmt: skip
        assert plan_blocks(gp, moving(CP_PLAN), household(), PEOPLE, ON) == {}
        assert "history" in plan_blocks(transfer(), moving(CP_PLAN), household(), PEOPLE, ON)

    @given(st.lists(st.sampled_from(["child_protection", "child_in_need", "early_help"]),
                    max_size=4))  # fmt: skip
    def test_no_plan_is_ever_a_flattened_detail_key(self, kinds: list[str]) -> None:
        """Whatever plans a move lists, the event's detail holds none of them: they travel
        only structured."""
        move = moving(*({**CP_PLAN, "kind": k, "category": None} for k in kinds))
        assert not [key for key in event_detail(move) if key.startswith("plans")]


def stepped_down() -> ServiceWithdrawal:
    plan = step_down_plan(
        lead_professional=professional("Priya Shah") | {"org_id": "early-help-demo",
                                                        "phone": "0300 1"},
        action_owners=[professional("Tom Reed") | {"org_id": "school-oakfield",
                                                   "action": "Weekly check-in."}],
    )  # fmt: skip
    parsed = event(withdrawal_payload(reason="stepped_down", step_down=plan))
    assert isinstance(parsed, ServiceWithdrawal)
    return parsed


def owner_decision(org: str, rule_id: str = STEP_DOWN_RULE) -> Decision:
    return Decision(Addressee(org, ContactRole.SAFEGUARDING_LEAD), NoticeType.PLAN_OWNER,
                    Severity.MEDIUM, rule_id, ("kid",))  # fmt: skip


class TestStepDownPlan:
    def test_owners_read_the_whole_plan(self) -> None:
        """An action owner reads who leads, every owner's action, what to do if concerns
        return and the review date."""
        blocks = plan_blocks(owner_decision("school-oakfield"), stepped_down(), household(),
                             PEOPLE, ON)  # fmt: skip
        plan = blocks["step_down"]
        assert plan.your_role == "action_owner"
        assert plan.lead_professional.name == "Priya Shah"
        assert [o.action for o in plan.action_owners] == ["Weekly check-in."]
        assert plan.if_concerns_return == "Call the lead professional the same day."
        assert plan.review_by == date(2027, 8, 1)
        assert [c.given_name for c in plan.children] == ["Leo"]

    def test_the_lead_reads_that_it_leads(self) -> None:
        blocks = plan_blocks(owner_decision("early-help-demo"), stepped_down(), household(),
                             PEOPLE, ON)  # fmt: skip
        assert blocks["step_down"].your_role == "lead_professional"

    @pytest.mark.parametrize("kind", [k for k in NoticeType if k is not NoticeType.PLAN_OWNER])
    def test_no_other_reader_gets_the_plan(self, kind: NoticeType) -> None:
        """The plan is for its owners: other notices of the step-down do not carry it."""
        other = Decision(Addressee("gp-riverside", ContactRole.SAFEGUARDING_LEAD), kind,
                         Severity.LOW, STEP_DOWN_RULE, ("kid",))  # fmt: skip
        assert "step_down" not in plan_blocks(other, stepped_down(), household(), PEOPLE, ON)


def in_window() -> Family:
    lead = ProfessionalView(name="Priya Shah", role="Lead professional",
                            org_id="early-help-demo", phone="0300 1")  # fmt: skip
    plan = plan_view("kid", step_down_until=ON + timedelta(days=30), lead_org="early-help-demo",
                     owner_orgs=("school-oakfield",))  # fmt: skip
    plan = replace(plan, lead=lead, if_concerns_return="Call the lead professional.")
    return household(plan)


class TestConcernReturned:
    @pytest.mark.parametrize("org", ["early-help-demo", "school-oakfield"])
    def test_who_to_call_is_the_lead_professional(self, org: str) -> None:
        """Each owner's notice names the lead professional and how to reach them, whoever
        published the new concern."""
        crisis = event(withdrawal_payload())  # any new concern
        blocks = plan_blocks(owner_decision(org, CONCERN_RETURNED), crisis, in_window(),
                             PEOPLE, ON)  # fmt: skip
        assert blocks["who_to_call"] == "Priya Shah, Lead professional, Early Help (0200); 0300 1"
        assert blocks["step_down"].if_concerns_return == "Call the lead professional."

    def test_after_the_window_no_plan_is_given(self) -> None:
        """Outside the step-down window the notice carries no step-down plan."""
        crisis = event(withdrawal_payload())
        later = ON + timedelta(days=31)
        blocks = plan_blocks(owner_decision("school-oakfield", CONCERN_RETURNED), crisis,
                             in_window(), PEOPLE, later)  # fmt: skip
        assert "step_down" not in blocks
        assert "who_to_call" not in blocks

    def test_contact_line_without_phone(self) -> None:
        """A lead with no contact details is named with role and organisation."""
        lead = ProfessionalView(name="Priya Shah", role="Lead", org_id="eh")
        assert contact_line(lead) == "Priya Shah, Lead, eh"


class TestReviewReminder:
    def test_the_plan_as_the_lead_received_it_worded_as_its_review(self) -> None:
        """The reminder keeps everything the step-down notice said and says the review is
        due."""
        sent = NoticeBody(summary="plan", event_type="service_withdrawal",
                          occurred_at=RECEIVED, wording=("relation.self",))  # fmt: skip
        reminder = review_reminder(sent)
        assert reminder.wording == ("relation.self", REVIEW_WORDING)
        assert reminder.summary != sent.summary
        assert reminder.model_dump(exclude={"summary", "wording"}) == sent.model_dump(
            exclude={"summary", "wording"}
        )


class TestSchoolOwner:
    def test_a_school_owner_is_told_discreetly(self) -> None:
        """A school owning an action reads the plan, not the event's kind, detail, source or
        a rule naming a parent's condition."""
        decision = Decision(Addressee("school-oakfield", ContactRole.SAFEGUARDING_LEAD),
                            NoticeType.PLAN_OWNER, Severity.HIGH,
                            f"open_plan.parent_mental_health_crisis+{CONCERN_RETURNED}",
                            ("kid",),
                            {"suicidal_ideation": True, "plan": "child_in_need"})  # fmt: skip
        blocks = plan_blocks(decision, event(withdrawal_payload()), in_window(), PEOPLE, ON)
        assert blocks["event_type"] == "family_circumstances"
        assert (blocks["source_org"], blocks["detail"], blocks["rule_id"]) == (None, {}, None)
        assert blocks["facts"] == {"plan": "child_in_need"}
        assert "step_down" in blocks

    def test_a_school_owner_gets_a_schools_digest(self) -> None:
        """Its digest is a school's: earlier incidents and its pupils' plans, no event kinds."""
        school = owner_decision("school-oakfield")
        assert digest_kind(school, household()) is NoticeType.SCHOOL_SUPPORT
        assert digest_kind(owner_decision("early-help-demo"), household()) is (
            NoticeType.PLAN_OWNER
        )
