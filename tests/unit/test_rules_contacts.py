"""Contacts and lateral checks (Child B: a midwife's checks were never recorded): the lead
professional of an open plan for a child concerned is told; nobody else; no pattern counts it;
the digest of a later notice shows it as an event, not an incident."""

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.rules.contacts import route_contact
from broker.rules.digest import digest_for
from broker.rules.family import (
    NOT_A_CONCERN,
    Addressee,
    ContactRole,
    Family,
    HouseholdHistory,
    PlanView,
)
from broker.rules.history import PersonHistory
from broker.rules.routing import decide, recorded_signals
from schemas.events import AgencyContact
from schemas.notices import NoticeType, Severity
from unit.builders import (
    ON,
    RECEIVED,
    child,
    contact_payload,
    event,
    family,
    parent,
    past_event,
    past_notices,
    plan_view,
    with_context,
)

KID = child("kid", school="school-oakfield", gp="gp-northgate")
SISTER = child("sister", years=3, health_visiting="hv-demo")
MUM = parent("mum", gp="gp-riverside")
LEAD = Addressee("eh-demo", ContactRole.SAFEGUARDING_LEAD)


def contact(**overrides: Any) -> AgencyContact:
    parsed = event(contact_payload(**overrides))
    assert isinstance(parsed, AgencyContact)
    return parsed


def household(*plans: PlanView, subject: str = "mum", history: HouseholdHistory | None = None
              ) -> Family:  # fmt: skip
    return with_context(family(MUM, KID, SISTER, subject=subject), plans=plans, history=history)


class TestWhoIsTold:
    @pytest.mark.parametrize(
        ("subject", "plans", "told_about"),
        [
            ("mum", (plan_view("kid", lead_org="eh-demo"),), {("kid",)}),
            ("mum", (plan_view("kid", lead_org="eh-demo"), plan_view("sister", lead_org="eh-demo",
                                                                     plan_id="p2")),
             {("kid",), ("sister",)}),
            ("kid", (plan_view("kid", lead_org="eh-demo"), plan_view("sister", lead_org="eh-demo",
                                                                     plan_id="p2")),
             {("kid",)}),
            ("mum", (plan_view("kid", lead_org="eh-demo", ended_on=ON - timedelta(days=30)),),
             set()),
            ("mum", (plan_view("kid"),), set()),
            ("mum", (), set()),
        ],
        ids=["a parent: her child's plan", "a parent: each child's plan", "a child: its own plan",
             "a closed plan", "a plan with no lead", "no plan"],
    )  # fmt: skip
    def test_only_the_lead_of_an_open_plan(
        self, subject: str, plans: tuple[PlanView, ...], told_about: set[tuple[str, ...]]
    ) -> None:
        """The lead of each open plan for a child concerned (the child named, or a named
        parent's children) hears, once per child, at low severity; nobody else."""
        decisions = route_contact(contact(), household(*plans, subject=subject), ON)
        assert {d.about for d in decisions} == told_about
        assert {(d.addressee, d.notice_type, d.severity) for d in decisions} <= {
            (LEAD, NoticeType.PLAN_OWNER, Severity.LOW)
        }

    def test_decide_adds_no_other_notice(self) -> None:
        """After every common step (patterns, plans, out of hours), still only the lead."""
        fam = household(plan_view("kid", lead_org="eh-demo"))
        decisions = decide(contact(), fam, PersonHistory(), RECEIVED)
        assert [(d.addressee, d.rule_id) for d in decisions] == [(LEAD, "contact.plan_lead")]

    def test_not_a_concern_for_the_patterns(self) -> None:
        """Two concerns already in the window: a contact is not the third (no accumulation
        referral), and the chronology marks it as no concern for later counts."""
        history = HouseholdHistory(
            events=(past_event(10), past_event(20)),
            notices=(*past_notices("e1", 10, Severity.MEDIUM),
                     *past_notices("e2", 20, Severity.MEDIUM)),
        )  # fmt: skip
        fam = household(plan_view("kid", lead_org="eh-demo"), history=history)
        decisions = decide(contact(), fam, PersonHistory(), RECEIVED)
        assert NoticeType.FRONT_DOOR_REFERRAL not in {d.notice_type for d in decisions}
        assert NOT_A_CONCERN in recorded_signals(contact())


class TestDigest:
    def test_a_contact_is_an_event_not_an_incident(self) -> None:
        """A later notice's digest lists the contact among the events, not the incidents."""
        history = HouseholdHistory(events=(past_event(5, event_type="agency_contact"),
                                           past_event(40)))  # fmt: skip
        digest = digest_for(NoticeType.PLAN_OWNER, household(history=history), RECEIVED)
        assert digest.earlier_incidents_12_months == 1
        assert digest.events_12_months == {"agency_contact": 1, "parent_mental_health_crisis": 1}


class TestProperty:
    @settings(max_examples=60, deadline=None)
    @given(
        st.sampled_from(["mum", "kid", "sister"]),
        st.lists(st.tuples(st.sampled_from(["kid", "sister"]), st.booleans(),
                           st.sampled_from(["eh-demo", "csc-demo", None])), max_size=3),
        st.sampled_from(["contact", "lateral_check"]),
    )  # fmt: skip
    def test_only_plan_leads_low(
        self, subject: str, plans: list[tuple[str, bool, str | None]], kind: str
    ) -> None:
        """Whatever the family and plans, every notice is a low plan-owner notice to the lead
        of an open plan for a child the contact concerns."""
        views = tuple(plan_view(child_id, lead_org=lead, plan_id=f"p{i}",
                                ended_on=None if is_open else ON - timedelta(days=1))
                      for i, (child_id, is_open, lead) in enumerate(plans))  # fmt: skip
        fam = household(*views, subject=subject)
        concerned = {"kid", "sister"} if subject == "mum" else {subject}
        leads = {(p.lead_org, p.person_id) for p in views
                 if p.is_open(ON) and p.lead_org and p.person_id in concerned}  # fmt: skip
        decisions = decide(contact(contact_kind=kind), fam, PersonHistory(), RECEIVED)
        assert {(d.addressee.org_id, d.about[0]) for d in decisions} == leads
        assert all((d.notice_type, d.severity) == (NoticeType.PLAN_OWNER, Severity.LOW)
                   for d in decisions)  # fmt: skip
