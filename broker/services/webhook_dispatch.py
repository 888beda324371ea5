"""Pushes each notice to its recipient's own system, signed, in order, retried, never twice at
once, and dead-lettered when it cannot be delivered.

The delivery worker queues a delivery in the transaction that puts the notice in the inbox
(``enqueue``); the dispatcher (``Dispatcher.run``) takes each recipient's earliest pending
delivery once it is due, asks the endpoint's circuit breaker, claims the attempt in the
database (a lease, so a second dispatcher or a crash never doubles or loses it), posts, and
records what the rules say follows. A 2xx is recorded as the transport receipt "delivered",
never as an acknowledgement: only a person acknowledges a notice.
"""

import asyncio
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

import structlog
from pydantic import ValidationError

from broker.adapters import metrics
from broker.adapters.dead_letter_topic import Source, dead_letter
from broker.adapters.kafka import Topics
from broker.config import WebhookSettings
from broker.delivery.circuit_breaker import Breaker, BreakerState
from broker.delivery.retry import given_up, lease, retrying
from broker.delivery.webhook_delivery import Attempt, Next, Verdict, after
from broker.errors import BrokerError, DataKeyShredded, PeerUnreachable
from broker.keys import KeyStore
from broker.ports import (
    AuditRecord,
    DataKeyStore,
    Publisher,
    UnitOfWork,
    UnitOfWorkFactory,
    WebhookDue,
    WebhookQueued,
)
from broker.services import inbox, receipts
from broker.services.retry_worker import poll
from producers.pseudonyms import pseudonym
from producers.webhook_signatures import signature_headers
from schemas.notices import NoticeHeader

log = structlog.get_logger(__name__)
PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
CHANNEL = "webhook"
Due = WebhookDue


async def enqueue(
    uow: UnitOfWork, notices: Sequence[tuple[NoticeHeader, str]], now: datetime
) -> int:
    """Queues each (notice's header, position read from) whose recipient has a webhook, once per
    notice however often Kafka redelivers it, the batch in one statement; returns how many
    were queued. A batch's rows go in in its order, so each recipient's queue keeps it."""
    queued, recipients = [], uow.recipients  # one directory read for the whole batch
    for header, source in notices:
        if await recipients.webhook_url(header.recipient_id) is not None:
            queued.append(WebhookQueued(str(header.notice_id), header.recipient_id, source, now))
    return await uow.webhooks.enqueue(queued)


async def requeue(uow: UnitOfWork, notice_id: str, now: datetime) -> bool:
    """A dead delivery pending again, from its first attempt (a dead letter's replay)."""
    return await uow.webhooks.requeue(notice_id, now)


@dataclass
class Dispatcher:
    units: UnitOfWorkFactory
    keys: KeyStore
    data_keys: DataKeyStore
    publisher: Publisher
    topics: Topics
    settings: WebhookSettings
    sender: "Sender"
    # Credentials for recipients that are peer brokers (their gateways want a token, as from
    # any agency); None where no peer is registered.
    bearer: "Bearer | None" = None
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    jitter: Callable[[], float] = random.random
    breakers: dict[str, Breaker] = field(default_factory=dict)  # by endpoint URL
    wake: asyncio.Event = field(default_factory=asyncio.Event)  # set when this process queues

    async def run(self, stop: asyncio.Event) -> None:
        """Dispatches until ``stop``; an attempt under way is finished and recorded first."""
        log.info("webhook_dispatcher_started")
        await poll(stop, self.dispatch_due, self.settings.poll_seconds, "webhook_dispatch_paused",
                   wake=self.wake, next_due=self.next_due)  # fmt: skip
        log.info("webhook_dispatcher_stopped")

    async def next_due(self) -> datetime | None:
        async with self.units() as uow:
            return await uow.webhooks.next_due()

    async def dispatch_due(self) -> int:
        """One pass: attempts each recipient's due head; returns how many were attempted."""
        now = self.clock()
        async with self.units() as uow:
            heads = await uow.webhooks.due(now, self.settings.batch)
        outcomes = await asyncio.gather(
            *(self._dispatch(due, now) for due in heads), return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome  # the others have finished: nothing is left running unawaited
        return sum(o for o in outcomes if isinstance(o, int))

    async def _dispatch(self, due: Due, now: datetime) -> int:
        body = await self._body(due.notice_id)
        if not isinstance(body, bytes) or due.url is None:
            # Nothing to send, or nowhere to send it: permanent, so dead-lettered at once.
            reason = body if isinstance(body, str) else "no_endpoint"
            if claimed := await self._claim(due, now):
                await self._give_up(claimed, body if isinstance(body, bytes) else b"",
                                    Next(Verdict.DEAD, reason), None)  # fmt: skip
            return 1
        before, claimed = self.breakers.get(due.url, Breaker()), None
        admitted, self.breakers[due.url] = before.admit(now, self.settings.breaker())
        if not admitted:
            await self._postpone(due, self._breaker_retry(before, now))
            return 0
        try:
            claimed = await self._claim(due, now)
        finally:
            if claimed is None:  # nothing was tried (or the database failed): the trial is unspent
                self.breakers[due.url] = before
        if claimed is None:
            return 0
        attempt = await self._post(claimed, due.url, body)
        await self._record(claimed, body, attempt)
        return 1

    async def _post(self, due: Due, url: str, body: bytes) -> Attempt:
        stamp = int(self.clock().timestamp())
        headers = signature_headers(self.keys.signing, self.keys.public.signing_key_id,
                                    due.notice_id, stamp, body)  # fmt: skip
        attempt = await self._signed_in(due, headers)
        attempt = attempt or await self.sender.post(url, body, headers)
        current = self.breakers.get(url, Breaker())
        policy = self.settings.breaker()
        self.breakers[url] = (
            current.failed(self.clock(), policy) if attempt.transient else current.succeeded()
        )
        return attempt

    async def _signed_in(self, due: Due, headers: dict[str, str]) -> Attempt | None:
        """Adds a peer broker's access token to ``headers``; an attempt that failed for want
        of one (transient: the peer's gateway is down, tried again later), else None."""
        if self.bearer is None:
            return None
        try:
            credential = await self.bearer.bearer(due.recipient_id)
        except PeerUnreachable:
            return Attempt(None, "peer_token_unavailable")
        if credential is not None:
            headers["authorization"] = credential
        return None

    async def _record(self, due: Due, body: bytes, attempt: Attempt) -> None:
        """Settles a claimed delivery (``due`` as claimed) as the rules say its attempt ends."""
        now = self.clock()
        step = after(attempt, due.attempts, self.settings.max_attempts, self.settings.backoff(),
                     now, self.jitter())  # fmt: skip
        if step.verdict is Verdict.DEAD:
            await self._give_up(due, body, step, attempt)
        elif step.verdict is Verdict.DELIVERED:
            await self._delivered(due, attempt, now)
        else:
            await self._retry(due, attempt, step, now)

    async def _delivered(self, due: Due, attempt: Attempt, now: datetime) -> None:
        async with self.units() as uow:
            settled = await uow.webhooks.settle(due, {
                "state": DELIVERED, "finished_at": now, "last_status": attempt.status})  # fmt: skip
            if settled:
                await receipts.record_delivered(uow, due.notice_id, CHANNEL, now)
        if not settled:
            return  # its lease ran out and another dispatcher has taken it over
        metrics.DELIVERIES.labels(channel=CHANNEL, outcome="delivered").inc()
        log.info("webhook_delivered", notice_id=due.notice_id, recipient_id=due.recipient_id,
                 attempts=due.attempts)  # fmt: skip

    async def _retry(self, due: Due, attempt: Attempt, step: Next, now: datetime) -> None:
        assert step.retry_at is not None  # a RETRY verdict always carries its time
        retry = retrying(due, step.retry_at, attempt.error_class, now)
        async with self.units() as uow:
            await uow.webhooks.settle(due, retry | {"last_status": attempt.status})
        metrics.WEBHOOK_RETRIES.inc()
        metrics.DELIVERIES.labels(channel=CHANNEL, outcome="retried").inc()
        log.warning("webhook_retry", notice_id=due.notice_id, recipient_id=due.recipient_id,
                    attempts=due.attempts, error=attempt.error_class)  # fmt: skip

    async def _give_up(self, due: Due, body: bytes, step: Next, attempt: Attempt | None) -> None:
        """Dead-letters the notice, then lets the recipient's queue move on. The letter goes
        first: should the database then fail, the delivery is retried and lettered again,
        rather than marked dead with no letter anyone can replay."""
        now = self.clock()
        reason = {"reason": step.reason, "channel": CHANNEL, "notice_id": due.notice_id,
                  "attempts": due.attempts, "error": attempt.error_class if attempt else None,
                  "status": attempt.status if attempt else None}  # fmt: skip
        key = pseudonym(self.keys.pseudonym_secret, "recipient", due.recipient_id)
        with metrics.component(CHANNEL):  # the publisher counts the dead letter as ours
            await self.publisher.publish([dead_letter(
                self.topics.dead_letters, key, body, reason, Source.parse(due.source),
                due.first_failed_at or now,
            )])  # fmt: skip
        error = attempt.error_class if attempt else step.reason
        dead = given_up(due, DEAD, error, now)
        async with self.units() as uow:
            settled = await uow.webhooks.settle(due, dead | {"last_status": reason["status"]})
            if settled and step.reason == "address_refused":
                # Someone pointed a recipient's webhook inside the broker's network.
                await uow.audit.append(AuditRecord(
                    "webhook_refused", "delivery", due.notice_id,
                    {"recipient_id": due.recipient_id, "reason": step.reason}), now)  # fmt: skip
        metrics.DELIVERIES.labels(channel=CHANNEL, outcome="dead").inc()
        log.warning("webhook_dead_lettered", **reason)

    async def _claim(self, due: Due, now: datetime) -> Due | None:
        """Counts the attempt and leases it (the delivery as claimed, to settle later), unless
        another dispatcher got there first (None)."""
        async with self.units() as uow:
            return await uow.webhooks.claim(due, now + lease(self.settings.timeout_seconds))

    async def _postpone(self, due: Due, until: datetime) -> None:
        async with self.units() as uow:
            await uow.webhooks.settle(due, {"next_attempt_at": until})

    def _breaker_retry(self, breaker: Breaker, now: datetime) -> datetime:
        if breaker.state is BreakerState.OPEN:
            return breaker.retry_at(self.settings.breaker())
        # A half-open trial is out: it ends within the request's timeout.
        return now + timedelta(seconds=self.settings.timeout_seconds)

    async def _body(self, notice_id: str) -> bytes | str:
        return await sealed_body(self.units, self.data_keys, notice_id)


async def sealed_body(
    units: UnitOfWorkFactory, data_keys: DataKeyStore, notice_id: str
) -> bytes | str:
    """The sealed notice as published (what a webhook and MESH receive), or why it cannot be
    sent: its household was shredded, or it cannot be read. Either is a dead letter, never a
    crashed worker."""
    async with units() as uow:
        stored = await uow.inbox.get(notice_id)
    if stored is None:
        return "unreadable_notice"
    try:
        return inbox.sealed(stored, data_keys).model_dump_json().encode()
    except DataKeyShredded:
        return "household_shredded"
    except (BrokerError, ValidationError):
        return "unreadable_notice"


class Bearer(Protocol):
    """Access tokens for recipients that are peer brokers (``HttpPeerTokens``)."""

    async def bearer(self, recipient_id: str) -> str | None:
        """``Bearer <token>`` for a peer's contact, None for another recipient; raises
        ``PeerUnreachable`` when the peer gives no token."""
        ...


class Sender(Protocol):
    """What the dispatcher posts through (``HttpWebhookSender`` in production)."""

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Attempt: ...
