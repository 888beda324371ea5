"""Whom a school is told to call (someone who received the event's notices), and the open
plans a joining school is told of."""

from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.rules.family import (
    Addressee,
    ContactRole,
    Decision,
    Family,
    OrgKind,
    PlanView,
)
from broker.rules.school_contact import (
    EDUCATION_OFFICER,
    FRONT_DOOR,
    LEAD_PROFESSIONAL,
    NAMEABLE_TO_SCHOOL,
    REFERRING_SERVICE,
    lead_line,
    plans_for_school,
    who_to_call,
)
from schemas.events import FamilyMovingArea
from schemas.notices import NoticeType, PersonView, ProfessionalView, Severity
from unit.builders import (
    FRONT_DOOR as DOOR,
)
from unit.builders import (
    ON,
    ORG_KINDS,
    OTHER_AREA,
    OTHER_FRONT_DOOR,
    child,
    crisis_payload,
    event,
    family,
    in_area,
    move_payload,
    parent,
    plan_view,
    with_context,
)

LINES = {
    DOOR: "Demo Front Door (01632 960000)",
    OTHER_FRONT_DOOR: "Other Front Door (01632 961000)",
    "police-demo": "Demo Police Hub (01632 960900)",
    "mh-demo": "Demo Mental Health Service (01632 960800)",
    "early-help-demo": "Demo Early Help (01632 960901)",
    "school-oakfield": "Oakfield Primary School (01632 960001)",
}
KINDS = {**ORG_KINDS, "police-demo": OrgKind.POLICE}
SOCIAL_WORKER = ProfessionalView(
    name="Sam Okoro", role="Social worker", org_id="early-help-demo", phone="07700 900123"
)


def with_lines(fam: Family) -> Family:
    """The family with the organisations' lines, and a police force among them."""
    return replace(with_context(fam, org_lines=LINES), org_kinds=KINDS)


def carters(*plans: PlanView) -> Family:
    fam = family(
        parent("mum", "h1", gp="gp-riverside"),
        child("kid", "h1", years=8, school="school-oakfield"),
        child("sis", "h1", years=10, school="school-oakfield"),
    )
    return with_lines(with_context(fam, plans=plans))


def to_school(about: str = "kid") -> Decision:
    return Decision(Addressee("school-oakfield", ContactRole.KEY_ADULT),
                    NoticeType.SCHOOL_SUPPORT, Severity.HIGH, "crisis.child", (about,))  # fmt: skip


def referral(door: str = DOOR, kind: NoticeType = NoticeType.FRONT_DOOR_REFERRAL) -> Decision:
    return Decision(Addressee(door, ContactRole.DUTY_MANAGER), kind, Severity.HIGH,
                    "crisis.front_door", ("mum", "kid"))  # fmt: skip


def to_lead(org: str = "early-help-demo", about: str = "kid") -> Decision:
    return Decision(Addressee(org, ContactRole.SAFEGUARDING_LEAD), NoticeType.PLAN_OWNER,
                    Severity.MEDIUM, "open_plan.parent_mental_health_crisis", (about,))  # fmt: skip


def early_help(person: str = "kid", lead: ProfessionalView | None = SOCIAL_WORKER) -> PlanView:
    plan = plan_view(person, kind="early_help", lead_org="early-help-demo",
                     plan_id=f"plan-{person}")  # fmt: skip
    return replace(plan, lead=lead)


class TestWhoToCall:
    def test_the_front_door_when_it_was_told(self) -> None:
        """A front door told of the event is whom the school calls, whoever referred it."""
        decisions = [to_school(), referral()]
        caller = who_to_call(to_school(), decisions, "police-demo", carters(), ON)
        assert caller is not None
        assert (caller.role, caller.line) == (FRONT_DOOR, LINES[DOOR])

    def test_a_transfer_tells_the_receiving_front_door(self) -> None:
        """A move's receiving front door received the family's history: it knows."""
        decisions = [referral(OTHER_FRONT_DOOR, NoticeType.TRANSFER)]
        caller = who_to_call(to_school(), decisions, "mh-demo", carters(), ON)
        assert caller is not None
        assert caller.line == LINES[OTHER_FRONT_DOOR]

    def test_the_childs_own_front_door_first(self) -> None:
        """Told in two areas, the school is given the front door where its pupil lives."""
        fam = carters()
        moved = [in_area(m, OTHER_AREA) if m.person_id == "kid" else m for m in fam.members]
        fam = replace(fam, members=tuple(moved))
        decisions = [referral(DOOR), referral(OTHER_FRONT_DOOR)]
        caller = who_to_call(to_school(), decisions, "mh-demo", fam, ON)
        assert caller is not None
        assert caller.line == LINES[OTHER_FRONT_DOOR]

    def test_the_referring_service_when_a_school_may_know_it(self) -> None:
        """Front door not told: the police who referred it (Operation Encompass)."""
        caller = who_to_call(to_school(), [to_school()], "police-demo", carters(), ON)
        assert caller is not None
        assert (caller.role, caller.line) == (REFERRING_SERVICE, LINES["police-demo"])

    def test_never_a_mental_health_service(self) -> None:
        """Naming a mental health service would tell the school of a parent's health: the
        family's lead professional instead, who was told."""
        fam = carters(early_help())
        caller = who_to_call(to_school(), [to_school(), to_lead()], "mh-demo", fam, ON)
        assert caller is not None
        assert caller.role == LEAD_PROFESSIONAL
        assert caller.line == (
            "Sam Okoro, Social worker, 07700 900123, Demo Early Help (01632 960901)"
        )

    def test_a_lead_who_was_not_told_is_not_given(self) -> None:
        """A plan's lead who received nothing of this event does not know: not given."""
        fam = carters(early_help())
        caller = who_to_call(to_school(), [to_school()], "mh-demo", fam, ON)
        assert caller is not None
        assert caller.role == EDUCATION_OFFICER

    def test_this_childs_plan_lead_before_a_siblings(self) -> None:
        """Both children on plans with leads told: this child's lead is given."""
        sister = early_help(
            "sis", ProfessionalView(name="Ann Lee", role="Family worker", org_id="early-help-demo")
        )
        fam = carters(sister, early_help("kid"))
        decisions = [to_lead(about="sis"), to_lead(about="kid")]
        caller = who_to_call(to_school("kid"), decisions, "mh-demo", fam, ON)
        assert caller is not None
        assert caller.line.startswith("Sam Okoro")

    def test_else_the_education_safeguarding_officer(self) -> None:
        """Nobody else to name: the authority's education safeguarding officer."""
        caller = who_to_call(to_school(), [to_school()], "mh-demo", carters(), ON)
        assert caller is not None
        assert (caller.role, caller.line) == (
            EDUCATION_OFFICER, f"Education safeguarding officer, {LINES[DOOR]}",
        )  # fmt: skip

    def test_not_the_officer_itself(self) -> None:
        """A child with no school place: the education safeguarding officer is the reader,
        and is not told to call itself."""
        reader = Addressee(DOOR, ContactRole.EDUCATION_SAFEGUARDING_OFFICER)
        officer = Decision(reader, NoticeType.SCHOOL_SUPPORT, Severity.MEDIUM, "crisis.child",
                           ("kid",))  # fmt: skip
        assert who_to_call(officer, [officer], "mh-demo", carters(), ON) is None

    def test_not_the_school_itself(self) -> None:
        """A school's own report does not send it back to itself."""
        kinds = {**KINDS, "school-oakfield": OrgKind.SCHOOL}
        fam = replace(carters(), org_kinds=kinds)
        caller = who_to_call(to_school(), [to_school()], "school-oakfield", fam, ON)
        assert caller is not None
        assert caller.role == EDUCATION_OFFICER

    @settings(max_examples=300, deadline=None)
    @given(
        door_told=st.booleans(),
        lead_told=st.booleans(),
        with_plan=st.booleans(),
        source=st.sampled_from(sorted(LINES)),
    )
    def test_always_someone_who_knows(
        self, door_told: bool, lead_told: bool, with_plan: bool, source: str
    ) -> None:
        """Whom to call received the event's notice (a front door or a plan's lead), or
        referred it and may be named to a school, or is the authority's education
        safeguarding officer; never a front door or lead that was not told."""
        decisions = [to_school()] + [referral()] * door_told + [to_lead()] * lead_told
        fam = carters(*([early_help()] if with_plan else []))
        caller = who_to_call(to_school(), decisions, source, fam, ON)
        assert caller is not None
        if caller.role == FRONT_DOOR:
            assert door_told
        if caller.role == LEAD_PROFESSIONAL:
            assert lead_told
            assert with_plan
            assert not door_told
        if caller.role == REFERRING_SERVICE:
            assert KINDS[source] in NAMEABLE_TO_SCHOOL
            assert not door_told
        assert LINES["mh-demo"] not in caller.line


PEOPLE = {
    "mum": PersonView(given_name="Jess", nhs_number="9990000018"),
    "kid": PersonView(given_name="Leo", nhs_number="9990000158", role="child"),
}


def move(**overrides: object) -> FamilyMovingArea:
    parsed = event(move_payload(new_school="school-newtown", **overrides))
    assert isinstance(parsed, FamilyMovingArea)
    return parsed


def joining() -> Decision:
    school = Addressee("school-newtown", ContactRole.KEY_ADULT)
    return Decision(school, NoticeType.SCHOOL_SUPPORT, Severity.HIGH, "move.new_school", ("kid",))


class TestPlansForSchool:
    def test_the_plan_its_lead_and_the_previous_school(self) -> None:
        """A directory plan: its kind, its lead as the directory holds them, and the school
        the child is leaving, to ask for the file."""
        cp = replace(plan_view("kid", kind="child_protection", lead_org="early-help-demo"),
                     lead=SOCIAL_WORKER)  # fmt: skip
        [plan] = plans_for_school(joining(), move(), carters(cp), PEOPLE, ON)
        assert (plan.about_index, plan.kind.value) == (0, "child_protection")
        assert plan.lead_professional is not None
        assert plan.lead_professional.name == "Sam Okoro"
        assert plan.lead_professional.phone == "07700 900123"
        assert plan.previous_school == LINES["school-oakfield"]

    def test_the_previous_school_the_move_names(self) -> None:
        """A child on no school's roll in the directory: the school the move names."""
        fam = carters(early_help())
        unregistered = [replace(m, school=None) for m in fam.members]
        fam = replace(fam, members=tuple(unregistered))
        [plan] = plans_for_school(joining(), move(previous_school="school-oakfield"), fam,
                                  PEOPLE, ON)  # fmt: skip
        assert plan.previous_school == LINES["school-oakfield"]

    def test_the_directorys_roll_before_the_events_word(self) -> None:
        """The directory's registration names the previous school, whatever the move says."""
        [plan] = plans_for_school(joining(), move(previous_school="school-brookside"),
                                  carters(early_help()), PEOPLE, ON)  # fmt: skip
        assert plan.previous_school == LINES["school-oakfield"]

    def test_a_plan_only_the_move_lists(self) -> None:
        """A plan the move lists for the child (by NHS number) counts, with no lead known."""
        listed = [{"kind": "child_in_need", "child": {"nhs_number": "9990000158"},
                   "started_on": "2026-01-01"}]  # fmt: skip
        [plan] = plans_for_school(joining(), move(plans=listed), carters(), PEOPLE, ON)
        assert plan.kind.value == "child_in_need"
        assert plan.lead_professional is None

    @pytest.mark.parametrize("ended_on", [date(2026, 6, 1)])
    def test_ended_plans_are_not_open_plans(self, ended_on: date) -> None:
        """A plan that has ended is history for the front door, not an open plan."""
        listed = [{"kind": "child_protection", "child": {"nhs_number": "9990000158"},
                   "started_on": "2025-01-01", "ended_on": ended_on.isoformat()}]  # fmt: skip
        ended = plan_view("kid", kind="child_protection", ended_on=ended_on,
                          started_on=date(2025, 1, 1))  # fmt: skip
        assert plans_for_school(joining(), move(plans=listed), carters(ended), PEOPLE, ON) == ()

    def test_a_step_downs_role_names_are_no_name(self) -> None:
        """A step-down's plan keeps only role names: the lead is given by role and
        organisation, with no made-up name."""
        placeholder = ProfessionalView(name="lead professional", role="lead professional",
                                       org_id="early-help-demo")  # fmt: skip
        assert lead_line(early_help(lead=placeholder), carters()) == (
            "lead professional, Demo Early Help (01632 960901)"
        )

    def test_nothing_for_other_events(self) -> None:
        """Only a child joining is told of plans."""
        fam = carters(early_help())
        assert plans_for_school(to_school(), event(crisis_payload()), fam, PEOPLE, ON) == ()
