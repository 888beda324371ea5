"""What each recipient may see: schools no clinical detail, GPs the summary, front door all."""

import re
import string
from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from broker.rules.accuracy import reading
from broker.rules.crisis import route_crisis
from broker.rules.digest import digest_for
from broker.rules.family import Decision, Family, HouseholdHistory
from broker.rules.history import PersonHistory
from broker.rules.minimisation import (
    DETAIL_TYPE,
    FACTS_TYPE,
    LINE_TYPE,
    RULES_NAMED_TO_DISCREET,
    SCHOOL_SAFE_FACTS,
    compose_body,
    event_detail,
    rule_for_reader,
)
from broker.rules.routing import decide
from schemas.events import Event, ParentMentalHealthCrisis
from schemas.notices import NoticeBody, NoticeHeader, NoticeType, PersonView
from unit.builders import (
    CHILD_NHS,
    MOTHER_NHS,
    ON,
    RECEIVED,
    child,
    crisis_payload,
    ed_payload,
    event,
    family,
    parent,
    past_event,
    with_context,
    withdrawal_payload,
)

CLINICAL_FLAGS = [
    "sectioned", "admitted", "suicidal_ideation", "threats_to_kill", "threats_to_harm_others",
    "domestic_abuse", "substance_misuse",
]  # fmt: skip
FLAG_WORDS = {word for flag in CLINICAL_FLAGS for word in flag.split("_")} - {"to"}
SUMMARY = "Disclosed plan to overdose; started sertraline 50mg"
PEOPLE = {
    "mum": PersonView(
        given_name="Jess", family_name="Carter", date_of_birth=date(1990, 3, 1),
        nhs_number=MOTHER_NHS, role="parent_or_carer",
    ),
    "elder": PersonView(
        given_name="Ben", family_name="Carter", date_of_birth=date(2019, 1, 1),
        nhs_number=CHILD_NHS, role="child",
    ),
}  # fmt: skip
FAMILY = family(
    parent("mum", gp="gp-riverside"),
    child("elder", school="school-oakfield", gp="gp-riverside"),
    present=("elder",),
)

SOURCE_CONTACT = "Crisis team (01234 567890)"
FRONT_DOOR_CONTACT = "Front door (01632 960000)"


def crisis(**fields: Any) -> ParentMentalHealthCrisis:
    parsed = event(crisis_payload(**fields))
    assert isinstance(parsed, ParentMentalHealthCrisis)
    return parsed


def all_bodies(
    parsed: ParentMentalHealthCrisis, fam: Family = FAMILY
) -> list[tuple[Decision, NoticeBody]]:
    """Every notice's body, read as the routing service reads it for its recipient."""
    return [
        (d, compose_body(d, parsed, PEOPLE, SOURCE_CONTACT, FRONT_DOOR_CONTACT,
                         reading=reading(d, parsed, fam)))
        for d in route_crisis(parsed, fam, ON)
    ]  # fmt: skip


def bodies(parsed: ParentMentalHealthCrisis) -> dict[NoticeType, NoticeBody]:
    """The first body of each notice type: for GPs, the subject's own practice's notice."""
    found: dict[NoticeType, NoticeBody] = {}
    for decision, body in all_bodies(parsed):
        found.setdefault(decision.notice_type, body)
    return found


FULL = crisis(
    suicidal_ideation=True, domestic_abuse=True, sectioned=True,
    children_present=[{"nhs_number": CHILD_NHS}], clinical_summary=SUMMARY,
)  # fmt: skip


class TestSchoolBody:
    def test_has_no_detail(self) -> None:
        """A school notice carries no event detail at all."""
        assert bodies(FULL)[NoticeType.SCHOOL_SUPPORT].detail == {}

    def test_only_school_safe_facts(self) -> None:
        """A school sees only child_present and consider_childrens_needs among the facts."""
        facts = bodies(FULL)[NoticeType.SCHOOL_SUPPORT].facts
        assert set(facts) <= SCHOOL_SAFE_FACTS
        assert facts == {"child_present": True}

    def test_people_have_no_nhs_number(self) -> None:
        """People in a school notice carry no NHS number."""
        about = bodies(FULL)[NoticeType.SCHOOL_SUPPORT].about
        assert about
        assert all(person.nhs_number is None for person in about)

    def test_people_keep_name_and_role(self) -> None:
        """A school still sees which child, by name, date of birth and role."""
        [person] = bodies(FULL)[NoticeType.SCHOOL_SUPPORT].about
        assert (person.given_name, person.role) == ("Ben", "child")

    def test_json_has_no_summary_or_nhs_number(self) -> None:
        """The serialised school body contains neither the clinical summary nor any NHS number."""
        text = bodies(FULL)[NoticeType.SCHOOL_SUPPORT].model_dump_json()
        assert SUMMARY not in text
        assert MOTHER_NHS not in text
        assert CHILD_NHS not in text

    def test_says_to_call_the_front_door(self) -> None:
        """A school notice says who to call: the front door, not the service that reported."""
        assert bodies(FULL)[NoticeType.SCHOOL_SUPPORT].who_to_call == FRONT_DOOR_CONTACT

    def test_does_not_name_the_kind_of_event_or_its_source(self) -> None:
        """Naming a mental health crisis or service would disclose a diagnosis to a school."""
        body = bodies(FULL)[NoticeType.SCHOOL_SUPPORT]
        assert body.event_type == "family_circumstances"
        assert body.source_org is None


class TestGpBody:
    def test_names_the_source_and_who_to_call_there(self) -> None:
        """A GP sees which service reported and is told to call it."""
        body = bodies(FULL)[NoticeType.GP_INFORMATION]
        assert body.event_type == "parent_mental_health_crisis"
        assert body.source_org is not None
        assert body.who_to_call == SOURCE_CONTACT

    def test_has_the_clinical_summary(self) -> None:
        """A GP sees the clinical summary."""
        assert bodies(FULL)[NoticeType.GP_INFORMATION].detail["clinical_summary"] == SUMMARY

    def test_has_the_clinical_flags(self) -> None:
        """A GP sees the clinical flags and all the facts."""
        body = bodies(FULL)[NoticeType.GP_INFORMATION]
        assert body.detail["suicidal_ideation"] is True
        assert body.facts["suicidal_ideation"] is True

    def test_people_have_nhs_numbers(self) -> None:
        """A GP sees NHS numbers: the subject's own notice names the subject alone."""
        nhs = {p.nhs_number for p in bodies(FULL)[NoticeType.GP_INFORMATION].about}
        assert nhs == {MOTHER_NHS}


class TestFrontDoorBody:
    def test_sees_every_detail(self) -> None:
        """The front door sees the whole of the event's detail."""
        assert bodies(FULL)[NoticeType.FRONT_DOOR_REFERRAL].detail == event_detail(FULL)

    def test_sees_every_fact(self) -> None:
        """The front door sees every fact that fired the rule."""
        body = bodies(FULL)[NoticeType.FRONT_DOOR_REFERRAL]
        assert {"suicidal_ideation", "domestic_abuse", "sectioned", "child_present"} <= set(
            body.facts
        )


class TestEventDetail:
    def test_leaves_out_envelope_and_people(self) -> None:
        """Event detail holds the event's facts, without envelope fields or people."""
        detail = event_detail(FULL)
        assert not {"event_id", "source_org", "subject", "children_present"} & set(detail)
        assert detail["clinical_summary"] == SUMMARY


clinical_text = st.text(alphabet=string.ascii_letters + " ", min_size=12, max_size=200).filter(
    lambda s: s == s.strip() and len(set(s)) > 4
)


class TestDetailGivenProperty:
    @settings(max_examples=100, deadline=None)
    @given(
        flags=st.fixed_dictionaries({flag: st.booleans() for flag in CLINICAL_FLAGS}),
        summary=clinical_text,
    )
    def test_detail_made_once_gives_the_same_bodies(
        self, flags: dict[str, bool], summary: str
    ) -> None:
        """A body composed from the event's detail made once for all its bodies (as sealing
        does) is the body composed from the event alone, for every reader."""
        parsed = crisis(**flags, clinical_summary=summary)
        detail = event_detail(parsed)
        for decision, body in all_bodies(parsed):
            read = reading(decision, parsed, FAMILY)
            given_detail = compose_body(decision, parsed, PEOPLE, SOURCE_CONTACT,
                                        FRONT_DOOR_CONTACT, reading=read,
                                        detail=detail)  # fmt: skip
            assert given_detail == body
        assert detail == event_detail(parsed)  # nobody's body changed the shared detail


class TestSchoolBodyProperty:
    @settings(max_examples=150, deadline=None)
    @given(
        flags=st.fixed_dictionaries({flag: st.booleans() for flag in CLINICAL_FLAGS}),
        present=st.booleans(),
        summary=clinical_text,
    )
    def test_school_body_never_leaks_clinical_content(
        self, flags: dict[str, bool], present: bool, summary: str
    ) -> None:
        """Whatever the crisis, the school body has neither the summary nor any flag's words."""
        children = [{"nhs_number": CHILD_NHS}] if present else []
        parsed = crisis(**flags, children_present=children, clinical_summary=summary)
        text = bodies(parsed)[NoticeType.SCHOOL_SUPPORT].model_dump_json()
        assert summary not in text
        words = set(re.findall(r"[a-z]+", text.lower()))
        assert not words & FLAG_WORDS


# The first part of every rule id the rules make (broker/rules/*.py, RULE and its kin).
RULE_KINDS = [
    "crisis", "ed", "withdrawal", "was_not_brought", "open_plan", "repeated_crises",
    "accumulation", "co_occurrence", "unmatched_person", "proposal", "step_down", "move",
    "domestic_abuse",
]  # fmt: skip
SUFFIXES = ["child", "gp", "health", "front_door", "fallback", "out_of_hours", "new_school",
            "parent_presentation", "escalation1", "reroute", "exhausted"]  # fmt: skip


class TestRuleInBody:
    @pytest.mark.parametrize(
        ("rule_id", "kind", "shown"),
        [
            ("crisis.child", NoticeType.SCHOOL_SUPPORT, None),
            ("ed.parent_presentation.child", NoticeType.SCHOOL_SUPPORT, None),
            ("withdrawal.child", NoticeType.SCHOOL_SUPPORT, None),
            ("crisis.child.escalation1", NoticeType.SCHOOL_SUPPORT, None),
            ("move.new_school", NoticeType.SCHOOL_SUPPORT, "move.new_school"),
            ("move.new_school+crisis.child", NoticeType.SCHOOL_SUPPORT, None),
            ("domestic_abuse.child", NoticeType.SCHOOL_SUPPORT, "domestic_abuse.child"),
            ("crisis.gp", NoticeType.GP_INFORMATION, "crisis.gp"),
            ("crisis.front_door", NoticeType.FRONT_DOOR_REFERRAL, "crisis.front_door"),
            ("crisis.child.fallback", NoticeType.FRONT_DOOR_REFERRAL, "crisis.child.fallback"),
            ("was_not_brought.health", NoticeType.HEALTH_VISITING, "was_not_brought.health"),
        ],
    )
    def test_what_each_reader_is_told_of_the_rule(
        self, rule_id: str, kind: NoticeType, shown: str | None
    ) -> None:
        """A school is not told a rule whose name says what happened; everyone else is."""
        assert rule_for_reader(rule_id, kind) == shown

    def test_school_body_names_no_rule_of_a_crisis(self) -> None:
        """The school's body of a crisis names no rule; the notice id is its reference."""
        assert bodies(FULL)[NoticeType.SCHOOL_SUPPORT].rule_id is None

    def test_gp_and_front_door_bodies_name_their_rule(self) -> None:
        """The GP and the front door read the rule that decided their notice."""
        told = bodies(FULL)
        assert told[NoticeType.GP_INFORMATION].rule_id == "crisis.gp"
        assert told[NoticeType.FRONT_DOOR_REFERRAL].rule_id == "crisis.front_door"

    def test_no_header_field_names_a_rule_or_an_event_kind(self) -> None:
        """The header, which Kafka and the inbox listing show, has nowhere to put either."""
        fields = set(NoticeHeader.model_fields)
        assert not {f for f in fields if "rule" in f or "event_type" in f}


rule_ids = st.lists(
    st.tuples(st.sampled_from(RULE_KINDS), st.lists(st.sampled_from(SUFFIXES), max_size=3)),
    min_size=1, max_size=3,
).map(lambda parts: "+".join(".".join([kind, *rest]) for kind, rest in parts))  # fmt: skip


class TestRuleInBodyProperty:
    @settings(max_examples=300, deadline=None)
    @given(rule_id=rule_ids, kind=st.sampled_from(list(NoticeType)))
    def test_a_school_reads_only_rules_that_reveal_no_condition(
        self, rule_id: str, kind: NoticeType
    ) -> None:
        """Whatever the rule, a school body names it only if every rule joined in it is of a
        kind named to schools; any other reader gets it whole."""
        shown = rule_for_reader(rule_id, kind)
        if kind is not NoticeType.SCHOOL_SUPPORT:
            assert shown == rule_id
        elif shown is not None:
            assert {p.split(".")[0] for p in shown.split("+")} <= RULES_NAMED_TO_DISCREET
        else:
            assert {p.split(".")[0] for p in rule_id.split("+")} - RULES_NAMED_TO_DISCREET


# The clinical fields a GP must not read about someone who is not its patient (third-party
# information): the clinical summary and flags, diagnosis, medication, a domestic-abuse
# disclosure, an address, and the risks the patterns name.
THIRD_PARTY_CLINICAL = {
    "clinical_summary", "diagnosis", "medication", "domestic_abuse", "address", "sectioned",
    "admitted", "suicidal_ideation", "threats_to_kill", "threats_to_harm_others",
    "substance_misuse", "self_harm", "presenting", "presenting_category", "intent", "reason",
    "service", "co_occurring",
}  # fmt: skip
PRACTICES = ("gp-riverside", "gp-hillview", "gp-northgate")
ROLES = {"mum": "parent_or_carer", "dad": "parent_or_carer", "elder": "child", "baby": "child"}


def gp_family(gps: dict[str, str]) -> Family:
    """Mum, Dad, Elder and Baby, each registered with the practice ``gps`` names, with a
    history the digest could name (earlier crises and an ED attendance)."""
    fam = family(
        parent("mum", gp=gps["mum"], involved=("mh-demo",)),
        parent("dad", gp=gps["dad"]),
        child("elder", school="school-oakfield", gp=gps["elder"]),
        child("baby", years=0, months=8, health_visiting="hv-demo", gp=gps["baby"]),
        present=("baby",),
    )
    earlier = (past_event(40, "suicidal_ideation"), past_event(90, event_type="ed_attendance"))
    return with_context(fam, history=HouseholdHistory(events=earlier))


def mothers_event(kind: str, flags: dict[str, bool], summary: str) -> Event:
    """An event about the mother: a crisis, a withdrawal, or her self-harm at ED."""
    if kind == "crisis":
        return event(crisis_payload(**flags, clinical_summary=summary,
                                    children_present=[{"nhs_number": CHILD_NHS}]))  # fmt: skip
    if kind == "withdrawal":
        return event(withdrawal_payload())
    return event(ed_payload(subject={"nhs_number": MOTHER_NHS}, presenting_category="self_harm",
                            intent="deliberate", clinical_summary=summary))  # fmt: skip


def gp_bodies(parsed: Event, fam: Family) -> list[tuple[Decision, NoticeBody]]:
    people = {p: PersonView.model_validate({"given_name": p, "role": r}) for p, r in ROLES.items()}
    return [
        (d, compose_body(d, parsed, people, SOURCE_CONTACT, FRONT_DOOR_CONTACT,
                         digest_for(d.notice_type, fam, RECEIVED), reading(d, parsed, fam)))
        for d in decide(parsed, fam, PersonHistory(), RECEIVED)
        if d.notice_type is NoticeType.GP_INFORMATION
    ]  # fmt: skip


class TestThirdPartyGpProperty:
    @settings(max_examples=150, deadline=None)
    @given(
        gps=st.fixed_dictionaries({p: st.sampled_from(PRACTICES) for p in ROLES}),
        kind=st.sampled_from(["crisis", "withdrawal", "ed"]),
        flags=st.fixed_dictionaries({flag: st.booleans() for flag in CLINICAL_FLAGS}),
        summary=clinical_text,
    )
    def test_no_third_party_clinical_field_reaches_a_gp_not_the_subjects(
        self, gps: dict[str, str], kind: str, flags: dict[str, bool], summary: str
    ) -> None:
        """Whoever is registered where, a GP notice about patients other than the mother
        carries none of her clinical fields, her summary or her history, and is marked as
        third-party information; her own practice's notice, about her alone, has the detail."""
        fam = gp_family(gps)
        parsed = mothers_event(kind, flags, summary)
        for decision, body in gp_bodies(parsed, fam):
            if decision.about == ("mum",):
                assert decision.addressee.org_id == gps["mum"]
                assert not body.third_party
                if kind != "withdrawal":
                    assert body.detail["clinical_summary"] == summary
                continue
            assert "mum" not in decision.about
            assert body.third_party
            assert not THIRD_PARTY_CLINICAL & {*body.detail, *body.facts}
            assert summary not in body.model_dump_json()
            assert body.digest is None or body.digest.events_12_months == {}


def front_door_decision(facts: dict[str, Any]) -> Decision:
    """A crisis's first decision, to the front door (which sees every fact), with ``facts``."""
    first = route_crisis(FULL, FAMILY, ON)[0]
    return replace(first, facts=facts, notice_type=NoticeType.FRONT_DOOR_REFERRAL)


class TestBodyAsValidated:
    """Bodies are built without validating again what was validated already: each must be
    exactly the body that validating its fields makes, to the byte."""

    @settings(max_examples=100, deadline=None)
    @given(
        gps=st.fixed_dictionaries({p: st.sampled_from(PRACTICES) for p in ROLES}),
        kind=st.sampled_from(["crisis", "withdrawal", "ed"]),
        flags=st.fixed_dictionaries({flag: st.booleans() for flag in CLINICAL_FLAGS}),
        summary=clinical_text,
    )
    def test_every_body_is_what_validation_makes(
        self, gps: dict[str, str], kind: str, flags: dict[str, bool], summary: str
    ) -> None:
        """Whatever the event and whoever reads it, the body's bytes are those of the same
        fields validated as a NoticeBody (the person views and digest trimmed alike)."""
        fam = gp_family(gps)
        parsed = mothers_event(kind, flags, summary)
        people = {p: PersonView.model_validate({"given_name": f" {p} ", "role": r,
                                                 "nhs_number": CHILD_NHS})
                  for p, r in ROLES.items()}  # fmt: skip
        for decision in decide(parsed, fam, PersonHistory(), RECEIVED):
            body = compose_body(decision, parsed, people, SOURCE_CONTACT, FRONT_DOOR_CONTACT,
                                digest_for(decision.notice_type, fam, RECEIVED),
                                reading(decision, parsed, fam))  # fmt: skip
            validated = NoticeBody.model_validate(body.model_dump())
            assert body.model_dump_json() == validated.model_dump_json()

    def test_a_trimmed_person_view_is_what_validation_makes(self) -> None:
        """A school's view of the child, without the NHS number: as validated, byte for byte."""
        body = bodies(FULL)[NoticeType.SCHOOL_SUPPORT]
        for person in body.about:
            validated = PersonView.model_validate(person.model_dump())
            assert person.model_dump_json() == validated.model_dump_json()
            assert person.nhs_number is None

    def test_text_is_stripped_as_validation_strips_it(self) -> None:
        """A fact's text or the contact line with spaces around it is stripped, as
        NoticeBody's validation strips it."""
        decision = front_door_decision({"reason": "  moved  "})
        body = compose_body(decision, FULL, PEOPLE, f" {SOURCE_CONTACT} ")
        assert (body.facts["reason"], body.who_to_call) == ("moved", SOURCE_CONTACT)

    def test_a_fact_holding_nul_is_refused(self) -> None:
        """Text PostgreSQL cannot keep is refused, as NoticeBody's validation refuses it."""
        with pytest.raises(ValidationError):
            compose_body(front_door_decision({"reason": "a\x00b"}), FULL, PEOPLE, SOURCE_CONTACT)

    def test_a_fact_of_a_type_no_body_holds_is_refused(self) -> None:
        """A fact that is not text, a number or a yes/no is refused, not sealed as it is."""
        with pytest.raises(ValidationError):
            compose_body(front_door_decision({"reason": date(2026, 1, 1)}), FULL, PEOPLE,
                         SOURCE_CONTACT)  # fmt: skip

    @pytest.mark.parametrize(
        ("field", "declared"),
        [("facts", FACTS_TYPE), ("detail", DETAIL_TYPE), ("who_to_call", LINE_TYPE)],
    )
    def test_validated_as_notice_body_declares(self, field: str, declared: object) -> None:
        """The values validated apart are validated as the type NoticeBody declares."""
        assert NoticeBody.model_fields[field].annotation == declared
