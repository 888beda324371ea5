"""A peer broker's transfer read as the move it reports (broker.rules.peers)."""

from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.rules.family import Decision, Family, HouseholdRole, Member, OrgKind
from broker.rules.history import PersonHistory
from broker.rules.peers import (
    TransferUnusable,
    completed_by_match,
    move_from_transfer,
    receiving_front_door,
    unknown_family_transfer,
)
from broker.rules.routing import decide
from broker.rules.trust import screen
from schemas.notices import (
    FollowUp,
    HistoryPlan,
    NoticeBody,
    NoticeHeader,
    NoticeType,
    PersonView,
    ProfessionalView,
    Severity,
    TransferHistory,
)

PEER = "peer-north"
AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
MOTHER = PersonView(given_name="Jess", family_name="Carter", nhs_number="9990000018",
                    role="parent_or_carer")  # fmt: skip
CHILD = PersonView(given_name="Ava", family_name="Carter", nhs_number="9990000085",
                   date_of_birth=date(2018, 3, 1), role="child")  # fmt: skip
UNNAMED = PersonView(given_name="Baby", role="child")  # no NHS number


def header(
    notice_type: NoticeType = NoticeType.TRANSFER, notice_id: UUID | None = None
) -> NoticeHeader:
    return NoticeHeader(notice_id=notice_id or uuid4(), event_id=uuid4(), household="h1",
                        recipient_id="south:duty_manager", recipient_org="south",
                        notice_type=notice_type, severity=Severity.HIGH, created_at=AT,
                        deadline=AT, recipient_key_id="k", signing_key_id="s")  # fmt: skip


def body(**changes: Any) -> NoticeBody:
    plan = HistoryPlan(kind="child_protection", category="neglect", started_on=date(2025, 1, 6),
                       open=True, child=CHILD, recorded_by="event",
                       lead_professional=ProfessionalView(name="Sam Lee", role="social worker",
                                                          org_id="w-fd"))  # fmt: skip
    values: dict[str, Any] = {
        "summary": "transfer", "event_type": "family_moving_area", "occurred_at": AT,
        "about": (MOTHER, CHILD),
        "facts": {"from_authority": "W06000015", "to_authority": "E08000001"},
        "detail": {"moved_on": "2026-11-28", "new_school": "school-99", "new_gp": None},
        "history": TransferHistory(plans=(plan,), previous_areas=("W06000011",)),
    }  # fmt: skip
    return NoticeBody(**(values | changes))


class TestMoveFromTransfer:
    def test_the_move_is_the_peers_under_the_transfers_id(self) -> None:
        """Event id = transfer id (a retried push is the same event); source = the peer."""
        notice = header()
        move = move_from_transfer(notice, body(), PEER)
        assert move.event_id == notice.notice_id
        assert move.source_org == PEER

    @pytest.mark.parametrize(("field", "expected"), [
        ("from_authority", "W06000015"),
        ("to_authority", "E08000001"),
        ("moved_on", date(2026, 11, 28)),
        ("new_school", "school-99"),
        ("new_gp", None),
    ])  # fmt: skip
    def test_the_moves_detail_is_carried(self, field: str, expected: object) -> None:
        """Each field of the move as the peer's notice states it."""
        assert getattr(move_from_transfer(header(), body(), PEER), field) == expected

    def test_the_people_are_named_as_the_peer_names_them(self) -> None:
        """Each person with an NHS number, with name and date of birth."""
        move = move_from_transfer(header(), body(), PEER)
        assert [(m.nhs_number, m.given_name) for m in move.members] == [
            ("9990000018", "Jess"), ("9990000085", "Ava")]  # fmt: skip

    def test_the_history_travels_as_plans_and_previous_areas(self) -> None:
        """The plan with its child, category and lead; the earlier areas."""
        move = move_from_transfer(header(), body(), PEER)
        [plan] = move.plans
        assert (plan.kind.value, plan.child.nhs_number, plan.category) == (
            "child_protection", "9990000085", "neglect")  # fmt: skip
        assert plan.lead_professional is not None
        assert plan.lead_professional.name == "Sam Lee"
        assert move.carried_history is not None
        assert move.carried_history.previous_areas == ("W06000011",)

    def test_a_plan_whose_child_has_no_nhs_number_is_counted_not_dropped(self) -> None:
        """The receiving front door reads how many plans could not be carried."""
        unnamed = HistoryPlan(kind="child_in_need", started_on=date(2024, 1, 1), open=False,
                              child=UNNAMED, recorded_by="directory")  # fmt: skip
        move = move_from_transfer(header(), body(history=TransferHistory(plans=(unnamed,))), PEER)
        assert move.plans == ()
        assert move.carried_history is not None
        assert move.carried_history.plans_not_carried == 1

    def test_an_unknown_destination_is_none_not_the_word_unknown(self) -> None:
        """The peer's "unknown" is no area code."""
        facts = {"from_authority": "W06000015", "to_authority": "unknown"}
        assert move_from_transfer(header(), body(facts=facts), PEER).to_authority is None


class TestUnusableTransfers:
    @pytest.mark.parametrize("notice_type", [t for t in NoticeType if t is not NoticeType.TRANSFER])
    def test_only_a_transfer_is_taken(self, notice_type: NoticeType) -> None:
        """Any other kind of notice from a peer is refused."""
        with pytest.raises(TransferUnusable):
            move_from_transfer(header(notice_type), body(), PEER)

    def test_a_peers_escalation_is_no_new_transfer(self) -> None:
        """Taken as a move, a follow-up would travel back and forth between the brokers."""
        escalation = header().model_copy(update={"follow_up": FollowUp.ESCALATION,
                                                 "follows": uuid4()})  # fmt: skip
        with pytest.raises(TransferUnusable, match="follow-up"):
            move_from_transfer(escalation, body(), PEER)

    def test_a_transfer_naming_nobody_by_nhs_number_is_refused(self) -> None:
        """Nobody could be matched here: refused, naming what is missing."""
        with pytest.raises(TransferUnusable, match="NHS number"):
            move_from_transfer(header(), body(about=(UNNAMED,)), PEER)

    def test_a_transfer_without_its_origin_is_refused_naming_the_field(self) -> None:
        """A move needs the authority it leaves; the error names the field, not a value."""
        with pytest.raises(TransferUnusable, match="from_authority"):
            move_from_transfer(header(), body(facts={}), PEER)


NHS_NUMBERS = ["9990000018", "9990000085", "9990000158", "9990000239"]


class TestTransferProperties:
    @given(st.lists(st.sampled_from([*NHS_NUMBERS, None]), min_size=1, max_size=6))
    def test_everyone_with_an_nhs_number_moves_and_nobody_else(
        self, numbers: list[str | None]
    ) -> None:
        """Members are exactly the people named by NHS number, in order; with none, refused."""
        people = tuple(PersonView(nhs_number=n, given_name="A") for n in numbers)
        named = [n for n in numbers if n]
        if not named:
            with pytest.raises(TransferUnusable):
                move_from_transfer(header(), body(about=people), PEER)
            return
        move = move_from_transfer(header(), body(about=people), PEER)
        assert [m.nhs_number for m in move.members] == named


FROM_AREA, TO_AREA, OTHER_PEER_AREA = "W06000015", "E08000001", "E08000002"
RECEIVING = "la-north"  # this partnership's front door where the family moves to


def newcomers(source_kind: OrgKind = OrgKind.PEER_BROKER, to_door: str = RECEIVING) -> Family:
    """A family this directory does not know (no subject): the family's area is the source's
    own, which for a peer maps to the peer itself."""
    doors = {FROM_AREA: PEER, TO_AREA: to_door, OTHER_PEER_AREA: "peer-east"}
    kinds = {PEER: source_kind, RECEIVING: OrgKind.FRONT_DOOR, "peer-east": OrgKind.PEER_BROKER}
    return Family(subjects=(), members=(), area=FROM_AREA, front_doors=doors, org_kinds=kinds)


def transferred(*about: PersonView, to_authority: str = TO_AREA) -> Any:
    facts = {"from_authority": FROM_AREA, "to_authority": to_authority}
    return move_from_transfer(header(), body(about=about or (MOTHER, CHILD), facts=facts), PEER)


class TestAFamilyUnknownHere:
    def test_the_receiving_front_door_gets_the_transfer_at_once(self) -> None:
        """The transfer, with the people as the transfer names them (unmatched labels), to
        the front door of the area moved to, and nothing else: no referral to the peer."""
        event = transferred()
        decided = decide(event, newcomers(), PersonHistory(), AT)
        assert [(d.addressee.org_id, d.notice_type, d.about) for d in decided] == [
            (RECEIVING, NoticeType.TRANSFER, ("unmatched:0", "unmatched:1"))]  # fmt: skip
        assert decided[0].facts["unmatched_people"] == 2
        assert decided[0].severity is Severity.HIGH  # an open child protection plan

    def test_screening_keeps_the_transfer_for_a_door_nobody_linked(self) -> None:
        """A family new here is linked to no one: the receiving door is still told."""
        event, family = transferred(), newcomers()
        screened = screen(event, family, decide(event, family, PersonHistory(), AT))
        assert [d.addressee.org_id for d in screened.decisions] == [RECEIVING]
        assert screened.withheld == []

    @pytest.mark.parametrize(("family", "to_authority", "why"), [
        (newcomers(OrgKind.FRONT_DOOR), TO_AREA, "the source is no peer broker"),
        (newcomers(), OTHER_PEER_AREA, "the area moved to is another peer's"),
        (newcomers(to_door="peer-east"), TO_AREA, "the area's door is a peer"),
    ])  # fmt: skip
    def test_no_transfer_of_its_own_otherwise(
        self, family: Family, to_authority: str, why: str
    ) -> None:
        """Any other unknown family keeps today's path: a referral for matching."""
        event = transferred(to_authority=to_authority)
        assert unknown_family_transfer(event, family, AT.date()) == [], why
        decided = decide(event, family, PersonHistory(), AT)
        assert all(d.rule_id.startswith("unmatched_person") for d in decided), why


class TestUnknownFamilyTransferProperty:
    @given(st.sampled_from([(MOTHER,), (CHILD,), (MOTHER, CHILD), (CHILD, MOTHER)]),
           st.sampled_from(list(OrgKind)))  # fmt: skip
    def test_a_transfer_iff_a_peer_names_everyone(
        self, about: tuple[PersonView, ...], source_kind: OrgKind
    ) -> None:
        """Exactly one transfer, to the receiving door, naming everyone the transfer names,
        when the source is a peer broker; none from any other kind of organisation."""
        event = transferred(*about)
        decided = unknown_family_transfer(event, newcomers(source_kind), AT.date())
        if source_kind is not OrgKind.PEER_BROKER:
            assert decided == []
            return
        [transfer] = decided
        assert transfer.addressee.org_id == RECEIVING
        assert len(transfer.about) == len(about)


NEW_SCHOOL, NEW_GP = "school-99", "gp-99"


def matched(source_kind: OrgKind = OrgKind.PEER_BROKER, to_door: str = RECEIVING) -> Family:
    """The family once the receiving front door matched the people the transfer names: known
    here, living in the area moved to."""
    doors = {FROM_AREA: PEER, TO_AREA: to_door, OTHER_PEER_AREA: "peer-east"}
    kinds = {PEER: source_kind, RECEIVING: OrgKind.FRONT_DOOR, "peer-east": OrgKind.PEER_BROKER,
             NEW_SCHOOL: OrgKind.SCHOOL, NEW_GP: OrgKind.GP_PRACTICE}  # fmt: skip
    members = (
        Member("mum", HouseholdRole.PARENT_OR_CARER, "h1", date(1990, 1, 1), area=TO_AREA),
        Member("ava", HouseholdRole.CHILD, "h1", date(2018, 3, 1), area=TO_AREA),
    )
    return Family(subjects=("mum", "ava"), members=members, area=TO_AREA, front_doors=doors,
                  org_kinds=kinds)  # fmt: skip


def moved_in(to_authority: str = TO_AREA) -> Any:
    """A peer's transfer naming the new school and GP this partnership knows."""
    facts = {"from_authority": FROM_AREA, "to_authority": to_authority, "new_gp": NEW_GP}
    return move_from_transfer(header(), body(facts=facts, detail={"new_school": NEW_SCHOOL}),
                              PEER)  # fmt: skip


def told(decisions: list[Decision]) -> set[tuple[str, NoticeType]]:
    return {(d.addressee.org_id, d.notice_type) for d in decisions}


class TestAMatchCompletesTheTransfer:
    def test_the_new_school_and_gp_are_told_and_the_front_door_not_again(self) -> None:
        """Routed again once matched: the receiving front door, which had the transfer when
        it came, gets no second transfer; the new school and GP, known now, are told."""
        event, family = moved_in(), matched()
        decided = decide(event, family, PersonHistory(), AT)
        assert (RECEIVING, NoticeType.TRANSFER) in told(decided)  # what the match completes
        completed = told(completed_by_match(event, family, decided))
        assert (RECEIVING, NoticeType.TRANSFER) not in completed
        assert {NEW_SCHOOL, NEW_GP} <= {org for org, _ in completed}

    @pytest.mark.parametrize(("family", "to_authority", "why"), [
        (matched(OrgKind.FRONT_DOOR), TO_AREA, "the source is no peer broker"),
        (matched(), OTHER_PEER_AREA, "the area moved to is another peer's"),
        (matched(to_door="peer-east"), TO_AREA, "the area's door is a peer"),
    ])  # fmt: skip
    def test_every_decision_stands_otherwise(
        self, family: Family, to_authority: str, why: str
    ) -> None:
        """No transfer was told at once for these (``unknown_family_transfer``): the match
        takes nothing away."""
        event = moved_in(to_authority)
        decided = decide(event, family, PersonHistory(), AT)
        assert completed_by_match(event, family, decided) == decided, why


class TestAMatchCompletesTheTransferProperty:
    @given(st.sampled_from(list(OrgKind)), st.sampled_from([TO_AREA, OTHER_PEER_AREA]),
           st.sampled_from([RECEIVING, "peer-east"]))  # fmt: skip
    def test_it_only_ever_drops_the_transfer_to_the_door_told_at_once(
        self, source_kind: OrgKind, to_authority: str, to_door: str
    ) -> None:
        """Whatever the source and the area: what stays is what was decided, in order, less
        exactly the transfers to the door ``unknown_family_transfer`` told at once."""
        event, family = moved_in(to_authority), matched(source_kind, to_door)
        decided = decide(event, family, PersonHistory(), AT)
        door = receiving_front_door(event, family)
        transfer_to_door = (NoticeType.TRANSFER, door)
        kept = [d for d in decided if (d.notice_type, d.addressee.org_id) != transfer_to_door]
        assert completed_by_match(event, family, decided) == kept
        told_at_once = unknown_family_transfer(event, newcomers(source_kind, to_door), AT.date())
        assert bool(told_at_once) == (len(kept) < len(decided))
