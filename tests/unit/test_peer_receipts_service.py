"""Receipts owed to a peer broker, sent by the delivery worker (broker.services.peer_receipts):
sent once when the peer takes them, retried while it is down, dead-lettered when it refuses
them for good."""

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

import pytest

from broker.config import Settings
from broker.delivery.backoff import Backoff
from broker.delivery.webhook_delivery import Attempt
from broker.services.peer_receipts import (
    REJECTION_REASON,
    DeadReceipt,
    Owed,
    ReceiptKind,
    ReceiptSender,
    replay_dead,
    request_of,
)

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
OWED = Owed("t-1", "acknowledged", "peer-north", "demo:duty_manager", None, 0)


@dataclass
class InMemoryReceipts:
    owed: dict[tuple[str, str], tuple[Owed, datetime]] = field(default_factory=dict)
    ended: list[tuple[Owed, int | None, bool]] = field(default_factory=list)  # True: sent

    async def sent(self, owed: Owed, status: int | None, at: datetime) -> None:
        self.owed.pop((owed.transfer_id, owed.receipt))
        self.ended.append((owed, status, True))

    async def dead(self, owed: Owed, status: int | None, at: datetime) -> None:
        self.owed.pop((owed.transfer_id, owed.receipt))
        self.ended.append((owed, status, False))

    async def dead_letters(self) -> list[DeadReceipt]:
        ended = [(o, status) for o, status, sent in self.ended if not sent]
        return [DeadReceipt(o.transfer_id, o.receipt, o.peer_org, status, o.attempts + 1, NOW)
                for o, status in ended]  # fmt: skip

    async def requeue(self, dead: DeadReceipt, operator: str, now: datetime) -> bool:
        for i, (owed, _, sent) in enumerate(self.ended):
            if not sent and (owed.transfer_id, owed.receipt) == (dead.transfer_id, dead.receipt):
                del self.ended[i]
                self.owed[(owed.transfer_id, owed.receipt)] = (replace(owed, attempts=0), now)
                return True
        return False

    async def due(self, now: datetime, limit: int) -> list[Owed]:
        return [o for o, at in self.owed.values() if at <= now][:limit]

    async def next_due(self) -> datetime | None:
        return min((at for _, at in self.owed.values()), default=None)

    async def retry(self, owed: Owed, status: int | None, at: datetime) -> None:
        self.owed[(owed.transfer_id, owed.receipt)] = (replace(owed, attempts=owed.attempts + 1),
                                                       at)  # fmt: skip


@dataclass
class ScriptedPeer:
    """The peer's API: answers in turn from ``answers`` (None: no answer at all)."""

    answers: list[int | None]
    posted: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    async def post(self, peer_org: str, path: str, body: dict[str, str]) -> Attempt:
        self.posted.append((peer_org, path, body))
        status = self.answers.pop(0)
        return Attempt(status, None if status else "ConnectError")


def sender(store: InMemoryReceipts, peer: ScriptedPeer, clock: list[datetime],
           max_attempts: int = 8) -> ReceiptSender:  # fmt: skip
    return ReceiptSender(store, peer, Backoff(timedelta(seconds=1), timedelta(minutes=5)),
                         clock=lambda: clock[0], jitter=lambda: 0.5,
                         max_attempts=max_attempts)  # fmt: skip


def queued(*owed: Owed) -> InMemoryReceipts:
    return InMemoryReceipts({(o.transfer_id, o.receipt): (o, NOW) for o in owed})


class TestSendingReceipts:
    async def test_a_receipt_the_peer_takes_is_sent_once(self) -> None:
        """2xx: ended as delivered; the next pass sends nothing."""
        store, peer = queued(OWED), ScriptedPeer([200])
        send = sender(store, peer, [NOW])
        assert await send.send_due() == 1
        assert await send.send_due() == 0
        assert store.ended == [(OWED, 200, True)]
        assert len(peer.posted) == 1

    @pytest.mark.parametrize("status", [None, 500, 503, 408, 429, 401])
    async def test_a_peer_down_or_busy_is_kept_for_later(self, status: int | None) -> None:
        """No answer, 5xx, 408, 429, or a stale token (401): kept, due after a backoff."""
        store = queued(OWED)
        await sender(store, ScriptedPeer([status]), [NOW]).send_due()
        [(owed, due)] = store.owed.values()
        assert owed.attempts == 1
        assert due > NOW
        assert store.ended == []

    @pytest.mark.parametrize("status", [400, 403, 404, 409, 410, 422])
    async def test_a_receipt_the_peer_refuses_for_good_is_dead_lettered(self, status: int) -> None:
        """A 4xx it meant (409: it contradicts an earlier receipt; 404: a URL serving no
        recipient API): dead-lettered at once, not sent, and never posted again."""
        store, peer = queued(OWED), ScriptedPeer([status])
        send = sender(store, peer, [NOW])
        await send.send_due()
        assert store.ended == [(OWED, status, False)]
        assert await send.send_due() == 0
        assert len(peer.posted) == 1

    async def test_a_peer_down_for_a_while_gets_each_receipt_once(self) -> None:
        """Down for three attempts, then back: nothing lost, nothing sent twice after."""
        conference = Owed("t-1", "transfer_in_conference", "peer-north", "demo:duty_manager",
                          date(2026, 12, 10), 0)  # fmt: skip
        store, clock = queued(OWED, conference), [NOW]
        peer = ScriptedPeer([None, None, 503, 503, None, 500, 200, 200])
        send = sender(store, peer, clock)
        for _ in range(10):
            await send.send_due()
            clock[0] += timedelta(minutes=10)
        assert sorted(o.receipt for o, _, delivered in store.ended if delivered) == [
            "acknowledged", "transfer_in_conference"]  # fmt: skip
        assert store.owed == {}
        assert peer.answers == []

    def test_by_default_a_peer_down_for_maintenance_is_waited_for(self) -> None:
        """The configured attempts, at the configured backoff and an average jitter, span
        more than 12 hours: a peer's overnight maintenance dead-letters nothing."""
        settings = Settings()
        backoff = settings.webhooks.backoff()
        waited = sum((backoff.delay(n, 0.5) for n in range(1, settings.peer_receipt_max_attempts)),
                     timedelta())  # fmt: skip
        assert waited > timedelta(hours=12)

    async def test_a_peer_down_past_the_last_attempt_is_dead_lettered(self) -> None:
        """Down for all of its attempts (8 here): dead-lettered for an operator to replay,
        rather than retried unseen for ever."""
        store, clock, peer = queued(OWED), [NOW], ScriptedPeer([503] * 8)
        send = sender(store, peer, clock)
        for _ in range(10):
            await send.send_due()
            clock[0] += timedelta(minutes=10)
        assert [(o.receipt, status, delivered) for o, status, delivered in store.ended] == [
            ("acknowledged", 503, False)]  # fmt: skip
        assert (store.owed, len(peer.posted)) == ({}, 8)


class TestWhatIsSent:
    @pytest.mark.parametrize(("receipt", "path", "body"), [
        ("acknowledged", "receipts", {"receipt": "acknowledged"}),
        ("rejected", "receipts", {"receipt": "rejected", "reason": REJECTION_REASON}),
        ("transfer_in_conference", "conference", {"conference_on": "2026-12-10"}),
    ])  # fmt: skip
    def test_each_receipt_goes_to_the_peers_recipient_api(
        self, receipt: str, path: str, body: dict[str, str]
    ) -> None:
        """As this broker's contact there, on the transfer's id; a rejection's own reason
        stays here (it may name people)."""
        kind: ReceiptKind = receipt  # type: ignore[assignment]
        owed = Owed("t-1", kind, "peer-north", "demo:duty_manager", date(2026, 12, 10), 0)
        assert request_of(owed) == (f"/v1/recipients/demo:duty_manager/notices/t-1/{path}", body)


class TestReplayingADeadReceipt:
    async def test_a_dead_receipt_replayed_is_sent_once_the_peer_takes_it(self) -> None:
        """Refused for good (404: the peer's API was misregistered), then replayed once the
        registration is put right: owed again, sent once; a second replay finds nothing."""
        store, peer = queued(OWED), ScriptedPeer([404, 200])
        send = sender(store, peer, [NOW])
        await send.send_due()
        [(dead, requeued)] = await replay_dead(store, None, "ops-1", NOW)
        assert (dead.transfer_id, dead.receipt, dead.last_status, requeued) == (
            "t-1", "acknowledged", 404, True)  # fmt: skip
        assert await send.send_due() == 1
        assert store.ended == [(OWED, 200, True)]
        assert await replay_dead(store, None, "ops-1", NOW) == []

    async def test_only_the_named_transfers_receipts_are_replayed(self) -> None:
        """A transfer id chooses its own dead receipts; the others stay dead."""
        other = replace(OWED, transfer_id="t-2")
        store, peer = queued(OWED, other), ScriptedPeer([404, 404])
        await sender(store, peer, [NOW]).send_due()
        replayed = await replay_dead(store, "t-2", "ops-1", NOW)
        assert [(d.transfer_id, requeued) for d, requeued in replayed] == [("t-2", True)]
        assert [d.transfer_id for d in await store.dead_letters()] == ["t-1"]
