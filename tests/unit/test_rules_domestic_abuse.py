"""Police domestic abuse incident (Operation Encompass): each child's school or health team,
the victim's GP only, the front door on medium or high risk or a baby present, MARAC on high."""

import re
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.rules.accuracy import CHILD_PRESENT, incident_people, reading
from broker.rules.domestic_abuse import BABY_PRESENT, CONSIDER_MARAC, route_incident
from broker.rules.family import Addressee, ContactRole, Decision, Family, Member
from broker.rules.history import PersonHistory
from broker.rules.minimisation import compose_body, event_detail
from broker.rules.routing import decide
from schemas.events import PoliceDomesticAbuseIncident
from schemas.notices import NoticeBody, NoticeType, PersonView, Relation, Severity
from unit.builders import (
    CHILD_NHS,
    FATHER_NHS,
    FRONT_DOOR,
    MOTHER_NHS,
    ON,
    RECEIVED,
    child,
    event,
    incident_family,
    incident_payload,
    parent,
    plan_view,
    with_context,
)

PUPIL = child("pupil", school="school-oakfield", gp="gp-northgate")
SISTER = child("sister", years=10, school="school-brookside", gp="gp-northgate")
BABY = child("baby", years=0, months=6, health_visiting="hv-demo", gp="gp-northgate")
NO_SCHOOL = child("no_school", years=9, gp="gp-northgate")
MUM = parent("mum", gp="gp-riverside")
DAD = parent("dad", gp="gp-hillview")


def incident(*children: tuple[bool, str | None], risk: str = "standard",
             **overrides: Any) -> PoliceDomesticAbuseIncident:  # fmt: skip
    parsed = event(incident_payload(children, risk, **overrides))
    assert isinstance(parsed, PoliceDomesticAbuseIncident)
    return parsed


def household(*kids: Member, victim: str | None = "mum") -> Family:
    return incident_family(MUM, DAD, *kids, children=tuple(k.person_id for k in kids),
                           victim=victim)  # fmt: skip


def to(decisions: list[Decision], notice_type: NoticeType) -> list[Decision]:
    return [d for d in decisions if d.notice_type is notice_type]


PRESENT, ABSENT = (True, "same_room"), (False, None)


class TestChildren:
    @pytest.mark.parametrize(
        ("kid", "addressee", "notice_type"),
        [
            (PUPIL, Addressee("school-oakfield", ContactRole.KEY_ADULT), NoticeType.SCHOOL_SUPPORT),
            (BABY, Addressee("hv-demo", ContactRole.SAFEGUARDING_LEAD),
             NoticeType.HEALTH_VISITING),
            (NO_SCHOOL, Addressee(FRONT_DOOR, ContactRole.EDUCATION_SAFEGUARDING_OFFICER),
             NoticeType.SCHOOL_SUPPORT),
        ],
    )  # fmt: skip
    def test_each_child_reaches_the_adult_who_sees_them(
        self, kid: Member, addressee: Addressee, notice_type: NoticeType
    ) -> None:
        """A pupil's key adult; under school age, health visiting; no school place, the
        education safeguarding officer."""
        told = to(route_incident(incident(ABSENT), household(kid), ON), notice_type)
        assert [(d.addressee, d.about) for d in told] == [(addressee, (kid.person_id,))]

    def test_presence_is_per_child(self) -> None:
        """Only the notice of a child who was there says so."""
        decisions = route_incident(incident(PRESENT, ABSENT), household(PUPIL, SISTER), ON)
        present = {d.about: d.facts.get(CHILD_PRESENT, False)
                   for d in to(decisions, NoticeType.SCHOOL_SUPPORT)}  # fmt: skip
        assert present == {("pupil",): True, ("sister",): False}


class TestGps:
    def test_only_the_victims_gp_is_told(self) -> None:
        """The victim's practice hears; the alleged perpetrator's does not (third party)."""
        gps = to(route_incident(incident(PRESENT), household(PUPIL), ON),
                 NoticeType.GP_INFORMATION)  # fmt: skip
        assert [(d.addressee.org_id, d.about) for d in gps] == [("gp-riverside", ("mum",))]

    def test_no_victim_named_no_gp(self) -> None:
        """Without a victim the police named, no practice is told."""
        kids = household(PUPIL, victim=None)
        gps = to(route_incident(incident(PRESENT, victim=None), kids, ON),
                 NoticeType.GP_INFORMATION)  # fmt: skip
        assert gps == []


class TestFrontDoor:
    @pytest.mark.parametrize(
        ("risk", "kids", "children", "severity"),
        [
            ("standard", (PUPIL,), (PRESENT,), None),
            ("medium", (PUPIL,), (PRESENT,), Severity.MEDIUM),
            ("high", (PUPIL,), (ABSENT,), Severity.HIGH),
            ("standard", (BABY,), (PRESENT,), Severity.HIGH),
            ("standard", (BABY,), (ABSENT,), None),
        ],
    )
    def test_front_door_by_risk_and_baby_present(
        self, risk: str, kids: tuple[Member, ...], children: tuple[tuple[bool, str | None], ...],
        severity: Severity | None,
    ) -> None:  # fmt: skip
        """Medium or high risk, or a child under one present, reaches the front door."""
        decisions = route_incident(incident(*children, risk=risk), household(*kids), ON)
        doors = to(decisions, NoticeType.FRONT_DOOR_REFERRAL)
        assert [d.severity for d in doors] == ([severity] if severity else [])

    def test_high_risk_asks_to_consider_marac(self) -> None:
        """High risk: the front door is asked to consider a MARAC referral."""
        decisions = route_incident(incident(PRESENT, risk="high"), household(PUPIL), ON)
        (door,) = to(decisions, NoticeType.FRONT_DOOR_REFERRAL)
        assert door.facts.get(CONSIDER_MARAC) is True

    def test_medium_risk_does_not_ask_for_marac(self) -> None:
        """MARAC is for high-risk victims only."""
        decisions = route_incident(incident(PRESENT, risk="medium"), household(PUPIL), ON)
        (door,) = to(decisions, NoticeType.FRONT_DOOR_REFERRAL)
        assert CONSIDER_MARAC not in door.facts

    def test_referral_names_the_whole_family(self) -> None:
        """The front door sees everyone named: victim, children and alleged perpetrator."""
        decisions = route_incident(incident(PRESENT, risk="high"), household(PUPIL), ON)
        (door,) = to(decisions, NoticeType.FRONT_DOOR_REFERRAL)
        assert set(door.about) == {"mum", "pupil", "dad"}

    def test_baby_present_is_said(self) -> None:
        """A referral raised by a baby's presence says so."""
        decisions = route_incident(incident(PRESENT), household(BABY), ON)
        (door,) = to(decisions, NoticeType.FRONT_DOOR_REFERRAL)
        assert door.facts.get(BABY_PRESENT) is True


RISKS = st.sampled_from(["standard", "medium", "high"])
KIDS = st.lists(st.sampled_from([PUPIL, SISTER, BABY, NO_SCHOOL]), min_size=1, max_size=4,
                unique=True)  # fmt: skip


class TestProperties:
    @settings(max_examples=60, deadline=None)
    @given(RISKS, KIDS, st.data())
    def test_every_child_told_perpetrator_never_by_gp(
        self, risk: str, kids: list[Member], data: st.DataObject
    ) -> None:
        """Whatever the risk and children: every child is told of once, the alleged
        perpetrator's practice never, and only high-risk referrals ask about MARAC."""
        presence = [data.draw(st.sampled_from([PRESENT, ABSENT])) for _ in kids]
        decisions = route_incident(incident(*presence, risk=risk), household(*kids), ON)
        child_notices = [d for d in decisions if d.rule_id == "domestic_abuse.child"]
        assert sorted(p for d in child_notices for p in d.about) == sorted(
            k.person_id for k in kids
        )
        assert all(d.addressee.org_id != "gp-hillview" for d in decisions)
        marac = any(d.facts.get(CONSIDER_MARAC) for d in decisions)
        assert marac == (risk == "high")


ADULTS = {
    "mum": PersonView(given_name="Amy", family_name="Hughes", nhs_number=MOTHER_NHS,
                      role="parent_or_carer"),
    "dad": PersonView(given_name="Ryan", family_name="Hughes", nhs_number=FATHER_NHS,
                      role="parent_or_carer"),
}  # fmt: skip
PEOPLE = {**ADULTS, "pupil": PersonView(given_name="Jack", family_name="Hughes",
                                        nhs_number=CHILD_NHS, role="child")}  # fmt: skip


def bodies(parsed: PoliceDomesticAbuseIncident, fam: Family) -> dict[NoticeType, NoticeBody]:
    """The body of each notice type the incident produces, read as its recipient reads it."""
    return {
        d.notice_type: compose_body(d, parsed, PEOPLE, "Police", "Front door",
                                    reading=reading(d, parsed, fam))
        for d in route_incident(parsed, fam, ON)
    }  # fmt: skip


class TestWhatEachReaderSees:
    def test_school_sees_no_detail_of_the_abuse(self) -> None:
        """The school reads the child and whether they were there: no adult, no risk, no
        place, no police wording, nothing about whose incident it was."""
        school = bodies(incident(PRESENT, risk="high"), household(PUPIL))[NoticeType.SCHOOL_SUPPORT]
        assert (school.detail, school.facts, school.relation) == ({}, {CHILD_PRESENT: True}, None)
        assert [(p.given_name, p.present) for p in school.about] == [("Jack", True)]
        text = school.model_dump_json().lower()
        assert not {"amy", "ryan", "high", "family_home", "perpetrator", "victim"} & set(
            re.findall(r"[a-z_]+", text)
        )

    def test_victims_gp_reads_its_own_patients_event(self) -> None:
        """The victim's practice reads the police reference and risk about its own patient,
        and never the alleged perpetrator's name."""
        gp = bodies(incident(PRESENT, risk="medium"), household(PUPIL))[NoticeType.GP_INFORMATION]
        assert (gp.relation, gp.third_party) == (Relation.SELF, False)
        assert gp.detail["police_reference"] == "DA/2027/000123"
        assert "Ryan" not in gp.model_dump_json()

    def test_front_door_sees_everyone_and_the_risk(self) -> None:
        """The front door reads the whole family and what the police assessed."""
        door = bodies(incident(PRESENT, risk="high"), household(PUPIL))[
            NoticeType.FRONT_DOOR_REFERRAL
        ]
        assert {p.given_name for p in door.about} == {"Amy", "Jack", "Ryan"}
        assert (door.detail["risk_level"], door.facts[CONSIDER_MARAC]) == ("high", True)

    def test_people_never_travel_as_detail(self) -> None:
        """Victim, alleged perpetrator and children are people, never flattened detail."""
        detail = event_detail(incident(PRESENT))
        assert not {k.split(".")[0] for k in detail} & {"victim", "alleged_perpetrator",
                                                        "children"}  # fmt: skip


class TestSchoolProperty:
    @settings(max_examples=60, deadline=None)
    @given(
        RISKS,
        st.sampled_from(["family_home", "other_home", "public_place", "other"]),
        st.sampled_from([PRESENT, ABSENT, (True, "elsewhere_in_home")]),
    )
    def test_school_body_never_carries_the_adults_or_the_risk(
        self, risk: str, place: str, presence: tuple[bool, str | None]
    ) -> None:
        """Whatever the risk, place and presence, the school body names neither adult and
        carries no risk, place or police detail."""
        parsed = incident(presence, risk=risk, place=place)
        school = bodies(parsed, household(PUPIL))[NoticeType.SCHOOL_SUPPORT]
        text = school.model_dump_json()
        assert not any(word in text for word in ("Amy", "Ryan", MOTHER_NHS, FATHER_NHS))
        assert school.detail == {}  # no place, risk or police reference among the detail
        assert set(school.facts) <= {CHILD_PRESENT}


class TestWhoIsWho:
    def test_unknown_child_keeps_the_others_in_place(self) -> None:
        """A child the directory does not know shifts nobody: the known child, the victim and
        the alleged perpetrator keep their parts."""
        known = incident_family(MUM, DAD, PUPIL, children=("pupil",))
        fam = replace(known, subjects=("pupil", "mum", "dad"), unmatched=("unmatched:1",))
        who = incident_people(incident(PRESENT, ABSENT), fam)
        assert (who.children, who.present, who.victim, who.perpetrator) == (
            ("pupil",),
            frozenset({"pupil"}),
            "mum",
            "dad",
        )

    def test_no_victim_named_the_next_adult_is_the_perpetrator(self) -> None:
        """Without a victim, the adult after the children is the alleged perpetrator."""
        fam = incident_family(MUM, DAD, PUPIL, children=("pupil",), victim=None)
        who = incident_people(incident(PRESENT, victim=None), fam)
        assert (who.victim, who.perpetrator) == (None, "dad")


class TestOpenPlans:
    def test_lead_of_a_childs_open_plan_is_told(self) -> None:
        """An incident in the household is news for the lead professional of any named
        child's open plan."""
        fam = with_context(household(PUPIL), plans=(plan_view("pupil", lead_org="csc-demo"),))
        decisions = decide(incident(ABSENT), fam, PersonHistory(), RECEIVED)
        leads = to(decisions, NoticeType.PLAN_OWNER)
        assert [(d.addressee.org_id, d.about) for d in leads] == [("csc-demo", ("pupil",))]
