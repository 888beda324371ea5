"""A peer broker takes transfers only (rules/peer_areas.py): any other notice the rules would
address to the front door of an area a peer serves comes to this partnership's front door for
an area the family lived in before, or to nobody, reported; never to the peer, whose gateway
would refuse it (found by the peer-down fault class: such pushes never arrived)."""

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from broker.rules.fallback import NOBODY, missing_front_door
from broker.rules.family import (
    Addressee,
    ContactRole,
    Decision,
    Family,
    HouseholdHistory,
    OrgKind,
)
from broker.rules.history import PersonHistory
from broker.rules.peer_areas import PEER_AREA, home_doors, kept_at_home
from broker.rules.routing import decide
from broker.rules.trust import screen
from schemas.notices import NoticeType, Severity
from unit.builders import (
    AREA,
    FRONT_DOOR,
    ORG_KINDS,
    OTHER_AREA,
    OTHER_FRONT_DOOR,
    RECEIVED,
    child,
    crisis_payload,
    event,
    family,
    in_area,
    parent,
    with_context,
)

PEER = "peer-bristol"
BRISTOL = "E06000023"
DOORS = {AREA: FRONT_DOOR, OTHER_AREA: OTHER_FRONT_DOOR, BRISTOL: PEER}
KINDS = {**ORG_KINDS, PEER: OrgKind.PEER_BROKER}


def moved_to_bristol(*lived_in: str) -> Family:
    """Mum and a pupil, now living in Bristol (a peer broker's area), having lived in
    ``lived_in`` before, oldest first."""
    members = (in_area(parent("mum", gp="gp-riverside"), BRISTOL),
               in_area(child("elder", school="school-oakfield"), BRISTOL))  # fmt: skip
    moved = replace(family(*members, area=BRISTOL), front_doors=DOORS, org_kinds=KINDS)
    return with_context(moved, history=HouseholdHistory(previous_areas=lived_in))


def referral(to: str, notice_type: NoticeType = NoticeType.FRONT_DOOR_REFERRAL) -> Decision:
    return Decision(Addressee(to, ContactRole.DUTY_MANAGER), notice_type, Severity.HIGH,
                    "crisis.front_door", ("mum",), {"children": 1})  # fmt: skip


class TestKeptAtHome:
    def test_a_referral_for_a_peer_area_comes_to_the_front_door_that_knew_the_family(
        self,
    ) -> None:
        """The newest area they lived in that has a front door of this partnership's own."""
        (kept,) = kept_at_home([referral(PEER)], moved_to_bristol(OTHER_AREA, AREA))
        assert kept.addressee == Addressee(FRONT_DOOR, ContactRole.DUTY_MANAGER)
        assert kept.rule_id == "crisis.front_door.peer_area"
        assert kept.facts[PEER_AREA] == BRISTOL
        assert kept.facts["children"] == 1  # what the peer's front door would have read

    def test_with_no_earlier_area_of_its_own_it_goes_to_nobody_reported(self) -> None:
        (kept,) = kept_at_home([referral(PEER)], moved_to_bristol())
        assert kept.addressee.org_id == NOBODY
        assert missing_front_door(kept) == BRISTOL

    def test_a_transfer_still_goes_to_the_peer(self) -> None:
        transfer = referral(PEER, NoticeType.TRANSFER)
        assert kept_at_home([transfer], moved_to_bristol(AREA)) == [transfer]

    def test_notices_to_anyone_else_are_untouched(self) -> None:
        others = [referral(FRONT_DOOR), referral("school-oakfield", NoticeType.SCHOOL_SUPPORT)]
        assert kept_at_home(others, moved_to_bristol(AREA)) == others

    def test_the_front_doors_it_may_address_come_from_the_chronology_only(self) -> None:
        """Own front doors of earlier areas: never the peer's, whatever the history says."""
        assert home_doors(moved_to_bristol(BRISTOL, AREA)) == {FRONT_DOOR}


class TestDecideNeverAddressesAPeerButWithATransfer:
    def test_a_crisis_of_a_family_now_in_a_peer_area(self) -> None:
        """The referral the family's front door would get comes home, and is sent (not
        withheld by the trust screen: the door is the broker's own record of the family)."""
        fam = moved_to_bristol(AREA)
        crisis = event(crisis_payload(threats_to_kill=True))  # high risk: the front door too
        decisions = decide(crisis, fam, PersonHistory(), RECEIVED)
        assert all(d.addressee.org_id != PEER for d in decisions)
        home = [d for d in decisions if d.rule_id.endswith(".peer_area")]
        assert home
        assert {d.addressee.org_id for d in home} == {FRONT_DOOR}
        sent = screen(crisis, fam, decisions).decisions
        assert any(d.rule_id.endswith(".peer_area") for d in sent)

    @given(st.lists(st.sampled_from([AREA, OTHER_AREA, BRISTOL]), max_size=3),
           st.sampled_from(list(NoticeType)), st.sampled_from([PEER, FRONT_DOOR]))  # fmt: skip
    def test_only_a_transfer_is_ever_addressed_to_a_peer(
        self, lived_in: list[str], notice_type: NoticeType, to: str
    ) -> None:
        decisions = kept_at_home([referral(to, notice_type)], moved_to_bristol(*lived_in))
        for decision in decisions:
            assert decision.addressee.org_id != PEER or notice_type is NoticeType.TRANSFER
