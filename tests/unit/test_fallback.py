"""Nothing silent: a notice its reader cannot receive goes to the front door of the area where
the children concerned live, with the reason and the organisation it was meant for. As a
table of cases and as properties over every kind of notice, addressee and family."""

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.rules.common import front_door_decision
from broker.rules.fallback import FALLBACK_REASON, INTENDED_FOR, fallback_reason, to_front_door
from broker.rules.family import Addressee, ContactRole, Decision, Family, Member
from schemas.notices import NoticeType, Severity
from unit.builders import (
    AREA,
    FRONT_DOOR,
    OTHER_AREA,
    OTHER_FRONT_DOOR,
    child,
    family,
    in_area,
    parent,
)

SCHOOL = "school-oakfield"
NOT_ONBOARDED = "recipient_not_onboarded"
UNKNOWN_AREA = "E09000001"  # an area the directory has no front door for

MUM = in_area(parent("mum", gp="gp-riverside"), AREA)
KID = in_area(child("kid", school=SCHOOL), AREA)
KID_AWAY = in_area(child("kid", "h2", school=SCHOOL), OTHER_AREA)  # lives with the other parent
NOWHERE_KID = in_area(child("kid", school=SCHOOL), None)


def decision(
    org: str = SCHOOL,
    role: ContactRole = ContactRole.KEY_ADULT,
    kind: NoticeType = NoticeType.SCHOOL_SUPPORT,
    about: tuple[str, ...] = ("kid",),
    severity: Severity = Severity.MEDIUM,
) -> Decision:
    return Decision(Addressee(org, role), kind, severity, "crisis.child", about,
                    {"child_present": True})  # fmt: skip


def without_front_doors(fam: Family) -> Family:
    return replace(fam, front_doors={})


class TestWhereTheFallbackGoes:
    @pytest.mark.parametrize(
        ("case", "sent", "fam", "door"),
        [
            ("school not onboarded: the child's front door",
             decision(), family(MUM, KID), FRONT_DOOR),
            ("the child lives in another area: that area's front door",
             decision(), family(MUM, KID_AWAY), OTHER_FRONT_DOOR),
            ("the person concerned has no area: the family's front door",
             decision(), family(MUM, NOWHERE_KID), FRONT_DOOR),
            ("a GP notice about the mother: her area's front door",
             decision("gp-riverside", ContactRole.SAFEGUARDING_LEAD, NoticeType.GP_INFORMATION,
                      ("mum",)), family(MUM, KID), FRONT_DOOR),
            ("a receiving authority's front door that cannot be told: the child's own",
             decision(OTHER_FRONT_DOOR, ContactRole.DUTY_MANAGER, NoticeType.TRANSFER),
             family(MUM, KID), FRONT_DOOR),
            ("the first person concerned whose area has a front door decides",
             decision(about=("kid", "mum")),
             family(in_area(MUM, AREA), in_area(KID, UNKNOWN_AREA)), FRONT_DOOR),
        ],
    )  # fmt: skip
    def test_goes_to_the_front_door_of_the_area_of_those_concerned(
        self, case: str, sent: Decision, fam: Family, door: str
    ) -> None:
        """Re-addressed to the duty manager of the front door where the people live."""
        fallback = to_front_door(sent, fam, NOT_ONBOARDED)
        assert fallback is not None, case
        assert fallback.addressee == Addressee(door, ContactRole.DUTY_MANAGER), case
        assert fallback.notice_type is NoticeType.FRONT_DOOR_REFERRAL, case

    @pytest.mark.parametrize(
        ("case", "sent", "fam"),
        [
            ("the notice was for the front door itself",
             decision(FRONT_DOOR, ContactRole.DUTY_MANAGER, NoticeType.FRONT_DOOR_REFERRAL),
             family(MUM, KID)),
            ("the front door's own safeguarding lead",
             decision(FRONT_DOOR, ContactRole.SAFEGUARDING_LEAD, NoticeType.FRONT_DOOR_REFERRAL),
             family(MUM, KID)),
            ("no front door anywhere the family lives",
             decision(), without_front_doors(family(MUM, KID))),
            ("neither the people nor the family have an area",
             decision(), family(in_area(MUM, None), NOWHERE_KID, area=None)),
        ],
    )  # fmt: skip
    def test_nowhere_left_to_try(self, case: str, sent: Decision, fam: Family) -> None:
        """None: the caller parks the notice as a dead letter and reports it."""
        assert to_front_door(sent, fam, NOT_ONBOARDED) is None, case


class TestWhatTheFallbackSays:
    def test_says_why_and_for_whom(self) -> None:
        """The facts carry the reason and the organisation it was meant for."""
        fallback = to_front_door(decision(), family(MUM, KID), NOT_ONBOARDED)
        assert fallback is not None
        assert fallback.facts[FALLBACK_REASON] == NOT_ONBOARDED
        assert fallback.facts[INTENDED_FOR] == SCHOOL
        assert fallback_reason(fallback) == NOT_ONBOARDED

    def test_keeps_the_original_facts(self) -> None:
        """What the original notice would have said is still said."""
        fallback = to_front_door(decision(), family(MUM, KID), NOT_ONBOARDED)
        assert fallback is not None
        assert fallback.facts["child_present"] is True

    def test_rule_id_says_it_is_a_fallback(self) -> None:
        """A distinct rule id: the fallback is a notice of its own, never the original's id."""
        fallback = to_front_door(decision(), family(MUM, KID), NOT_ONBOARDED)
        assert fallback is not None
        assert fallback.rule_id == "crisis.child.fallback"

    def test_an_ordinary_decision_has_no_fallback_reason(self) -> None:
        """Only a re-addressed notice carries a reason."""
        assert fallback_reason(decision()) is None


PEOPLE = ("mum", "kid", "baby")
AREAS = st.sampled_from([AREA, OTHER_AREA, UNKNOWN_AREA, None])
DOORS = st.sampled_from([{}, {AREA: FRONT_DOOR}, {AREA: FRONT_DOOR, OTHER_AREA: OTHER_FRONT_DOOR}])
ORGS = st.sampled_from([SCHOOL, "gp-riverside", "hv-demo", FRONT_DOOR, OTHER_FRONT_DOOR])


@st.composite
def families(draw: st.DrawFn) -> Family:
    members: list[Member] = [
        in_area(parent("mum", gp="gp-riverside"), draw(AREAS)),
        in_area(child("kid", school=SCHOOL), draw(AREAS)),
        in_area(child("baby", years=0, months=4, health_visiting="hv-demo"), draw(AREAS)),
    ]
    return replace(family(*members, area=draw(AREAS)), front_doors=draw(DOORS))


@st.composite
def decisions(draw: st.DrawFn) -> Decision:
    about = draw(st.lists(st.sampled_from(PEOPLE), min_size=1, max_size=3, unique=True))
    return decision(draw(ORGS), draw(st.sampled_from(list(ContactRole))),
                    draw(st.sampled_from(list(NoticeType))), tuple(about),
                    draw(st.sampled_from(list(Severity))))  # fmt: skip


def a_front_door_for(sent: Decision, fam: Family) -> bool:
    """Some area of the people concerned, or the family's own, has a front door."""
    areas = {m.area for m in fam.members if m.person_id in sent.about} | {fam.area}
    return any(area in fam.front_doors for area in areas)


class TestFallbackProperties:
    @given(sent=decisions(), fam=families())
    def test_never_back_to_the_organisation_it_was_meant_for(
        self, sent: Decision, fam: Family
    ) -> None:
        """A fallback never goes to the organisation that could not be reached."""
        fallback = to_front_door(sent, fam, NOT_ONBOARDED)
        if fallback is not None:
            assert fallback.addressee.org_id != sent.addressee.org_id
            assert fallback.addressee.org_id in fam.front_doors.values()
            assert fallback.facts[INTENDED_FOR] == sent.addressee.org_id

    @given(sent=decisions(), fam=families())
    def test_keeps_the_severity_and_the_people(self, sent: Decision, fam: Family) -> None:
        """Nothing is downgraded and nobody is dropped on the way to the front door."""
        fallback = to_front_door(sent, fam, NOT_ONBOARDED)
        if fallback is not None:
            assert fallback.severity is sent.severity
            assert fallback.about == sent.about
            assert fallback.notice_type is NoticeType.FRONT_DOOR_REFERRAL

    @given(sent=decisions(), fam=families())
    def test_none_only_without_a_front_door_or_when_it_was_the_front_door(
        self, sent: Decision, fam: Family
    ) -> None:
        """Silence is left only when there is no front door, or it was the one unreachable,
        or the notice was an out-of-hours alert (its front door has the referral itself)."""
        if to_front_door(sent, fam, NOT_ONBOARDED) is None:
            was_a_front_door = sent.addressee.org_id in fam.front_doors.values()
            alert = sent.notice_type is NoticeType.OUT_OF_HOURS
            assert was_a_front_door or alert or not a_front_door_for(sent, fam)


class TestAreaWithoutAFrontDoor:
    """A referral meant for the front door of an area the broker knows no front door for."""

    def test_the_familys_own_front_door_hears_with_the_reason(self) -> None:
        """The children live where no front door is known: the family's front door is told,
        not nobody, and the reason says why."""
        fam = family(in_area(MUM, AREA), in_area(KID, UNKNOWN_AREA))
        [referral] = front_door_decision(fam, Severity.HIGH, "crisis", ("mum", "kid"), {},
                                         (UNKNOWN_AREA,))  # fmt: skip
        assert referral.addressee.org_id == FRONT_DOOR
        assert referral.facts["fallback_reason"] == "no_front_door_for_area"
        assert referral.rule_id == "crisis.front_door.fallback"

    def test_a_known_front_door_is_told_directly(self) -> None:
        """Where the area has its front door, no fallback and no reason."""
        fam = family(in_area(MUM, AREA), in_area(KID, AREA))
        [referral] = front_door_decision(fam, Severity.HIGH, "crisis", ("mum",), {}, (AREA,))
        assert "fallback_reason" not in referral.facts
