"""A peer broker's areas in the front-door map (issue 16, items 3 and 4): a move there is a
transfer to the peer with no rule of its own, and what its deadline or a rejection brings stays
at the originating authority, never with the peer."""

from dataclasses import replace
from datetime import UTC, date, datetime
from uuid import uuid4

import pytest

from broker.rules.escalation import escalation_chain, reroute_target
from broker.rules.family import Addressee, ContactRole, Decision, Family, OrgKind
from broker.rules.move import route_move
from broker.rules.peers import matching_front_door
from schemas.events import CarriedHistory, EventType, FamilyMovingArea, PersonRef
from schemas.notices import NoticeType, Severity
from unit.builders import AREA, FRONT_DOOR, family, parent

PEER = "peer-north"
PEER_AREAS = ("E08000001", "E08000002")


def with_peer(areas: tuple[str, ...] = PEER_AREAS) -> Family:
    """The family, and a directory that maps the peer's areas to it (adapters/directory.py)."""
    known = family(parent("mum"))
    return replace(known, front_doors={**dict.fromkeys(areas, PEER), **known.front_doors})


def move(to: str | None) -> FamilyMovingArea:
    return FamilyMovingArea(event_type=EventType.FAMILY_MOVING_AREA, event_id=uuid4(),
                            source_org=FRONT_DOOR, occurred_at=datetime.now(UTC),
                            members=(PersonRef(nhs_number="9990000018"),), from_authority=AREA,
                            to_authority=to, moved_on=date(2026, 11, 30))  # fmt: skip


def transfer_to_peer() -> Decision:
    return Decision(Addressee(PEER, ContactRole.DUTY_MANAGER), NoticeType.TRANSFER,
                    route_move(move(PEER_AREAS[0]), with_peer(), date(2026, 11, 30))[0].severity,
                    "move.transfer", ("mum",), {"from_authority": AREA})  # fmt: skip


class TestMovesToAPeersArea:
    @pytest.mark.parametrize("area", PEER_AREAS)
    def test_a_move_to_an_area_a_peer_serves_is_a_transfer_to_the_peer(self, area: str) -> None:
        """The transfer goes to the peer's contact (duty manager role), with the history."""
        [transfer] = route_move(move(area), with_peer(), date(2026, 11, 30))
        assert transfer.addressee == Addressee(PEER, ContactRole.DUTY_MANAGER)
        assert transfer.notice_type is NoticeType.TRANSFER
        assert transfer.rule_id == "move.transfer"

    def test_the_partnerships_own_front_door_comes_before_a_peer(self) -> None:
        """An area with a front door here stays the front door's, whatever a peer serves."""
        [transfer] = route_move(move(AREA), with_peer((AREA,)), date(2026, 11, 30))
        assert transfer.addressee.org_id == FRONT_DOOR


class TestDeadlinesOfATransferToAPeer:
    def test_a_missed_deadline_escalates_to_the_originating_duty_manager(self) -> None:
        """Not the peer again: the authority the family left, here."""
        chain = escalation_chain(transfer_to_peer(), with_peer())
        assert chain == (Addressee(FRONT_DOOR, ContactRole.DUTY_MANAGER),)

    def test_a_rejection_by_the_peer_goes_to_the_originating_front_door(self) -> None:
        """The receiving front door says it is not theirs: the originating one takes it."""
        target = reroute_target(transfer_to_peer(), with_peer())
        assert target == Addressee(FRONT_DOOR, ContactRole.DUTY_MANAGER)


def received_from_peer() -> tuple[Decision, Family]:
    """At the receiving broker: the peer's area (where the family comes from) maps to the
    peer, and the transfer is addressed to this partnership's own front door."""
    known = with_peer()
    kinds = {**known.org_kinds, PEER: OrgKind.PEER_BROKER}
    decision = Decision(Addressee(FRONT_DOOR, ContactRole.DUTY_MANAGER), NoticeType.TRANSFER,
                        Severity.HIGH, "move.transfer", ("mum",),
                        {"from_authority": PEER_AREAS[0]})  # fmt: skip
    return decision, replace(known, org_kinds=kinds)


class TestATransferAPeerSentHere:
    def test_a_missed_deadline_stays_here_never_travels_back_to_the_peer(self) -> None:
        """The peer escalates at its own authority (no receipt reaches it); here, this front
        door's safeguarding lead."""
        decision, known = received_from_peer()
        assert escalation_chain(decision, known) == (
            Addressee(FRONT_DOOR, ContactRole.SAFEGUARDING_LEAD),)  # fmt: skip

    def test_a_rejection_stays_here_never_travels_back_to_the_peer(self) -> None:
        """The peer hears of it as a receipt; the notice goes to the safeguarding lead."""
        decision, known = received_from_peer()
        assert reroute_target(decision, known) == Addressee(
            FRONT_DOOR, ContactRole.SAFEGUARDING_LEAD
        )


def moved_in(to: str | None, carried: bool = True) -> FamilyMovingArea:
    """A move a peer transferred here (or, uncarried, one reported here)."""
    history = CarriedHistory(transfer_id=uuid4(), from_peer=PEER) if carried else None
    return move(to).model_copy(update={"carried_history": history, "source_org": PEER,
                                       "from_authority": PEER_AREAS[0]})  # fmt: skip


class TestWhoMatchesUnknownPeople:
    @pytest.mark.parametrize(("event", "door"), [
        (moved_in(AREA), FRONT_DOOR),  # a peer's transfer: the receiving front door
        (moved_in(PEER_AREAS[1]), None),  # to another of the peer's areas: the family's own
        (moved_in(None), None),  # no destination: the family's own
        (moved_in(AREA, carried=False), None),  # reported here: the family's own
    ])  # fmt: skip
    def test_the_queue_of_the_front_door_where_the_family_arrives(
        self, event: FamilyMovingArea, door: str | None
    ) -> None:
        """A peer's transfer to an area here: that area's front door (the peer matches
        nobody here). Otherwise (None in the table) as for any event: the family's own."""
        kinds = {**with_peer().org_kinds, PEER: OrgKind.PEER_BROKER}
        arriving = replace(with_peer(), area=PEER_AREAS[0], org_kinds=kinds)
        expected = door or arriving.front_door()
        assert matching_front_door(event, arriving) == expected
