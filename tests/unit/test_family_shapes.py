"""Family shapes: parents who do not live with their children, children with two homes,
siblings apart. A family is relationships, not only who lives together: an event about a
parent concerns all of that parent's children, wherever they live (brief, "Family shapes")."""

from collections.abc import Iterable
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from broker.rules.crisis import route_crisis
from broker.rules.ed_attendance import route_ed_attendance
from broker.rules.family import Decision, Family, HouseholdRole, Member, Tie
from broker.rules.history import PersonHistory
from broker.rules.move import route_move
from broker.rules.withdrawal import route_withdrawal
from schemas.directory import DirectorySpec, RelationshipSpec
from schemas.events import (
    EdAttendance,
    FamilyMovingArea,
    ParentMentalHealthCrisis,
    ServiceWithdrawal,
)
from schemas.notices import NoticeType, Severity
from unit.builders import (
    FRONT_DOOR,
    ON,
    OTHER_AREA,
    OTHER_FRONT_DOOR,
    child,
    crisis_payload,
    ed_payload,
    event,
    family,
    in_area,
    move_payload,
    parent,
    parent_of,
    sibling_of,
    withdrawal_payload,
)

NO_HOME = ""  # how the directory places someone it knows only by a tie


def ids(members: Iterable[Member]) -> list[str]:
    return sorted(m.person_id for m in members)


def told(decisions: list[Decision]) -> set[tuple[str, NoticeType]]:
    return {(d.addressee.org_id, d.notice_type) for d in decisions}


def crisis(**flags: object) -> ParentMentalHealthCrisis:
    parsed = event(crisis_payload(**flags))
    assert isinstance(parsed, ParentMentalHealthCrisis)
    return parsed


def non_resident_father(*, tied: bool = True, subject: str = "dad") -> Family:
    """Dad lives alone in this area; his daughter lives with her mother in another area. The
    directory ties Dad to his daughter; Mum's tie comes from the home they share."""
    ties = (parent_of("dad", "daughter", responsible=True), parent_of("mum", "daughter"))
    return family(
        parent("dad", "h-dad", gp="gp-hillview"),
        in_area(parent("mum", "h-mum", gp="gp-riverside"), OTHER_AREA),
        in_area(child("daughter", "h-mum", school="school-oakfield", gp="gp-northgate"),
                OTHER_AREA),
        subject=subject,
        ties=ties if tied else (),
    )  # fmt: skip


def twins_apart(subject: str) -> Family:
    """Twins of eight: one lives with Mum, one with Dad, each at a different school; the
    directory ties both twins to both parents."""
    return family(
        parent("mum", "h-mum", gp="gp-riverside"),
        child("twin-1", "h-mum", school="school-oakfield", gp="gp-riverside"),
        parent("dad", "h-dad", gp="gp-hillview"),
        child("twin-2", "h-dad", school="school-brookside", gp="gp-hillview"),
        subject=subject,
        ties=tuple(parent_of(p, c) for p in ("mum", "dad") for c in ("twin-1", "twin-2")),
    )


class TestChildrenOf:
    def test_children_of_a_home(self) -> None:
        """With no ties at all, a parent's children are the children they live with."""
        fam = family(parent("mum", "h1"), child("kid", "h1"), child("other", "h2"))
        assert ids(fam.children_of("mum")) == ["kid"]

    def test_a_tied_child_elsewhere(self) -> None:
        """A child the directory ties to the parent is theirs, though they live apart."""
        assert ids(non_resident_father().children_of("dad")) == ["daughter"]

    def test_without_the_tie_a_child_elsewhere_is_not_theirs(self) -> None:
        """Living apart and untied, nothing says the child is the parent's."""
        assert non_resident_father(tied=False).children_of("dad") == ()

    def test_children_at_home_and_tied_together(self) -> None:
        """A parent's children at home and a child elsewhere are all theirs, each once."""
        fam = family(
            parent("dad", "h-dad"),
            child("son", "h-dad"),
            child("daughter", "h-mum"),
            child("daughter", "h-dad2"),
            ties=(parent_of("dad", "daughter"), parent_of("dad", "son")),
        )
        assert ids(fam.children_of("dad")) == ["daughter", "son"]

    def test_a_parent_with_no_home_still_has_children(self) -> None:
        """A parent the directory knows only by the tie (no household) has the child."""
        fam = family(parent("dad", NO_HOME), child("kid", "h-mum"), parent("mum", "h-mum"),
                     ties=(parent_of("dad", "kid"),))  # fmt: skip
        assert ids(fam.children_of("dad")) == ["kid"]

    def test_people_without_a_home_do_not_share_one(self) -> None:
        """Two people the directory places in no household are not living together: a
        child tied only to someone else is not the homeless parent's child."""
        fam = family(
            parent("dad", NO_HOME),
            child("kid", "h-mum"),
            child("half-sister", NO_HOME),
            ties=(parent_of("dad", "kid"), sibling_of("kid", "half-sister")),
        )
        assert ids(fam.children_of("dad")) == ["kid"]


class TestParentsOf:
    def test_parents_at_home_and_tied_elsewhere(self) -> None:
        """A child's parents are the carers it lives with and the parents tied to it."""
        fam = non_resident_father()
        assert ids(fam.parents_of("daughter")) == ["dad", "mum"]

    def test_an_adult_elsewhere_untied_is_not_a_parent(self) -> None:
        """An adult in another household with no tie is nobody's parent here."""
        fam = family(parent("mum", "h1"), child("kid", "h1"), parent("neighbour", "h2"))
        assert ids(fam.parents_of("kid")) == ["mum"]

    def test_a_child_at_home_is_not_a_parent(self) -> None:
        """Brothers and sisters at home are not parents."""
        fam = family(parent("mum", "h1"), child("kid", "h1"), child("brother", "h1"))
        assert ids(fam.parents_of("kid")) == ["mum"]


class TestOtherParents:
    @pytest.mark.parametrize(("subject", "other"), [("mum", "dad"), ("dad", "mum")])
    def test_the_other_parent_across_homes(self, subject: str, other: str) -> None:
        """Twins apart: each parent's other parent is the one in the other home."""
        assert ids(twins_apart(subject).other_parents(subject)) == [other]

    def test_the_mother_of_a_non_resident_fathers_child(self) -> None:
        """The father's daughter lives with her mother: she is the other parent."""
        assert ids(non_resident_father().other_parents("dad")) == ["mum"]

    def test_the_non_resident_father_is_the_mothers_other_parent(self) -> None:
        """And the other way round: the mother's other parent is the tied father."""
        assert ids(non_resident_father(subject="mum").other_parents("mum")) == ["dad"]

    def test_a_tied_parent_with_no_home(self) -> None:
        """A parent the directory places nowhere is still the other parent."""
        fam = family(parent("mum", "h1"), child("kid", "h1"), parent("dad", NO_HOME),
                     ties=(parent_of("dad", "kid"),))  # fmt: skip
        assert ids(fam.other_parents("mum")) == ["dad"]


class TestSiblingsOf:
    def test_sharing_a_home(self) -> None:
        """Children of one household are brothers and sisters."""
        fam = family(parent("mum", "h1"), child("kid", "h1"), child("brother", "h1"))
        assert ids(fam.siblings_of("kid")) == ["brother"]

    def test_sharing_a_parent_across_homes(self) -> None:
        """A half-brother living with his own mother shares Dad: he is a brother."""
        fam = family(
            parent("dad", "h-dad"),
            child("kid", "h-dad"),
            child("half-brother", "h-other"),
            ties=(parent_of("dad", "half-brother"),),
        )
        assert ids(fam.siblings_of("kid")) == ["half-brother"]

    @pytest.mark.parametrize("tie", [sibling_of("kid", "twin"), sibling_of("twin", "kid")])
    def test_a_stated_tie_either_way(self, tie: Tie) -> None:
        """A stated sibling tie holds from either end, whatever the homes and parents."""
        fam = family(child("kid", "h1"), child("twin", "h2"), ties=(tie,))
        assert ids(fam.siblings_of("kid")) == ["twin"]

    def test_unrelated_children_elsewhere_are_not_siblings(self) -> None:
        """No home, parent or tie in common: not a sibling."""
        fam = family(parent("mum", "h1"), child("kid", "h1"),
                     parent("neighbour", "h2"), child("other", "h2"))  # fmt: skip
        assert fam.siblings_of("kid") == ()

    def test_children_placed_nowhere_are_not_siblings_by_home(self) -> None:
        """Two children the directory knows only by ties do not share a home."""
        fam = family(child("cousin", NO_HOME), child("kid", NO_HOME), child("friend", "h9"))
        assert fam.siblings_of("kid") == ()


# --------------------------------------------------------------------------- properties

PEOPLE = ("a", "b", "c", "d", "e", "f")
HOMES = ("h1", "h2", "h3", NO_HOME)
rows = st.lists(
    st.tuples(st.sampled_from(PEOPLE), st.sampled_from(tuple(HouseholdRole)),
              st.sampled_from(HOMES)),
    max_size=10,
)  # fmt: skip
ties = st.lists(
    st.builds(Tie, st.sampled_from(PEOPLE), st.sampled_from(("parent_of", "sibling_of")),
              st.sampled_from(PEOPLE)).filter(lambda t: t.person_id != t.related_person_id),
    max_size=6,
)  # fmt: skip


def built(placed: list[tuple[str, HouseholdRole, str]], tied: list[Tie]) -> Family:
    members = tuple(Member(p, role, home) for p, role, home in placed)
    return family(*members, subject=None, ties=tuple(tied))


class TestShapeProperties:
    @settings(max_examples=200, deadline=None)
    @given(
        placed=rows,
        tied=ties,
        pair=st.lists(st.sampled_from(PEOPLE), min_size=2, max_size=2, unique=True),
        home=st.sampled_from(HOMES),
    )
    def test_a_tied_child_is_always_the_parents_child(
        self, placed: list[tuple[str, HouseholdRole, str]], tied: list[Tie], pair: list[str],
        home: str,
    ) -> None:  # fmt: skip
        """Whatever the households, a child tied to a parent is among that parent's
        children."""
        adult, kid = pair
        fam = built([*placed, (kid, HouseholdRole.CHILD, home)],
                    [*tied, parent_of(adult, kid)])  # fmt: skip
        assert kid in ids(fam.children_of(adult))

    @settings(max_examples=200, deadline=None)
    @given(placed=rows, tied=ties, person=st.sampled_from(PEOPLE))
    def test_nobody_is_their_own_other_parent(
        self, placed: list[tuple[str, HouseholdRole, str]], tied: list[Tie], person: str
    ) -> None:
        """other_parents never names the person asked about."""
        assert person not in ids(built(placed, tied).other_parents(person))

    @settings(max_examples=200, deadline=None)
    @given(placed=rows, tied=ties, person=st.sampled_from(PEOPLE))
    def test_nobody_is_their_own_sibling_child_or_parent(
        self, placed: list[tuple[str, HouseholdRole, str]], tied: list[Tie], person: str
    ) -> None:
        """siblings_of, children_of and parents_of never name the person asked about."""
        fam = built(placed, tied)
        assert person not in ids(fam.siblings_of(person))
        assert person not in ids(fam.children_of(person))
        assert person not in ids(fam.parents_of(person))

    @settings(max_examples=200, deadline=None)
    @given(placed=rows, person=st.sampled_from(PEOPLE))
    def test_without_ties_children_are_those_at_home(
        self, placed: list[tuple[str, HouseholdRole, str]], person: str
    ) -> None:
        """A directory with no ties routes as before: a person's children are the children
        of the households they live in (and being in no household is no home)."""
        fam = built(placed, [])
        homes = {h for p, _, h in placed if p == person and h != NO_HOME}
        expected = {p for p, role, h in placed
                    if role is HouseholdRole.CHILD and h in homes and p != person}  # fmt: skip
        assert set(ids(fam.children_of(person))) == expected

    @settings(max_examples=200, deadline=None)
    @given(
        roles=st.fixed_dictionaries({p: st.sampled_from(tuple(HouseholdRole)) for p in PEOPLE}),
        homes=st.lists(st.tuples(st.sampled_from(PEOPLE), st.sampled_from(HOMES)), max_size=10),
        tied=ties,
        pair=st.lists(st.sampled_from(PEOPLE), min_size=2, max_size=2, unique=True),
        pair_homes=st.tuples(st.sampled_from(HOMES), st.sampled_from(HOMES)),
    )
    def test_siblings_are_mutual(
        self, roles: dict[str, HouseholdRole], homes: list[tuple[str, str]], tied: list[Tie],
        pair: list[str], pair_homes: tuple[str, str],
    ) -> None:  # fmt: skip
        """Between two children in the family (each person one role throughout), if one is
        the other's sibling, the other is theirs."""
        roles |= dict.fromkeys(pair, HouseholdRole.CHILD)
        placed = [(p, roles[p], home) for p, home in [*homes, *zip(pair, pair_homes, strict=True)]]
        fam, one, other = built(placed, tied), *pair
        assert (other in ids(fam.siblings_of(one))) == (one in ids(fam.siblings_of(other)))


# --------------------------------------------------------------------------- routing


class TestNonResidentFatherInCrisis:
    def test_his_daughter_and_everyone_around_her_are_told(self) -> None:
        """Threats to kill by a father who lives apart: his daughter's school, her GP, her
        mother's GP, his own GP and the front door where she lives; no one else."""
        decisions = route_crisis(crisis(threats_to_kill=True), non_resident_father(), ON)
        assert told(decisions) == {
            ("school-oakfield", NoticeType.SCHOOL_SUPPORT),
            ("gp-northgate", NoticeType.GP_INFORMATION),
            ("gp-riverside", NoticeType.GP_INFORMATION),
            ("gp-hillview", NoticeType.GP_INFORMATION),
            (OTHER_FRONT_DOOR, NoticeType.FRONT_DOOR_REFERRAL),
        }

    def test_every_notice_is_high(self) -> None:
        """Threats to kill are a high-risk signal for every notice, not only the referral."""
        decisions = route_crisis(crisis(threats_to_kill=True), non_resident_father(), ON)
        assert {d.severity for d in decisions} == {Severity.HIGH}

    def test_the_referral_is_where_she_lives_not_where_he_does(self) -> None:
        """The front door of the daughter's area, not of the father's, gets the referral,
        about him and her."""
        decisions = route_crisis(crisis(threats_to_kill=True), non_resident_father(), ON)
        [referral] = [d for d in decisions if d.notice_type is NoticeType.FRONT_DOOR_REFERRAL]
        assert (referral.addressee.org_id, referral.about) == (OTHER_FRONT_DOOR,
                                                               ("dad", "daughter"))  # fmt: skip
        assert FRONT_DOOR not in {d.addressee.org_id for d in decisions}

    def test_each_gp_hears_about_its_own_patient(self) -> None:
        """Each practice's notice is about its own patient: his, hers, the child's."""
        decisions = route_crisis(crisis(threats_to_kill=True), non_resident_father(), ON)
        gps = {d.addressee.org_id: d.about for d in decisions
               if d.notice_type is NoticeType.GP_INFORMATION}  # fmt: skip
        assert gps == {"gp-hillview": ("dad",), "gp-riverside": ("mum",),
                       "gp-northgate": ("daughter",)}  # fmt: skip

    def test_without_the_tie_only_his_gp_hears(self) -> None:
        """The failure the tie prevents: untied, only the father's own GP is told."""
        decisions = route_crisis(crisis(threats_to_kill=True), non_resident_father(tied=False),
                                 ON)  # fmt: skip
        assert told(decisions) == {("gp-hillview", NoticeType.GP_INFORMATION)}

    def test_his_self_harm_at_ed_is_a_crisis_for_her(self) -> None:
        """A non-resident parent's self-harm at ED reaches his daughter's school."""
        parsed = event(ed_payload(presenting_category="self_harm"))
        assert isinstance(parsed, EdAttendance)
        decisions = route_ed_attendance(parsed, non_resident_father(), PersonHistory(), ON)
        assert ("school-oakfield", NoticeType.SCHOOL_SUPPORT) in told(decisions)
        assert (OTHER_FRONT_DOOR, NoticeType.FRONT_DOOR_REFERRAL) in told(decisions)

    def test_his_disengaging_from_mental_health_reaches_her_school(self) -> None:
        """A non-resident parent known to mental health services disengages: his
        daughter's school and her area's front door consider her needs."""
        parsed = event(withdrawal_payload(reason="non_engagement", source_org="mh-demo"))
        assert isinstance(parsed, ServiceWithdrawal)
        decisions = route_withdrawal(parsed, non_resident_father(), ON)
        assert {("school-oakfield", NoticeType.SCHOOL_SUPPORT),
                (OTHER_FRONT_DOOR, NoticeType.FRONT_DOOR_REFERRAL)} <= told(decisions)  # fmt: skip


class TestTwinsLivingApart:
    @pytest.mark.parametrize("subject", ["mum", "dad"])
    def test_either_parents_crisis_reaches_both_twins_schools(self, subject: str) -> None:
        """Whichever parent is in crisis, both twins' schools hear, once each."""
        decisions = route_crisis(crisis(), twins_apart(subject), ON)
        schools = [(d.addressee.org_id, d.about) for d in decisions
                   if d.notice_type is NoticeType.SCHOOL_SUPPORT]  # fmt: skip
        assert sorted(schools) == [("school-brookside", ("twin-2",)),
                                   ("school-oakfield", ("twin-1",))]  # fmt: skip

    @pytest.mark.parametrize("subject", ["mum", "dad"])
    def test_either_parents_crisis_reaches_both_twins_health_visitors(self, subject: str) -> None:
        """Twins under school age, each with their home's health visiting team: both teams
        hear."""
        fam = family(
            parent("mum", "h-mum"), child("twin-1", "h-mum", years=3, health_visiting="hv-demo"),
            parent("dad", "h-dad"), child("twin-2", "h-dad", years=3, health_visiting="hv-north"),
            subject=subject,
            ties=tuple(parent_of(p, c) for p in ("mum", "dad") for c in ("twin-1", "twin-2")),
        )  # fmt: skip
        decisions = route_crisis(crisis(), fam, ON)
        teams = {d.addressee.org_id for d in decisions
                 if d.notice_type is NoticeType.HEALTH_VISITING}  # fmt: skip
        assert teams == {"hv-demo", "hv-north"}

    def test_the_other_parents_gp_is_told(self) -> None:
        """Mum's crisis reaches Dad's GP, who also looks after the twin living with him."""
        decisions = route_crisis(crisis(), twins_apart("mum"), ON)
        [hillview] = [d for d in decisions if d.addressee.org_id == "gp-hillview"]
        assert hillview.about == ("dad", "twin-2")


class TestMovesOfSeparatedFamilies:
    def test_a_non_resident_father_moves_alone(self) -> None:
        """He moves; his daughter stays with her mother: the transfer and the new GP are
        about him alone, and no new school hears about her."""
        parsed = event(move_payload(new_school="school-brookside", new_gp="gp-northgate"))
        assert isinstance(parsed, FamilyMovingArea)
        decisions = route_move(parsed, non_resident_father(), ON)
        assert {(d.notice_type, d.about) for d in decisions} == {
            (NoticeType.TRANSFER, ("dad",)),
            (NoticeType.GP_INFORMATION, ("dad",)),
        }

    def test_only_his_home_moves(self) -> None:
        """The home the daughter shares with her mother stays where it is."""
        assert non_resident_father().moving_households() == {"h-dad"}

    def test_a_mother_moving_with_a_child_of_two_homes_leaves_the_fathers(self) -> None:
        """Mum moves with the child who also lives at Dad's: her home moves, his stays,
        and the transfer is about the two of them."""
        fam = family(
            parent("mum", "h-mum"),
            child("kid", "h-mum"),
            child("kid", "h-dad"),
            parent("dad", "h-dad"),
            child("half-brother", "h-dad"),
        )
        fam = replace(fam, subjects=("mum", "kid"))
        assert fam.moving_households() == {"h-mum"}
        assert ids(fam.movers()) == ["kid", "mum"]

    def test_children_named_alone_take_their_homes(self) -> None:
        """With no adult named, the named children's homes move."""
        fam = family(parent("mum", "h1"), child("kid", "h1"), subject="kid")
        assert fam.moving_households() == {"h1"}


class TestRelationshipContract:
    def test_the_directory_schema_carries_relationships(self) -> None:
        """The published directory contract has relationships of the two kinds, with a
        parental responsibility that may be unknown."""
        schema = DirectorySpec.model_json_schema()
        assert schema["properties"]["relationships"]["items"] == {
            "$ref": "#/$defs/RelationshipSpec"
        }
        tie = schema["$defs"]["RelationshipSpec"]["properties"]
        assert tie["kind"]["enum"] == ["parent_of", "sibling_of"]
        assert {"type": "null"} in tie["parental_responsibility"]["anyOf"]

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"person_id": "p-1", "kind": "sibling_of", "related_person_id": "p-1"},
             "related_person_id"),
            ({"person_id": "p-1", "kind": "sibling_of", "related_person_id": "p-2",
              "parental_responsibility": True}, "parental_responsibility"),
            ({"person_id": "p-1", "kind": "cousin_of", "related_person_id": "p-2"}, "kind"),
        ],
    )  # fmt: skip
    def test_a_bad_tie_names_its_field(self, body: dict[str, object], field: str) -> None:
        """A tie to oneself, responsibility on siblings or an unknown kind is refused by the
        field at fault, without quoting the value."""
        with pytest.raises(ValidationError) as caught:
            RelationshipSpec.model_validate(body)
        [error] = caught.value.errors()
        assert error["loc"] == (field,)
        assert "p-1" not in str(caught.value)
