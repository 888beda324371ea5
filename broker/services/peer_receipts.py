"""Receipts that cross the border back to the peer broker a transfer came from (issue 16,
item 4): the receiving front door's acknowledgement or rejection of the transfer's notice, and
its transfer-in conference, each sent to the originating broker's recipient API as this
broker's organisation there.

A unit of work's ``peer_receipts.owe`` queues a receipt in the transaction that records it
here, once per transfer and kind (a receipt recorded twice is owed once); ``owe_for_step``
those a next step makes. ``ReceiptSender`` sends what is due, in the delivery
worker: a receipt the peer took (2xx) is sent; the peer unreachable, busy or failing (no
answer, 5xx, 408, 429, or a 401 for a stale token) is tried again after a backoff, never lost
while the peer is down, until ``max_attempts`` have been made (``delivery.retry``; by default
about a day, long enough to wait out a peer's maintenance: then it is dead-lettered as
``attempts_exhausted``, for an operator to replay once the peer is back, rather than retried
unseen for ever); any other answer (the peer refuses it for
good: a receipt that contradicts an earlier one, or a 404 from a URL that serves no recipient
API) dead-letters it in the queue, as a webhook's permanent failure is: never tried again,
never counted as sent, audited, counted and logged with its status for an operator to put
right. A rejection's reason
stays here (it may name people): the peer is told the transfer was rejected and whom to call.

A dead-lettered receipt is replayed (``replay_dead``, ``sgb dead-letters replay-receipts``) once
whatever the peer refused is put right: it is owed again from a first attempt, as a webhook's
dead letter is requeued. The peer records a receipt once, so sending one twice does no harm.
"""

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Protocol

import structlog

from broker.adapters import metrics
from broker.delivery.backoff import Backoff
from broker.delivery.retry import EXHAUSTED, retry_at
from broker.delivery.webhook_delivery import Attempt
from broker.ports import PeerReceiptKind, UnitOfWork
from broker.rules.deadlines import LONDON
from broker.services.retry_worker import poll
from schemas.notices import NextStep

log = structlog.get_logger(__name__)
ReceiptKind = PeerReceiptKind
REJECTION_REASON = (
    "Rejected by the receiving partnership's front door: please call them for the reason."
)
BATCH = 20


async def owe_for_step(uow: UnitOfWork, notice_id: str, step: NextStep, at: datetime) -> None:
    """A next step recorded on a transfer a peer sent here: recording one acknowledges the
    notice, and the transfer-in conference is a receipt of its own (on its London date)."""
    await uow.peer_receipts.owe(notice_id, "acknowledged", at)
    if step is NextStep.TRANSFER_IN_CONFERENCE:
        await uow.peer_receipts.owe(notice_id, "transfer_in_conference", at,
                                    at.astimezone(LONDON).date())  # fmt: skip


@dataclass(frozen=True)
class Owed:
    """A receipt waiting to be sent to the peer a transfer came from."""

    transfer_id: str
    receipt: ReceiptKind
    peer_org: str
    recipient_id: str  # this broker's contact at the peer: the transfer's addressee there
    conference_on: date | None
    attempts: int


@dataclass(frozen=True)
class DeadReceipt:
    """A receipt the peer refused for good: what an operator sees before replaying it."""

    transfer_id: str
    receipt: ReceiptKind
    peer_org: str
    last_status: int | None
    attempts: int
    dead_at: datetime


class DeadReceipts(Protocol):
    """The receipts dead-lettered in the queue (``broker.adapters.peer_receipts``)."""

    async def dead_letters(self) -> list[DeadReceipt]: ...

    async def requeue(self, dead: DeadReceipt, operator: str, now: datetime) -> bool:
        """Owed again from a first attempt, audited as the operator's; False when it is no
        longer dead (another replay got there first)."""
        ...


async def replay_dead(
    store: DeadReceipts, transfer_id: str | None, operator: str, now: datetime
) -> list[tuple[DeadReceipt, bool]]:
    """Each dead receipt of the transfer (of every transfer, without one) owed again; with
    whether it was requeued now (False: another replay got there first)."""
    chosen = [d for d in await store.dead_letters()
              if transfer_id is None or d.transfer_id == transfer_id]  # fmt: skip
    done = []
    for dead in chosen:
        requeued = await store.requeue(dead, operator, now)
        if requeued:
            log.info("peer_receipt_requeued", transfer_id=dead.transfer_id, receipt=dead.receipt)
        done.append((dead, requeued))
    return done


class ReceiptStore(Protocol):
    """The durable queue (``broker.adapters.peer_receipts``)."""

    async def due(self, now: datetime, limit: int) -> list[Owed]: ...

    async def next_due(self) -> datetime | None:
        """When the earliest receipt still owed falls due; None if none is."""
        ...

    async def sent(self, owed: Owed, status: int | None, at: datetime) -> None:
        """Ends the receipt: taken by the peer (audited)."""
        ...

    async def dead(self, owed: Owed, status: int | None, at: datetime) -> None:
        """Ends the receipt: refused by the peer for good, dead-lettered (audited)."""
        ...

    async def retry(self, owed: Owed, status: int | None, at: datetime) -> None: ...


class PeerClient(Protocol):
    """Posts to a peer's recipient API as this broker's organisation there."""

    async def post(self, peer_org: str, path: str, body: dict[str, str]) -> Attempt: ...


def request_of(owed: Owed) -> tuple[str, dict[str, str]]:
    """The path and body the receipt is sent as, on the peer's recipient API."""
    notices = f"/v1/recipients/{owed.recipient_id}/notices/{owed.transfer_id}"
    match owed.receipt:
        case "acknowledged":
            return f"{notices}/receipts", {"receipt": "acknowledged"}
        case "rejected":
            return f"{notices}/receipts", {"receipt": "rejected", "reason": REJECTION_REASON}
        case "transfer_in_conference":
            held = (owed.conference_on or datetime.now(UTC).date()).isoformat()
            return f"{notices}/conference", {"conference_on": held}


@dataclass
class ReceiptSender:
    store: ReceiptStore
    client: PeerClient
    backoff: Backoff
    poll_seconds: float = 1.0
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    jitter: Callable[[], float] = random.random
    max_attempts: int = 300  # Settings.peer_receipt_max_attempts: about a day at the cap

    async def run(self, stop: asyncio.Event) -> None:
        """Sends what is due until ``stop``."""
        # The database away: what is owed stays queued, and is sent later.
        await poll(stop, self.send_due, self.poll_seconds, "peer_receipts_paused",
                   next_due=self.store.next_due)  # fmt: skip

    async def send_due(self) -> int:
        """One pass over the receipts due; returns how many were attempted."""
        owed = await self.store.due(self.clock(), BATCH)
        for receipt in owed:
            await self.send(receipt)
        return len(owed)

    async def send(self, owed: Owed) -> None:
        path, body = request_of(owed)
        attempt = await self.client.post(owed.peer_org, path, body)
        now = self.clock()
        if attempt.delivered:
            await self.store.sent(owed, attempt.status, now)
            log.info("peer_receipt_sent", transfer_id=owed.transfer_id, receipt=owed.receipt)
            return
        transient = attempt.transient or attempt.status == 401
        at = retry_at(owed.attempts + 1, self.max_attempts, self.backoff, now, self.jitter())
        if transient and at is not None:
            await self.store.retry(owed, attempt.status, at)
            log.warning("peer_receipt_retry", transfer_id=owed.transfer_id,
                        error=attempt.error_class)  # fmt: skip
            return
        await self.store.dead(owed, attempt.status, now)
        metrics.DELIVERIES.labels(channel="peer_receipt", outcome="dead").inc()
        log.warning("peer_receipt_dead_lettered", transfer_id=owed.transfer_id,
                    peer=owed.peer_org, receipt=owed.receipt, status=attempt.status,
                    reason=EXHAUSTED if transient else "peer_refused")  # fmt: skip
