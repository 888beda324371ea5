"""Pregnancy and unborn babies (Child B: Safeguarding Unborn Baby procedures not followed): a
pregnancy in a family with a previous child protection plan, a parent's mental health crisis,
domestic abuse or substance misuse reaches health visiting, both parents' GPs and the front
door ("consider a pre-birth assessment"); any other pregnancy, health visiting alone."""

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.rules.accuracy import reading
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
from broker.rules.minimisation import THIRD_PARTY_WORDING, compose_body, event_detail
from broker.rules.pregnancy import (
    CONSIDER_PRE_BIRTH,
    DOMESTIC_ABUSE,
    MENTAL_HEALTH,
    NO_UNBORN_RECORD,
    PREVIOUS_CP,
    SUBSTANCE_MISUSE,
    route_pregnancy,
)
from broker.rules.routing import decide
from schemas.events import PregnancyNotification
from schemas.notices import NoticeBody, NoticeType, PersonView, Relation, Severity
from unit.builders import (
    FATHER_NHS,
    FRONT_DOOR,
    MOTHER_NHS,
    ON,
    RECEIVED,
    child,
    crisis_payload,
    event,
    family,
    parent,
    parent_of,
    past_event,
    plan_view,
    pregnancy_payload,
    unborn,
    with_context,
)

MUM = parent("mum", gp="gp-riverside")
DAD = parent("dad", "h2", gp="gp-hillview")  # the father lives apart, at another practice
BABY = unborn()
SIBLING = child("sibling", years=6, school="school-oakfield", gp="gp-northgate")
HEALTH_VISITING = Addressee("hv-demo", ContactRole.SAFEGUARDING_LEAD)
DOOR = Addressee(FRONT_DOOR, ContactRole.DUTY_MANAGER)
ENDED_CP = plan_view("sibling", kind="child_protection", started_on=ON - timedelta(days=900),
                     ended_on=ON - timedelta(days=500))  # fmt: skip


def booking(*concerns: str, **overrides: Any) -> PregnancyNotification:
    parsed = event(pregnancy_payload(*concerns, **overrides))
    assert isinstance(parsed, PregnancyNotification)
    return parsed


def expecting(
    *children: Member,
    history: HouseholdHistory | None = None,
    plans: tuple[PlanView, ...] = (),
) -> Family:
    """Mum and dad, both named by the booking; the unborn child is tied to both parents as
    the directory's household derivation and stated ties make it."""
    ties = tuple(parent_of("dad", c.person_id) for c in children)
    fam = family(MUM, DAD, *children, present=("dad",), ties=ties)
    return with_context(fam, history=history, plans=plans)


def replace_end(plan: PlanView) -> PlanView:
    return replace(plan, ended_on=None)


def history(*events: Any) -> HouseholdHistory:
    return HouseholdHistory(events=events)


def readers(decisions: list[Decision]) -> set[tuple[str, NoticeType]]:
    return {(d.addressee.org_id, d.notice_type) for d in decisions}


CONCERNED = {
    ("hv-demo", NoticeType.HEALTH_VISITING),
    ("gp-riverside", NoticeType.GP_INFORMATION),
    ("gp-hillview", NoticeType.GP_INFORMATION),
    (FRONT_DOOR, NoticeType.FRONT_DOOR_REFERRAL),
}


class TestWhoIsTold:
    @pytest.mark.parametrize(
        ("why", "fam", "parsed"),
        [
            (PREVIOUS_CP, expecting(BABY, SIBLING, plans=(ENDED_CP,)), booking()),
            (PREVIOUS_CP, expecting(BABY, SIBLING, plans=(replace_end(ENDED_CP),)), booking()),
            (PREVIOUS_CP, expecting(BABY), booking("previous_child_protection")),
            (PREVIOUS_CP, expecting(BABY), booking("previous_children_removed")),
            (MENTAL_HEALTH, expecting(BABY, history=history(past_event(400))), booking()),
            (MENTAL_HEALTH, expecting(BABY, history=history(past_event(30, "mental_health",
                                                                       event_type="ed_attendance"))),
             booking()),
            (MENTAL_HEALTH, expecting(BABY), booking("mental_health")),
            (DOMESTIC_ABUSE, expecting(BABY, history=history(past_event(
                90, "domestic_abuse", event_type="police_domestic_abuse_incident"))), booking()),
            (DOMESTIC_ABUSE, expecting(BABY, history=history(past_event(90, "domestic_abuse"))),
             booking()),
            (DOMESTIC_ABUSE, expecting(BABY), booking("domestic_abuse")),
            (SUBSTANCE_MISUSE, expecting(BABY), booking("substance_misuse")),
        ],
        ids=["ended CP plan", "open CP plan", "CP disclosed at booking", "children removed",
             "a crisis in the history", "a crisis presentation at ED", "mental health at booking",
             "a police incident", "a crisis's domestic-abuse flag", "abuse disclosed at booking",
             "substance misuse at booking"],
    )  # fmt: skip
    def test_a_concern_reaches_health_visiting_both_gps_and_the_front_door(
        self, why: str, fam: Family, parsed: PregnancyNotification
    ) -> None:
        """Each reason alone tells the unborn child's health visitors, both parents' GPs and
        the front door, all at medium, naming the reason."""
        decisions = route_pregnancy(parsed, fam, ON)
        assert readers(decisions) == CONCERNED
        assert {d.severity for d in decisions} == {Severity.MEDIUM}
        assert all(d.facts[why] for d in decisions)

    def test_the_front_door_is_asked_to_consider_a_pre_birth_assessment(self) -> None:
        """The referral names the unborn child and both parents, with the wording key."""
        decisions = route_pregnancy(booking("mental_health"), expecting(BABY), ON)
        [door] = [d for d in decisions if d.addressee == DOOR]
        assert door.facts[CONSIDER_PRE_BIRTH] is True
        assert door.about == ("baby", "mum", "dad")

    def test_a_routine_pregnancy_tells_health_visiting_alone(self) -> None:
        """No plan, crisis, abuse or misuse: the health visitors' antenatal contact, at low."""
        decisions = route_pregnancy(booking("late_booking"), expecting(BABY, SIBLING), ON)
        assert [(d.addressee, d.severity, d.about) for d in decisions] == [
            (HEALTH_VISITING, Severity.LOW, ("baby",))
        ]
        assert CONSIDER_PRE_BIRTH not in decisions[0].facts

    def test_a_child_in_need_plan_is_no_previous_child_protection(self) -> None:
        """Only a child protection plan counts as one; a child in need plan does not."""
        cin = plan_view("sibling", kind="child_in_need", ended_on=ON)
        decisions = route_pregnancy(booking(), expecting(BABY, SIBLING, plans=(cin,)), ON)
        assert readers(decisions) == {("hv-demo", NoticeType.HEALTH_VISITING)}

    def test_twins_are_each_named(self) -> None:
        """Two unborn records (twins): the health visitors hear of each."""
        twin = unborn("baby-2")
        decisions = route_pregnancy(booking(babies=2), expecting(BABY, twin), ON)
        assert sorted(d.about for d in decisions) == [("baby",), ("baby-2",)]

    def test_no_unborn_record_tells_the_front_door_instead(self) -> None:
        """The directory holds no unborn child: the front door hears in health visiting's
        place, about the mother, with the reason (nothing silent)."""
        [door] = route_pregnancy(booking(), expecting(SIBLING), ON)
        assert (door.addressee, door.about, door.rule_id) == (
            DOOR,
            ("mum",),
            f"pregnancy.{NO_UNBORN_RECORD}",
        )
        assert door.facts["fallback_reason"] == NO_UNBORN_RECORD

    def test_an_unborn_child_without_health_visitors_falls_back(self) -> None:
        """An unborn record with no health visiting team: the front door, with the reason."""
        [door] = route_pregnancy(booking(), expecting(unborn(health_visiting=None)), ON)
        assert (door.addressee, door.rule_id) == (DOOR, "pregnancy.child.fallback")


class TestOpenPlans:
    def test_lead_of_a_siblings_open_plan_is_told(self) -> None:
        """A pregnancy is news for the lead professional of a child's open plan."""
        cin = plan_view("sibling", lead_org="csc-demo")
        decisions = decide(booking(), expecting(BABY, SIBLING, plans=(cin,)), PersonHistory(),
                           RECEIVED)  # fmt: skip
        leads = [d for d in decisions if d.notice_type is NoticeType.PLAN_OWNER]
        assert [(d.addressee.org_id, d.about) for d in leads] == [("csc-demo", ("sibling",))]


class TestUnbornChildInOtherEvents:
    def test_a_parents_crisis_reaches_the_unborn_childs_health_visitors(self) -> None:
        """Think family: the unborn child is a child of the household, so a parent's crisis
        reaches its health visiting team as it would a baby's."""
        decisions = decide(event(crisis_payload()), expecting(BABY), PersonHistory(), RECEIVED)
        told = [d for d in decisions if d.addressee == HEALTH_VISITING]
        assert [(d.rule_id, d.about) for d in told] == [("crisis.child", ("baby",))]


PEOPLE = {
    "mum": PersonView(given_name="Jess", nhs_number=MOTHER_NHS, role="parent_or_carer"),
    "dad": PersonView(given_name="Dan", nhs_number=FATHER_NHS, role="parent_or_carer"),
    "baby": PersonView(role="child"),
}


def bodies(parsed: PregnancyNotification, fam: Family) -> dict[str, NoticeBody]:
    """Each recipient's body, by organisation, read as it reads it."""
    return {
        d.addressee.org_id: compose_body(d, parsed, PEOPLE, "Maternity", "Front door",
                                         reading=reading(d, parsed, fam))
        for d in route_pregnancy(parsed, fam, ON)
    }  # fmt: skip


class TestWhatEachReaderSees:
    def test_fathers_gp_reads_only_of_its_patients_unborn_child(self) -> None:
        """The father's practice (third party): the due date and the pre-birth prompt, never
        the mother's concerns, history or maternity's detail, marked not for online access."""
        gp = bodies(booking("mental_health", "domestic_abuse"), expecting(BABY))["gp-hillview"]
        assert gp.third_party
        assert THIRD_PARTY_WORDING in gp.wording
        assert gp.detail == {}
        assert set(gp.facts) == {"unborn_expected_on", "unborn_babies", CONSIDER_PRE_BIRTH}
        assert [p.given_name for p in gp.about] == ["Dan"]

    def test_mothers_gp_reads_its_own_patients_pregnancy(self) -> None:
        """The mother's practice: its own patient's booking, with maternity's concerns."""
        gp = bodies(booking("mental_health"), expecting(BABY))["gp-riverside"]
        assert (gp.relation, gp.third_party) == (Relation.SELF, False)
        assert gp.detail["concerns.0"] == "mental_health"
        assert gp.facts[MENTAL_HEALTH] is True

    def test_the_front_door_reads_the_pre_birth_wording_key(self) -> None:
        """The prompt is a fact and a fixed wording key the front door's system words."""
        door = bodies(booking("domestic_abuse"), expecting(BABY))[FRONT_DOOR]
        assert door.facts[CONSIDER_PRE_BIRTH] is True
        assert "pregnancy.consider_pre_birth_assessment" in door.wording

    def test_a_routine_pregnancy_carries_no_prompt(self) -> None:
        """Health visiting's notice of a routine pregnancy asks for no assessment."""
        health = bodies(booking(), expecting(BABY))["hv-demo"]
        assert CONSIDER_PRE_BIRTH not in health.facts
        assert "pregnancy.consider_pre_birth_assessment" not in health.wording

    def test_parents_never_travel_as_detail(self) -> None:
        """Mother and father are people (``about``), never flattened detail."""
        detail = event_detail(booking())
        assert not {k.split(".")[0] for k in detail} & {"mother", "father"}


REASONS = st.lists(
    st.sampled_from(["previous_child_protection", "previous_children_removed", "mental_health",
                     "domestic_abuse", "substance_misuse", "parent_learning_disability",
                     "late_booking"]), max_size=4, unique=True)  # fmt: skip
PAST = st.lists(
    st.sampled_from([past_event(10), past_event(20, "domestic_abuse"),
                     past_event(30, event_type="service_withdrawal"),
                     past_event(40, "not_a_concern", event_type="service_withdrawal"),
                     past_event(50, "domestic_abuse",
                                event_type="police_domestic_abuse_incident")]),
    max_size=3)  # fmt: skip
TRIGGERS = {"previous_child_protection", "previous_children_removed", "mental_health",
            "domestic_abuse", "substance_misuse"}  # fmt: skip


class TestProperty:
    @settings(max_examples=80, deadline=None)
    @given(REASONS, PAST, st.booleans(), st.booleans())
    def test_front_door_exactly_when_a_reason_and_health_visiting_always(
        self, concerns: list[str], past: list[Any], cp_plan: bool, twins: bool
    ) -> None:
        """Whatever maternity recorded and the family's history holds: health visiting hears
        of every unborn child; the GPs and the front door hear exactly when there is a reason,
        then asked to consider a pre-birth assessment; a routine pregnancy is low."""
        babies = (BABY, unborn("baby-2")) if twins else (BABY,)
        plans = (ENDED_CP,) if cp_plan else ()
        fam = expecting(*babies, SIBLING, history=history(*past), plans=plans)
        decisions = route_pregnancy(booking(*concerns), fam, ON)
        reason = (
            bool(TRIGGERS & set(concerns))
            or cp_plan
            or any(e.event_type != "service_withdrawal" for e in past)
        )
        told_hv = {d.about for d in decisions if d.addressee == HEALTH_VISITING}
        assert told_hv == {(b.person_id,) for b in babies}
        to_door = [d for d in decisions if d.addressee == DOOR]
        assert bool(to_door) == reason
        assert all(d.facts.get(CONSIDER_PRE_BIRTH) for d in to_door)
        gps = {d.addressee.org_id for d in decisions if d.notice_type is NoticeType.GP_INFORMATION}
        assert gps == ({"gp-riverside", "gp-hillview"} if reason else set())
        assert {d.severity for d in decisions} == {Severity.MEDIUM if reason else Severity.LOW}
