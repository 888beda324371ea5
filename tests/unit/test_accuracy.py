"""Accuracy about people: whose event a notice is to its reader's own people, and facts per
child ("present" only for the children who were there)."""

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.rules.accuracy import (
    children_present,
    per_child,
    reading,
    recipients_people,
    relation,
)
from broker.rules.family import Addressee, ContactRole, Decision, Family, Member
from broker.rules.history import PersonHistory
from broker.rules.minimisation import compose_body
from broker.rules.move import route_move
from broker.rules.routing import decide
from schemas.events import Event, FamilyMovingArea, ParentMentalHealthCrisis
from schemas.notices import NoticeBody, NoticeType, PersonView, Relation, Severity
from unit.builders import (
    CHILD_NHS,
    MOTHER_NHS,
    RECEIVED,
    child,
    crisis_payload,
    ed_payload,
    event,
    family,
    move_payload,
    parent,
    parent_of,
)

WHOLE_FAMILY = {NoticeType.FRONT_DOOR_REFERRAL, NoticeType.TRANSFER, NoticeType.OUT_OF_HOURS}


def carters(*present: str) -> Family:
    """Mum and Dad at different practices with Elder (at school) and Baby; Gran lives apart
    with no tie to anyone; a lodger and his partner share another home, with no children."""
    return family(
        parent("mum", gp="gp-riverside", involved=("mh-demo",)),
        parent("dad", gp="gp-hillview"),
        child("elder", school="school-oakfield", gp="gp-northgate"),
        child("baby", years=0, months=8, health_visiting="hv-demo", gp="gp-northgate"),
        parent("gran", "h9", gp="gp-hillview"),
        parent("lodger", "h3"),
        parent("partner", "h3"),
        present=present,
    )


def crisis(**fields: Any) -> ParentMentalHealthCrisis:
    parsed = event(crisis_payload(**fields))
    assert isinstance(parsed, ParentMentalHealthCrisis)
    return parsed


def views(fam: Family) -> dict[str, PersonView]:
    return {m.person_id: PersonView(given_name=m.person_id, role=m.role.value) for m in fam.members}


def read(parsed: Event, fam: Family) -> list[tuple[Decision, NoticeBody]]:
    """Every notice the event calls for, with its body as its recipient reads it."""
    people = views(fam)
    return [
        (d, compose_body(d, parsed, people, "source", "front door",
                         reading=reading(d, parsed, fam)))
        for d in decide(parsed, fam, PersonHistory(), RECEIVED)
    ]  # fmt: skip


def to_org(notices: list[tuple[Decision, NoticeBody]], org: str) -> list[NoticeBody]:
    return [b for d, b in notices if d.addressee.org_id == org]


class TestRelation:
    @pytest.mark.parametrize(
        ("subject", "people", "expected"),
        [
            ("mum", ["mum"], Relation.SELF),
            ("mum", ["elder"], Relation.PARENT),
            ("elder", ["mum"], Relation.CHILD),
            ("elder", ["baby"], Relation.SIBLING),
            ("mum", ["dad"], Relation.CO_PARENT),
            ("lodger", ["partner"], Relation.HOUSEHOLD_MEMBER),
            ("mum", ["gran"], Relation.FAMILY_MEMBER),
            ("mum", ["dad", "elder"], Relation.PARENT),
            ("mum", ["elder", "mum"], Relation.SELF),
        ],
    )
    def test_relation_of_the_subject_to_the_readers_people(
        self, subject: str, people: list[str], expected: Relation
    ) -> None:
        """The closest tie between whom the event is about and the reader's own people."""
        assert relation((subject,), people, carters()) is expected

    def test_two_parents_are_not_each_others_parents(self) -> None:
        """Parents sharing a home are co-parents, never "a parent of" one another."""
        assert relation(("mum",), ("dad",), carters()) is Relation.CO_PARENT

    def test_a_parent_living_apart_is_still_a_parent(self) -> None:
        """A parent the directory ties to the child, living elsewhere, is the child's parent."""
        fam = family(
            parent("mum", "h1"), child("kid", "h1"), parent("dad", "h2"),
            ties=(parent_of("dad", "kid"),),
        )  # fmt: skip
        assert relation(("dad",), ("kid",), fam) is Relation.PARENT


class TestReading:
    def test_a_front_door_hears_of_the_whole_family(self) -> None:
        """A referral carries no relation: the front door sees everyone."""
        notices = read(crisis(suicidal_ideation=True), carters())
        referrals = [b for d, b in notices if d.notice_type is NoticeType.FRONT_DOOR_REFERRAL]
        assert referrals
        assert all(b.relation is None and not b.third_party for b in referrals)

    def test_each_gp_reads_whose_event_it_is(self) -> None:
        """The mother's practice reads "your patient", the father's "another parent of your
        patient's children", the children's "a parent of your patients"."""
        notices = read(crisis(), carters())
        relations = {d.addressee.org_id: b.relation for d, b in notices
                     if d.notice_type is NoticeType.GP_INFORMATION}  # fmt: skip
        assert relations == {
            "gp-riverside": Relation.SELF,
            "gp-hillview": Relation.CO_PARENT,
            "gp-northgate": Relation.PARENT,
        }

    def test_the_wording_key_names_the_readers_people(self) -> None:
        """A school reads "a parent of your pupil"; a GP "a parent of your patient(s)"."""
        notices = read(crisis(), carters())
        # (High: the key adult and the deputy each read it.)
        key_adult, deputy = to_org(notices, "school-oakfield")
        [northgate] = to_org(notices, "gp-northgate")
        assert "relation.parent.pupil" in key_adult.wording
        assert "relation.parent.pupil" in deputy.wording
        assert "relation.parent.patient" in northgate.wording

    def test_an_agency_reads_the_relation_to_its_own_client(self) -> None:
        """An agency working with the child, told of the mother's withdrawal, reads "a parent
        of your client", though the notice is about the mother."""
        fam = family(parent("mum", involved=("mh-demo",)), child("kid", involved=("early-help",)))
        to_agency = Addressee("early-help", ContactRole.SAFEGUARDING_LEAD)
        kind = NoticeType.AGENCY_INFORMATION
        decision = Decision(to_agency, kind, Severity.LOW, "withdrawal", ("mum",))
        assert reading(decision, crisis(), fam).relation is Relation.PARENT

    def test_a_new_gp_reads_its_new_patients(self) -> None:
        """The new GP of a family that moves holds no record yet: the movers are its own."""
        fam = family(parent("mum"), child("kid"))
        parsed = event(move_payload(new_gp="gp-new"))
        assert isinstance(parsed, FamilyMovingArea)
        decisions = route_move(parsed, fam, RECEIVED.date())
        [new_gp] = [d for d in decisions if d.notice_type is NoticeType.GP_INFORMATION]
        assert reading(new_gp, parsed, fam).relation is Relation.SELF

    def test_recipients_people_are_those_it_holds_a_record_of(self) -> None:
        """Registered with it (GP, school, health visiting) or worked with."""
        assert recipients_people("gp-northgate", carters()) == ("elder", "baby")
        assert recipients_people("mh-demo", carters()) == ("mum",)


class TestThirdPartyGpBody:
    SUMMARY = "Disclosed plan to overdose; partner controlling"

    def bodies(self) -> list[tuple[Decision, NoticeBody]]:
        full = crisis(suicidal_ideation=True, domestic_abuse=True, clinical_summary=self.SUMMARY)
        return read(full, carters())

    def test_the_subjects_own_gp_gets_the_clinical_detail(self) -> None:
        """The mother's practice reads her clinical summary and flags."""
        [own] = to_org(self.bodies(), "gp-riverside")
        assert own.detail["clinical_summary"] == self.SUMMARY
        assert own.facts["suicidal_ideation"] is True
        assert not own.third_party

    @pytest.mark.parametrize("practice", ["gp-hillview", "gp-northgate"])
    def test_another_practice_gets_no_clinical_detail(self, practice: str) -> None:
        """The father's and the children's practices get no clinical summary, no flags and no
        domestic-abuse disclosure."""
        [other] = to_org(self.bodies(), practice)
        assert other.detail == {}
        assert not {"suicidal_ideation", "domestic_abuse", "co_occurring"} & set(other.facts)
        assert self.SUMMARY not in other.model_dump_json()

    @pytest.mark.parametrize("practice", ["gp-hillview", "gp-northgate"])
    def test_another_practice_reads_it_as_third_party(self, practice: str) -> None:
        """Marked as third-party information, not to be shown through online access."""
        [other] = to_org(self.bodies(), practice)
        assert other.third_party
        assert "third_party.not_for_online_record_access" in other.wording

    def test_another_practice_is_told_only_of_its_own_patients(self) -> None:
        """The children's practice reads its own patients' names, not the mother's."""
        [other] = to_org(self.bodies(), "gp-northgate")
        assert {p.given_name for p in other.about} == {"elder", "baby"}

    def test_a_practice_holding_the_subject_and_a_child_files_them_apart(self) -> None:
        """The subject's notice (with the detail) names her alone; the child's is third-party."""
        fam = family(parent("mum", gp="gp-riverside"), child("kid", gp="gp-riverside"))
        notices = to_org(read(crisis(clinical_summary=self.SUMMARY), fam), "gp-riverside")
        by_people = {tuple(p.given_name for p in b.about): b for b in notices}
        assert by_people[("mum",)].detail["clinical_summary"] == self.SUMMARY
        assert by_people[("kid",)].third_party
        assert self.SUMMARY not in by_people[("kid",)].model_dump_json()

    def test_a_parents_self_harm_at_ed_reaches_the_childrens_gp_without_detail(self) -> None:
        """A parent's self-harm at ED: the children's practice hears of it as third party."""
        payload = ed_payload(subject={"nhs_number": MOTHER_NHS}, presenting_category="self_harm",
                             clinical_summary=self.SUMMARY)  # fmt: skip
        [other] = to_org(read(event(payload), carters()), "gp-northgate")
        assert other.third_party
        assert other.detail == {}


class TestChildPresent:
    def test_only_the_present_childs_notice_says_present(self) -> None:
        """Baby was there, Elder was not: only Baby's health visitor reads child_present."""
        notices = read(crisis(children_present=[{"nhs_number": CHILD_NHS}]), carters("baby"))
        key_adult, deputy = to_org(notices, "school-oakfield")  # high: both told
        [health] = to_org(notices, "hv-demo")
        assert "child_present" not in key_adult.facts
        assert "child_present" not in deputy.facts
        assert health.facts["child_present"] is True

    def test_each_child_is_said_present_or_not(self) -> None:
        """The children's practice reads, for each of its patients, whether they were there."""
        notices = read(crisis(children_present=[{"nhs_number": CHILD_NHS}]), carters("baby"))
        [northgate] = to_org(notices, "gp-northgate")
        assert {p.given_name: p.present for p in northgate.about} == {"elder": False, "baby": True}

    def test_an_event_that_does_not_say_leaves_presence_unsaid(self) -> None:
        """Presence is only for a crisis, which names the children present."""
        parsed = event(
            ed_payload(subject={"nhs_number": MOTHER_NHS}, presenting_category="self_harm")
        )
        assert children_present(parsed, carters()) is None

    def test_a_front_door_keeps_the_events_word(self) -> None:
        """A present child the directory cannot match yet still makes the referral say so."""
        decision = Decision(Addressee("la", ContactRole.DUTY_MANAGER),
                            NoticeType.FRONT_DOOR_REFERRAL, Severity.HIGH, "crisis.front_door",
                            ("mum", "elder"), {"child_present": True})  # fmt: skip
        assert per_child(decision, frozenset()).facts == {"child_present": True}


KIDS = ("k1", "k2", "k3")


def kids_family(placements: list[str], present: tuple[str, ...]) -> Family:
    """Mum and three children, each at a school, a health visitor or with neither."""
    members: list[Member] = [parent("mum", gp="gp-riverside")]
    for kid, where in zip(KIDS, placements, strict=True):
        young = where != "school-oakfield" and where != "school-brookside"
        members.append(child(kid, years=1 if young else 9, gp="gp-northgate",
                             school=None if young else where,
                             health_visiting="hv-demo" if where == "hv" else None))  # fmt: skip
    return family(*members, present=present)


class TestChildPresentProperty:
    @settings(max_examples=120, deadline=None)
    @given(
        placements=st.lists(
            st.sampled_from(["school-oakfield", "school-brookside", "hv"]), min_size=3, max_size=3
        ),
        present=st.sets(st.sampled_from(KIDS)),
        flags=st.fixed_dictionaries(
            {"suicidal_ideation": st.booleans(), "domestic_abuse": st.booleans()}
        ),
    )
    def test_child_present_only_for_a_present_child(
        self, placements: list[str], present: set[str], flags: dict[str, bool]
    ) -> None:
        """Whoever was there, a notice about particular children says a child was present only
        when one of them was, and each child it names is said present only if they were."""
        fam = kids_family(placements, tuple(sorted(present)))
        named = [{"local_id": kid} for kid in sorted(present)]
        for decision, body in read(crisis(children_present=named, **flags), fam):
            about = {p.given_name for p in body.about}
            if decision.notice_type not in WHOLE_FAMILY and body.facts.get("child_present"):
                assert about & present, decision
            for person in body.about:
                if person.present:
                    assert person.given_name in present
