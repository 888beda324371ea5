"""The Morgans move from Newport (Wales, broker A) to Bristol (England, broker B), end to end
across the two brokers (issue 16, "Done when"): each registers the other as a peer through
its admin API, as an operator would; A's front door publishes the move; A's delivery worker
pushes the transfer to B's gateway; B's router applies it; B's front door, school and GP are
told; B's front door acknowledges and records the transfer-in conference; the receipts cross
back, and A's chronology shows them. A transfer pushed again is applied once at B, and one
that B leaves unacknowledged escalates at A to A's own duty manager.
"""

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from integration.test_router import until_routed
from sqlalchemy import func, select, update

from broker.adapters import db
from consumers.follow_up_timer import tick
from schemas.events import FamilyMovingArea
from schemas.notices import NoticeType

from .conftest import Federation
from .harness import Broker
from .partnerships import ENGLAND, WALES, move
from .peering import peer_id, register_peers, registered_at_b

pytestmark = pytest.mark.federation

WAIT = 90.0  # seconds: a push, a timer round at B, a push back, a timer round at A


def duty_manager(broker: Broker) -> str:
    return f"{broker.partnership.front_door}:duty_manager"


async def transfer_line(pair: Federation, event: FamilyMovingArea) -> dict[str, Any]:
    """A's chronology line of the transfer notice it addressed to B (the peer's contact)."""
    contact = f"{peer_id(pair.b)}:duty_manager"
    async with asyncio.timeout(WAIT):
        while True:
            for line in await pair.a.chronology():
                if (line["kind"], line["event_id"], line["recipient_id"]) == (
                    "notice", str(event.event_id), contact,
                ):  # fmt: skip
                    return line
            await asyncio.sleep(0.2)


@dataclass
class Moved:
    """A move published at A, and the transfer A sent B for it."""

    event: FamilyMovingArea
    transfer_id: str
    deadline: datetime


async def move_published(pair: Federation, moved_on: date) -> Moved:
    event = move(WALES, ENGLAND, moved_on)
    answer = await pair.a.publish(event)
    assert answer.json()["status"] == "accepted"
    line = await transfer_line(pair, event)
    assert line["notice_type"] == NoticeType.TRANSFER.value
    return Moved(event, line["notice_id"], datetime.fromisoformat(line["deadline"]))


@pytest.fixture(scope="module")
async def peered(federation: Federation) -> Federation:
    await register_peers(federation)
    await registered_at_b(federation)
    return federation


@pytest.fixture(scope="module")
async def moved(peered: Federation) -> Moved:
    """The Morgans' move, today, published once for the module's tests (the plan the move
    lists then starts on the day A's directory has it start: one plan, not two)."""
    return await move_published(peered, datetime.now(UTC).date())


async def transfer_at_b(b: Broker, transfer_id: str) -> dict[str, Any]:
    """The listed transfer notice B's front door got for the transfer (B's front door may
    also get a referral about the same move: only the transfer is looked at here)."""
    async with asyncio.timeout(WAIT):
        while True:
            for item in await b.notices(duty_manager(b)):
                header = item["header"]
                if (header["event_id"], header["notice_type"]) == (
                    transfer_id, NoticeType.TRANSFER.value,
                ):  # fmt: skip
                    return item
            await asyncio.sleep(0.2)


async def lines_about(a: Broker, notice_id: str) -> list[dict[str, Any]]:
    return [line for line in await a.chronology() if line["notice_id"] == notice_id]


async def until_in_chronology(a: Broker, notice_id: str, *kinds: str) -> list[dict[str, Any]]:
    """A's chronology lines about the notice, once every one of ``kinds`` is among them."""
    async with asyncio.timeout(WAIT):
        while not set(kinds) <= {line["kind"] for line in await lines_about(a, notice_id)}:
            await asyncio.sleep(0.25)
    return await lines_about(a, notice_id)


async def kept_at(b: Broker, transfer_id: str) -> int:
    async with b.runtime.sessions() as session:
        found = await session.scalar(
            select(func.count()).select_from(db.PeerTransfer)
            .where(db.PeerTransfer.transfer_id == transfer_id)
        )  # fmt: skip
    return found or 0


class TestTheTransferReachesB:
    async def test_bs_front_door_gets_the_transfer_with_owens_plan(
        self, peered: Federation, moved: Moved
    ) -> None:
        """B's front door gets a transfer notice under the transfer's id, opened with its own
        key: the move from Newport to Bristol, Owen's child protection plan in its history."""
        b = peered.b
        listed = await transfer_at_b(b, moved.transfer_id)
        header, body = await b.open(duty_manager(b), listed["notice_id"])
        assert header.notice_type is NoticeType.TRANSFER
        assert body.facts["from_authority"] == WALES.area
        assert body.facts["to_authority"] == ENGLAND.area
        assert body.history is not None
        owen = WALES.member("child")
        assert [(p.kind, p.child.nhs_number if p.child else None)
                for p in body.history.plans] == [("child_protection", owen.nhs_number)]  # fmt: skip

    @pytest.mark.parametrize("recipient", ["school-avonside:key_adult",
                                           "gp-harbourside:safeguarding_lead"])  # fmt: skip
    async def test_bs_new_school_and_gp_are_told(
        self, peered: Federation, moved: Moved, recipient: str
    ) -> None:
        """The school and the GP practice the Morgans join in Bristol each get a notice of the
        move, from B."""
        listed = await peered.b.wait_for_notice(recipient, moved.transfer_id, timeout=WAIT)
        header, _ = await peered.b.open(recipient, listed["notice_id"])
        assert str(header.event_id) == moved.transfer_id

    async def test_bs_front_door_gets_no_proposal_about_the_transfer(
        self, peered: Federation, moved: Moved
    ) -> None:
        """A peer's move is trusted for the family it carries: B's front door is not told the
        move's source is unlinked, nor asked to confirm it (no ``proposal.*`` referral)."""
        b = peered.b
        await transfer_at_b(b, moved.transfer_id)
        await until_routed(b.runtime, 1, timeout=WAIT)  # a proposal is made in the same routing
        rules = []
        for item in await b.notices(duty_manager(b)):
            if item["header"]["event_id"] == moved.transfer_id:
                _, body = await b.open(duty_manager(b), item["notice_id"])
                rules.append(body.rule_id or "")
        assert rules
        assert not [rule for rule in rules if rule.startswith("proposal.")]


class TestReceiptsCrossBack:
    async def test_as_chronology_shows_bs_acknowledgement_then_the_conference(
        self, peered: Federation, moved: Moved
    ) -> None:
        """B's front door acknowledges the transfer and records the transfer-in conference:
        A's chronology shows, on its transfer notice, the acknowledgement, then the
        conference as the step met; A's transfer is never escalated."""
        a, b = peered.a, peered.b
        listed = await transfer_at_b(b, moved.transfer_id)
        assert (await b.acknowledge(duty_manager(b), listed["notice_id"]))["first_acknowledgement"]
        await until_in_chronology(a, moved.transfer_id, "acknowledged")
        fd = b.partnership.front_door
        step = f"/v1/front-doors/{fd}/notices/{listed['notice_id']}/steps/transfer_in_conference"
        answer = await b.inbox.post(step)
        assert answer.status_code == 200, answer.text
        lines = await until_in_chronology(a, moved.transfer_id, "acknowledged", "step_met")
        kinds = [line["kind"] for line in lines]
        assert kinds.index("acknowledged") < kinds.index("step_met")
        [met] = [line for line in lines if line["kind"] == "step_met"]
        assert met["facts"]["step"] == "transfer_in_conference"
        assert "escalated" not in kinds


class TestExactlyOnceAcrossBrokers:
    async def test_the_transfer_pushed_again_is_applied_once_at_b(
        self, peered: Federation, moved: Moved
    ) -> None:
        """A never heard B's answer (a timeout) and pushes the same transfer again: B answers
        that it has it, keeps it once, and its front door has one transfer notice of it."""
        a, b = peered.a, peered.b
        await transfer_at_b(b, moved.transfer_id)
        again = datetime.now(UTC)
        async with a.runtime.sessions.begin() as session:
            await session.execute(
                update(db.WebhookDelivery)
                .where(db.WebhookDelivery.notice_id == moved.transfer_id)
                .values(state="pending", next_attempt_at=again, finished_at=None)
            )  # fmt: skip
        async with asyncio.timeout(WAIT):
            while await _delivery_state(a, moved.transfer_id) != "delivered":
                await asyncio.sleep(0.2)
        # B kept nothing new to apply: a round of its timer now applies nothing.
        intake = b.runtime.services.timer.peers
        assert intake is not None
        assert await intake.apply_pending(datetime.now(UTC)) == []
        assert await kept_at(b, moved.transfer_id) == 1
        transfers = [n for n in await b.notices(duty_manager(b))
                     if n["header"]["event_id"] == moved.transfer_id
                     and n["header"]["notice_type"] == NoticeType.TRANSFER.value]  # fmt: skip
        assert len(transfers) == 1


async def _delivery_state(a: Broker, notice_id: str) -> str | None:
    async with a.runtime.sessions() as session:
        state: str | None = await session.scalar(
            select(db.WebhookDelivery.state).where(db.WebhookDelivery.notice_id == notice_id)
        )
    return state


class TestADeadlineMissedAtB:
    async def test_it_escalates_at_a_to_as_duty_manager(self, peered: Federation) -> None:
        """Another move B's front door leaves unacknowledged: past the transfer's deadline,
        A's timer escalates it to A's own duty manager (not to B again)."""
        a = peered.a
        other = await move_published(peered, datetime.now(UTC).date() + timedelta(days=14))
        await tick(a.runtime, other.deadline + timedelta(seconds=1))
        async with asyncio.timeout(WAIT):
            while True:
                follows = [n for n in await a.notices(duty_manager(a))
                           if n["header"].get("follows") == other.transfer_id]  # fmt: skip
                if follows:
                    break
                await asyncio.sleep(0.2)
        assert [n["header"]["follow_up"] for n in follows] == ["escalation"]
        lines = await until_in_chronology(a, other.transfer_id, "escalated")
        assert "acknowledged" not in {line["kind"] for line in lines}
