"""Children already known: any new event about a child on an open plan reaches its lead."""

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.rules.family import Addressee, ContactRole, Decision, Family, PlanView
from broker.rules.history import PersonHistory
from broker.rules.plans import concerned_children, route_open_plans
from broker.rules.routing import decide
from schemas.events import AppointmentOutcome
from schemas.notices import NoticeType, Severity
from unit.builders import (
    AREA,
    ON,
    OTHER_AREA,
    OTHER_FRONT_DOOR,
    PAYLOADS,
    RECEIVED,
    SEVERITY_RANK,
    appointment_payload,
    child,
    crisis_payload,
    ed_payload,
    event,
    family,
    in_area,
    move_payload,
    parent,
    plan_view,
    with_context,
    withdrawal_payload,
)

LEAD = "csc-demo"
LEAD_ADDRESSEE = Addressee(LEAD, ContactRole.SAFEGUARDING_LEAD)


def household(subject: str, *plans: PlanView) -> Family:
    """Mum with two children: 'kid' (eight, at school) and 'sib' (three, health visiting)."""
    return with_context(
        family(
            parent("mum", gp="gp-riverside", involved=("mh-demo",)),
            child("kid", years=8, school="school-oakfield", gp="gp-northgate"),
            child("sib", years=3, health_visiting="hv-demo", gp="gp-northgate"),
            subject=subject,
        ),
        plans=plans,
    )


def cp_plan(person_id: str = "kid", **changes: Any) -> PlanView:
    return plan_view(person_id, kind="child_protection", lead_org=LEAD, **changes)


def decided(payload: dict[str, Any], fam: Family) -> list[Decision]:
    return decide(event(payload), fam, PersonHistory(), RECEIVED)


def to_leads(decisions: list[Decision]) -> list[Decision]:
    return [d for d in decisions if d.notice_type is NoticeType.PLAN_OWNER]


class TestChildsOwnEvents:
    def test_child_on_child_protection_plan_attending_ed(self) -> None:
        """A first, unremarkable ED attendance of a child on a CP plan: HIGH to the lead."""
        decisions = decided(ed_payload(presenting_category="other"), household("kid", cp_plan()))
        [lead] = decisions
        assert (lead.addressee, lead.notice_type, lead.severity) == (
            LEAD_ADDRESSEE,
            NoticeType.PLAN_OWNER,
            Severity.HIGH,
        )
        assert (lead.rule_id, lead.about) == ("open_plan.ed_attendance", ("kid",))
        assert dict(lead.facts) == {"plan": "child_protection", "event_about": "this_child"}

    @pytest.mark.parametrize("kind", ["child_in_need", "early_help"])
    def test_other_plans_are_at_least_medium(self, kind: str) -> None:
        """A child in need or early-help plan's lead hears at MEDIUM when nothing else fired."""
        plan = plan_view("kid", kind=kind, lead_org=LEAD)
        [lead] = decided(ed_payload(presenting_category="other"), household("kid", plan))
        assert (lead.addressee, lead.severity) == (LEAD_ADDRESSEE, Severity.MEDIUM)

    def test_other_plans_follow_the_events_severity(self) -> None:
        """A child in need plan's lead hears a child's self-harm at HIGH, like everyone else."""
        plan = plan_view("kid", kind="child_in_need", lead_org=LEAD)
        decisions = decided(ed_payload(presenting_category="self_harm"), household("kid", plan))
        [lead] = to_leads(decisions)
        assert lead.severity is Severity.HIGH

    def test_single_was_not_brought_reaches_the_lead(self) -> None:
        """One missed appointment, far below any rate threshold, goes to the plan's lead."""
        [lead] = decided(appointment_payload(), household("kid", cp_plan()))
        assert (lead.addressee, lead.rule_id) == (LEAD_ADDRESSEE, "open_plan.appointment_outcome")

    def test_attended_appointment_is_not_news(self) -> None:
        """An appointment the child was brought to tells nobody."""
        assert decided(appointment_payload(outcome="attended"), household("kid", cp_plan())) == []

    @pytest.mark.parametrize(
        ("reason", "told"),
        [("non_engagement", True), ("declined", True), ("moved", True), ("completed", False)],
    )
    def test_withdrawal_about_the_child(self, reason: str, told: bool) -> None:
        """A service withdrawing from the child is news unless it completed its work."""
        decisions = decided(withdrawal_payload(reason=reason), household("kid", cp_plan()))
        assert bool(to_leads(decisions)) is told


class TestEventsAboutTheFamily:
    def test_parents_crisis_reaches_each_childs_lead(self) -> None:
        """A parent's crisis goes to the lead of each child's open plan, saying it is a
        parent's event; a child without a plan brings no lead in."""
        plans = (cp_plan("kid"), plan_view("sib", kind="early_help", lead_org="early-help-demo"))
        leads = to_leads(decided(crisis_payload(), household("mum", *plans)))
        assert {(d.addressee.org_id, d.about) for d in leads} == {
            (LEAD, ("kid",)),
            ("early-help-demo", ("sib",)),
        }
        assert {d.facts["event_about"] for d in leads} == {"a_parent"}
        assert {d.rule_id for d in leads} == {"open_plan.parent_mental_health_crisis"}

    def test_parents_self_harm_at_ed_reaches_the_lead(self) -> None:
        """A parent's self-harm at ED is a parent's crisis: the children's leads hear of it."""
        payload = ed_payload(presenting_category="self_harm")
        assert to_leads(decided(payload, household("mum", cp_plan())))

    def test_parents_injury_at_ed_is_not_about_the_children(self) -> None:
        """A parent's injury attendance is about the parent, not the children's plans."""
        payload = ed_payload(presenting_category="injury")
        assert not to_leads(decided(payload, household("mum", cp_plan())))

    def test_parent_disengaging_reaches_the_childrens_lead(self) -> None:
        """A service withdrawing from a parent for non-engagement is news for the children."""
        assert to_leads(decided(withdrawal_payload(), household("mum", cp_plan())))

    def test_move_reaches_every_childs_lead(self) -> None:
        """A move of the household goes to the lead of each child's open plan; the CP plan
        makes the move HIGH, and the other lead hears it as severe as the transfer."""
        plans = (cp_plan("kid"), plan_view("sib", lead_org="early-help-demo", plan_id="p2"))
        leads = to_leads(decided(move_payload(), household("mum", *plans)))
        assert {(d.addressee.org_id, d.about, d.severity) for d in leads} == {
            (LEAD, ("kid",), Severity.HIGH),
            ("early-help-demo", ("sib",), Severity.HIGH),
        }
        assert {d.facts["event_about"] for d in leads} == {"household"}


class TestWhichPlans:
    @pytest.mark.parametrize(
        "plan",
        [
            cp_plan(ended_on=ON - timedelta(days=1)),
            cp_plan(started_on=ON + timedelta(days=1)),
            cp_plan("someone-else"),
        ],
        ids=["closed", "not_yet_started", "another_childs"],
    )
    def test_only_open_plans_of_the_child(self, plan: PlanView) -> None:
        """A closed plan, one not yet started, or another child's plan brings no lead in."""
        assert decided(ed_payload(presenting_category="other"), household("kid", plan)) == []

    def test_one_notice_per_lead_the_most_severe(self) -> None:
        """Two open plans of one child with one lead: one notice, at the higher severity."""
        plans = (cp_plan(plan_id="p1"), plan_view("kid", lead_org=LEAD, plan_id="p2"))
        [lead] = route_open_plans(event(ed_payload()), household("kid", *plans), ON)
        assert lead.severity is Severity.HIGH

    def test_plan_without_a_lead_goes_to_the_childs_front_door(self) -> None:
        """No lead on record: the front door of the child's area, so nobody is left untold."""
        kid = in_area(child("kid", years=8), OTHER_AREA)
        fam = with_context(
            family(parent("mum"), kid, subject="kid", area=AREA),
            plans=(plan_view("kid", kind="child_protection"),),
        )
        [front] = route_open_plans(event(ed_payload()), fam, ON)
        assert front.addressee == Addressee(OTHER_FRONT_DOOR, ContactRole.DUTY_MANAGER)
        assert (front.notice_type, front.severity) == (
            NoticeType.FRONT_DOOR_REFERRAL,
            Severity.HIGH,
        )
        assert front.facts["no_lead_professional_recorded"] is True

    def test_unknown_subject_concerns_no_child(self) -> None:
        """An event whose subject the directory does not know concerns no known child."""
        assert concerned_children(event(ed_payload()), household("nobody", cp_plan())) == ()


class TestThroughDecide:
    def test_was_not_brought_pattern_and_plan_make_one_notice(self) -> None:
        """The rate pattern's own plan-lead notice and this rule's merge into one."""
        parsed = event(appointment_payload())
        assert isinstance(parsed, AppointmentOutcome)
        history = PersonHistory(appointments=((parsed.booked_for, "was_not_brought"),) * 4)
        decisions = decide(parsed, household("kid", cp_plan()), history, RECEIVED)
        [lead] = to_leads(decisions)
        assert lead.severity is Severity.HIGH
        assert "was_not_brought.plan_lead" in lead.rule_id
        assert "open_plan.appointment_outcome" in lead.rule_id

    def test_step_down_window_and_open_plan_make_one_notice_to_the_lead(self) -> None:
        """A plan in its step-down window is open too: its lead gets one notice, not two."""
        plan = plan_view("kid", lead_org=LEAD, step_down_until=ON + timedelta(days=30))
        leads = to_leads(decided(crisis_payload(), household("mum", plan)))
        assert [d.addressee for d in leads] == [LEAD_ADDRESSEE]
        assert "step_down.concern_returned" in leads[0].rule_id
        assert "open_plan.parent_mental_health_crisis" in leads[0].rule_id


# ------------------------------------------------------------------------- properties
# Events that concern 'kid': its own (ED, a missed appointment, a withdrawal that is news),
# or its mother's crisis, or the household's move.
KID_EVENTS = st.one_of(
    st.builds(
        lambda category, intent: ("kid", ed_payload(presenting_category=category, intent=intent)),
        st.sampled_from(
            ["injury", "ingestion_or_poisoning", "self_harm", "mental_health", "other"]
        ),
        st.sampled_from([None, "accidental", "deliberate", "unknown"]),
    ),
    st.just(("kid", appointment_payload())),
    st.builds(
        lambda reason: ("kid", withdrawal_payload(reason=reason)),
        st.sampled_from(["non_engagement", "declined", "moved"]),
    ),
    st.builds(
        lambda flags: ("mum", crisis_payload(**flags)),
        st.fixed_dictionaries(
            {f: st.booleans() for f in ("suicidal_ideation", "domestic_abuse", "admitted")}
        ),
    ),
    st.just(("mum", move_payload())),
)
ANY_EVENT = st.one_of(
    KID_EVENTS,
    st.builds(lambda kind, subject: (subject, PAYLOADS[kind]()),
              st.sampled_from(sorted(PAYLOADS)), st.sampled_from(["mum", "kid", "sib"])),
)  # fmt: skip
PLANS = st.builds(
    lambda kind, lead, person: plan_view(person, kind=kind, lead_org=lead),
    st.sampled_from(["child_protection", "child_in_need", "early_help"]),
    st.sampled_from([LEAD, "early-help-demo", None]),
    st.sampled_from(["kid", "sib"]),
)


def keyed(decisions: list[Decision]) -> dict[tuple[Addressee, NoticeType, str], int]:
    """Who is told about whom, how severely: a front door's one referral for the event may
    name more people once a plan adds its own concern to it."""
    told: dict[tuple[Addressee, NoticeType, str], int] = {}
    for d in decisions:
        for person in d.about:
            key = (d.addressee, d.notice_type, person)
            told[key] = max(told.get(key, 0), SEVERITY_RANK[d.severity])
    return told


class TestProperties:
    @settings(max_examples=150, deadline=None)
    @given(case=KID_EVENTS)
    def test_any_event_about_a_child_on_a_cp_plan_reaches_its_lead_high(
        self, case: tuple[str, dict[str, Any]]
    ) -> None:
        """Whatever the event concerning the child, its CP plan's lead gets a HIGH notice."""
        subject, payload = case
        decisions = decided(payload, household(subject, cp_plan()))
        leads = [d for d in to_leads(decisions) if d.addressee == LEAD_ADDRESSEE]
        assert [(d.about, d.severity) for d in leads] == [(("kid",), Severity.HIGH)]

    @settings(max_examples=150, deadline=None)
    @given(case=ANY_EVENT, plans=st.lists(PLANS, max_size=2), extra=PLANS)
    def test_adding_an_open_plan_never_removes_or_lowers_a_notice(
        self, case: tuple[str, dict[str, Any]], plans: list[PlanView], extra: PlanView
    ) -> None:
        """With one more open plan, every notice sent before is still sent, as severe."""
        subject, payload = case
        before = keyed(decided(payload, household(subject, *plans)))
        after = keyed(decided(payload, household(subject, *plans, extra)))
        assert all(key in after and after[key] >= rank for key, rank in before.items())
