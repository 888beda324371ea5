"""The delivery worker: consumes sealed notices and stores each in its recipient's inbox.

Only a notice the broker signed is stored: one whose signature does not verify with the
broker's key it names (current, or retired and dated before the key's ``not_after``) is
dead-lettered and audited, so a notice planted on the topic cannot take a genuine notice's id.

Offsets are committed after the database commit, and the inbox keeps a notice once however
often it arrives, so a crash between the two neither loses nor doubles a notice. For a
recipient with a webhook the same transaction queues the push, which the webhook dispatcher,
running alongside the consumer in this process, delivers (``broker.services.webhook_dispatch``).
So it does the alerts that tell a person a notice waits: queued in the same transaction, sent
by the alert worker, a third loop of this process (``broker.services.alerts``).
"""

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial

import structlog
from pydantic import ValidationError

from broker.adapters import metrics
from broker.adapters.kafka import ConsumerHealth, ConsumerSpec, Received, consume
from broker.adapters.peer_receipts import SqlPeerReceipts
from broker.adapters.peer_tokens import HttpPeerTokens
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.adapters.webhooks import HttpWebhookSender
from broker.bootstrap import Runtime, alert_worker, mesh_worker
from broker.errors import EnvelopeError
from broker.services import webhook_dispatch
from broker.services.inbox_delivery import Refused, Verified, deliver
from broker.services.peer_receipts import ReceiptSender
from producers.envelopes import verify_notice
from producers.kafka import accepted_at
from schemas.notices import SealedNotice

log = structlog.get_logger(__name__)


async def handle_notices(records: Sequence[Received], rt: Runtime) -> None:
    """Decode and verify, deliver the batch (services/inbox_delivery.py), count; the offsets
    are committed by the loop once this returns."""
    notices, rejected = _verified(records, rt)
    done = await deliver(notices, rejected, rt.services.delivery)
    log.info("notices_delivered", received=len(records), stored=done.stored,
             rejected=len(rejected))  # fmt: skip
    # In the inbox is not yet delivered: the recipient's fetch is (a receipt counts that).
    metrics.DELIVERIES.labels("inbox", "stored").inc(done.stored)
    metrics.DELIVERIES.labels("inbox", "duplicate").inc(done.duplicates)
    metrics.DELIVERIES.labels("inbox", "dead_lettered").inc(done.dead_lettered)
    now = datetime.now(UTC)
    created = (header.created_at for _, _, header in notices)
    metrics.observe_ages(metrics.NOTICE_TO_INBOX_SECONDS, created, now)
    accepted = (accepted_at(record.headers) for record, _, _ in notices)
    metrics.observe_ages(metrics.EVENT_TO_INBOX_SECONDS, (a for a in accepted if a), now)


def _verified(records: Sequence[Received], rt: Runtime) -> tuple[list[Verified], list[Refused]]:
    """The records that are notices the broker signed, each with its header; the rest with
    why not. One bad record costs only itself."""
    notices: list[Verified] = []
    rejected: list[Refused] = []
    for record in records:
        try:
            notice = SealedNotice.model_validate_json(record.value)
            notices.append((record, notice, verify_notice(notice, rt.keys.public.signing_key)))
        except ValidationError:
            rejected.append((record, "unreadable_notice"))
        except EnvelopeError:
            rejected.append((record, "unsigned_notice"))
    return notices, rejected


async def run_delivery(
    rt: Runtime, stop: asyncio.Event, health: ConsumerHealth | None = None
) -> None:
    metrics.COMPONENT.set("delivery")
    sender = HttpWebhookSender(rt.settings.webhooks.timeout_seconds,
                               rt.settings.webhooks.allowed_networks)  # fmt: skip
    wakes = rt.services.delivery.wakes  # set by the delivery batch for the workers here
    peers = HttpPeerTokens(rt.sessions, rt.keys.signing, rt.settings.webhooks.timeout_seconds,
                           allowed=rt.settings.webhooks.allowed_networks)  # fmt: skip
    dispatcher = webhook_dispatch.Dispatcher(lambda: SqlUnitOfWork(rt.sessions), rt.keys,
                                             rt.data_keys, rt.publisher, rt.topics,
                                             rt.settings.webhooks, sender, peers,
                                             wake=wakes.webhooks)  # fmt: skip
    try:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(dispatcher.run(stop))
            tasks.create_task(alert_worker(rt, wakes.alerts).run(stop))
            # Receipts owed to peer brokers, on the transfers they sent here (issue 16).
            hooks = rt.settings.webhooks
            receipts = ReceiptSender(
                SqlPeerReceipts(rt.sessions),
                peers,
                hooks.backoff(),
                hooks.poll_seconds,
                max_attempts=rt.settings.peer_receipt_max_attempts,
            )
            tasks.create_task(receipts.run(stop))
            if mesh := mesh_worker(rt):  # NHS MESH (broker.services.mesh_dispatch)
                tasks.create_task(mesh.run(stop))
            spec = ConsumerSpec(rt.settings.kafka_bootstrap_servers, rt.topics.notices,
                                rt.settings.delivery_group, "delivery",
                                rt.settings.kafka_security)  # fmt: skip
            timed = partial(metrics.timed_each, metrics.DELIVERY_SECONDS.labels("inbox"))
            handle = lambda batch: timed(len(batch), handle_notices(batch, rt))  # noqa: E731
            tasks.create_task(consume(spec, handle, stop, health))
    finally:
        await sender.close()
        await peers.close()
