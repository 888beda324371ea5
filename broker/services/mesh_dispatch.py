"""Sends each notice to its recipient's NHS MESH mailbox too, and follows MESH's tracking of
it until the recipient's mailbox acknowledges it or MESH reports it undelivered.

The delivery worker queues the send in the transaction that puts the notice in the inbox
(``enqueue``), for a recipient with a MESH mailbox. The worker (``MeshWorker.run``) sends
exactly the bytes a webhook receives (the sealed notice), under the workflow id
``SGB_SAFEGUARDING_NOTICE``, a fixed subject and the notice id as MESH's local id (the
idempotency key: a retry finds an earlier accepted send instead of sending again), behind a
circuit breaker with capped backoff. Then it polls MESH's tracking: the recipient's mailbox
acknowledging the message is the transport acknowledgement, recorded as the "delivered"
receipt of channel ``mesh``, never as a person's acknowledgement (that still comes only
through the inbox API). A non-delivery (MESH's report, expiry, a refused or exhausted send) is
dead-lettered and the send given up, as a failed webhook is: the notice stays in the inbox,
and its deadline escalates it if nobody acknowledges it there, so nothing is rerouted twice.
"""

import asyncio
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog

from broker.adapters import metrics
from broker.adapters.dead_letter_topic import Source, dead_letter
from broker.adapters.kafka import Topics
from broker.delivery.circuit_breaker import Breaker
from broker.delivery.mesh_delivery import Next, Verdict, after_send, after_tracking
from broker.delivery.retry import given_up, lease, retrying
from broker.keys import KeyStore
from broker.mesh_settings import SUBJECT, MeshSettings
from broker.ports import (
    DataKeyStore,
    MeshDue,
    MeshMessage,
    MeshQueued,
    MeshSent,
    MeshTransport,
    Publisher,
    RetryChange,
    UnitOfWork,
    UnitOfWorkFactory,
)
from broker.services import receipts
from broker.services.retry_worker import poll
from broker.services.webhook_dispatch import sealed_body
from producers.pseudonyms import pseudonym
from schemas.notices import NoticeHeader

log = structlog.get_logger(__name__)
CHANNEL = "mesh"
PENDING, SENT, ACKNOWLEDGED, DEAD = "pending", "sent", "acknowledged", "dead"


async def enqueue(
    uow: UnitOfWork, notices: Sequence[tuple[NoticeHeader, str]], now: datetime
) -> int:
    """Queues each (notice's header, position read from) whose recipient has a MESH mailbox,
    once per notice however often Kafka redelivers it; returns how many were queued."""
    queued = [MeshQueued(str(h.notice_id), h.recipient_id, source, now) for h, source in notices]
    return await uow.mesh.enqueue(queued)


async def requeue(uow: UnitOfWork, notice_id: str, now: datetime) -> bool:
    """A dead send pending again, from its first attempt (a dead letter's replay)."""
    return await uow.mesh.requeue(notice_id, now)


@dataclass
class MeshWorker:
    units: UnitOfWorkFactory
    keys: KeyStore
    data_keys: DataKeyStore
    publisher: Publisher
    topics: Topics
    settings: MeshSettings
    transport: MeshTransport
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    jitter: Callable[[], float] = random.random
    breaker: Breaker = field(default_factory=Breaker)  # one MESH endpoint, one breaker
    wake: asyncio.Event = field(default_factory=asyncio.Event)  # set when this process queues

    async def run(self, stop: asyncio.Event) -> None:
        """Sends and tracks until ``stop``; what is under way is finished and recorded."""
        log.info("mesh_worker_started", workflow_id=self.settings.workflow_id)
        await poll(stop, self.work_due, self.settings.poll_seconds, "mesh_worker_paused",
                   wake=self.wake, next_due=self.next_due)  # fmt: skip
        log.info("mesh_worker_stopped")

    async def next_due(self) -> datetime | None:
        async with self.units() as uow:
            return await uow.mesh.next_due()

    async def work_due(self) -> int:
        """One pass over the due sends and tracking polls; returns how many were worked."""
        now = self.clock()
        async with self.units() as uow:
            due = await uow.mesh.due(now, self.settings.batch)
        done = 0
        for item in due:  # one at a time: MESH is one endpoint, behind one breaker
            done += await (self._send(item, now) if item.state == PENDING else self._track(item))
        return done

    async def _send(self, due: MeshDue, now: datetime) -> int:
        body = await sealed_body(self.units, self.data_keys, due.notice_id)
        if not isinstance(body, bytes) or due.mailbox is None:
            reason = body if isinstance(body, str) else "no_mailbox"
            claimed = await self._claim(due, now)
            if claimed:
                await self._give_up(claimed, b"", Next(Verdict.DEAD, reason), None)
            return 1
        admitted, self.breaker = self.breaker.admit(now, self.settings.breaker())
        if not admitted:
            await self._settle(
                due, {"next_attempt_at": self.breaker.retry_at(self.settings.breaker())}
            )
            return 0
        claimed = await self._claim(due, now)
        if claimed is None:
            return 0
        message = MeshMessage(due.mailbox, body, due.notice_id, self.settings.workflow_id, SUBJECT)
        sent = await self.transport.send(message, retry=due.attempts > 0)
        policy = self.settings.breaker()
        self.breaker = (
            self.breaker.failed(self.clock(), policy)
            if (sent.message_id is None and sent.transient)
            else self.breaker.succeeded()
        )
        await self._after_send(claimed, body, sent.message_id, sent.error, sent.transient)
        return 1

    async def _after_send(
        self,
        due: MeshDue,
        body: bytes,
        message_id: str | None,
        error: str | None,
        transient: bool,
    ) -> None:
        now, s = self.clock(), self.settings
        step = after_send(
            MeshSent(message_id, error, transient),
            due.attempts,
            s.max_attempts,
            s.backoff(),
            now,
            self.jitter(),
            timedelta(seconds=s.track_every_seconds),
        )
        if step.verdict is Verdict.DEAD:
            await self._give_up(due, body, step, error)
        elif step.verdict is Verdict.SENT:
            await self._settle(
                due,
                {
                    "state": SENT,
                    "message_id": message_id,
                    "sent_at": now,
                    "next_attempt_at": step.at,
                },
            )
            metrics.DELIVERIES.labels(channel=CHANNEL, outcome="sent").inc()
            log.info(
                "mesh_sent",
                notice_id=due.notice_id,
                recipient_id=due.recipient_id,
                message_id=message_id,
                attempts=due.attempts,
            )
        else:
            assert step.at is not None  # a WAIT verdict always carries its time
            await self._settle(due, retrying(due, step.at, error, now))
            metrics.DELIVERIES.labels(channel=CHANNEL, outcome="retried").inc()
            log.warning(
                "mesh_retry",
                notice_id=due.notice_id,
                recipient_id=due.recipient_id,
                attempts=due.attempts,
                error=error,
            )

    async def _track(self, due: MeshDue) -> int:
        if due.message_id is None:  # a sent row always has its id; never leave one stuck
            await self._give_up(due, b"", Next(Verdict.DEAD, "no_message_id"), None)
            return 1
        tracking = await self.transport.track(due.message_id)
        now, s = self.clock(), self.settings
        step = after_tracking(
            tracking,
            due.sent_at or now,
            now,
            timedelta(seconds=s.track_every_seconds),
            timedelta(hours=s.give_up_after_hours),
        )
        if step.verdict is Verdict.ACKNOWLEDGED:
            await self._transport_acknowledged(due, now)
        elif step.verdict is Verdict.DEAD:
            body = await sealed_body(self.units, self.data_keys, due.notice_id)
            await self._give_up(due, body if isinstance(body, bytes) else b"", step, tracking.code)
        else:
            await self._settle(due, {"next_attempt_at": step.at})
        return 1

    async def _transport_acknowledged(self, due: MeshDue, now: datetime) -> None:
        async with self.units() as uow:
            settled = await uow.mesh.settle(
                due, {"state": ACKNOWLEDGED, "transport_acknowledged_at": now, "finished_at": now}
            )
            if settled:
                await receipts.record_delivered(uow, due.notice_id, CHANNEL, now)
        if settled:
            metrics.DELIVERIES.labels(channel=CHANNEL, outcome="delivered").inc()
            log.info(
                "mesh_transport_acknowledged",
                notice_id=due.notice_id,
                recipient_id=due.recipient_id,
                message_id=due.message_id,
            )

    async def _give_up(self, due: MeshDue, body: bytes, step: Next, error: str | None) -> None:
        """Dead-letters the send, then marks it dead: the letter first, so that should the
        database then fail, the next pass letters it again rather than leaving it unlettered."""
        now = self.clock()
        reason = {
            "reason": step.reason,
            "channel": CHANNEL,
            "notice_id": due.notice_id,
            "attempts": due.attempts,
            "error": error,
            "message_id": due.message_id,
        }
        key = pseudonym(self.keys.pseudonym_secret, "recipient", due.recipient_id)
        with metrics.component(CHANNEL):
            await self.publisher.publish(
                [
                    dead_letter(
                        self.topics.dead_letters,
                        key,
                        body,
                        reason,
                        Source.parse(due.source),
                        due.first_failed_at or now,
                    )
                ]
            )
        await self._settle(due, given_up(due, DEAD, (error or step.reason or "")[:60], now))
        metrics.DELIVERIES.labels(channel=CHANNEL, outcome="dead").inc()
        log.warning("mesh_dead_lettered", **reason)

    async def _claim(self, due: MeshDue, now: datetime) -> MeshDue | None:
        """Counts the attempt and leases it past a request's timeout; None when another
        worker got there first. Answers the delivery as claimed, to settle later."""
        async with self.units() as uow:
            return await uow.mesh.claim(due, now + lease(self.settings.timeout_seconds))

    async def _settle(self, due: MeshDue, change: RetryChange) -> bool:
        async with self.units() as uow:
            return await uow.mesh.settle(due, change)
