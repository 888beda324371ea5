"""The delivery worker: consumes sealed notices and stores each in its recipient's inbox.

Only a notice the broker signed is stored: one whose signature does not verify with the
broker's key it names (current, or retired and dated before the key's ``not_after``) is
dead-lettered and audited, so a notice planted on the topic cannot take a genuine notice's id.

Offsets are committed after the database commit, and the inbox keeps a notice once however
often it arrives, so a crash between the two neither loses nor doubles a notice. For a
recipient with a webhook the same transaction queues the push, which the webhook dispatcher,
running alongside the consumer in this process, delivers (``broker.services.webhook_dispatch``).
"""

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime

import structlog
from pydantic import ValidationError

from broker.adapters import audit, metrics
from broker.adapters.dead_letter_topic import Source, dead_letter
from broker.adapters.envelopes import verify_notice
from broker.adapters.kafka import ConsumerHealth, Received, consume
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.adapters.webhooks import HttpWebhookSender
from broker.bootstrap import Runtime
from broker.errors import EnvelopeError
from broker.ports import Message
from broker.services import inbox, webhook_dispatch
from schemas.notices import NoticeHeader, SealedNotice

log = structlog.get_logger(__name__)


async def handle_notices(records: Sequence[Received], rt: Runtime) -> None:
    notices, rejected = _verified(records, rt)
    now, unstorable = datetime.now(UTC), list[SealedNotice]()
    # One unit of work per batch: one statement for its inbox rows, one for its webhook
    # queue, one for its audit entries, the chain's lock taken last and once.
    async with SqlUnitOfWork(rt.sessions) as uow:
        delivered = await inbox.put(uow, [(n, h) for _, n, h in notices], now,
                                    rt.data_keys, unstorable)  # fmt: skip
        # A notice whose household key cannot be used is a dead letter, not a poison pill.
        failed = [r for r, n, _ in notices if n in unstorable]
        notices = [(r, n, h) for r, n, h in notices if n not in unstorable]
        await webhook_dispatch.enqueue(uow, [(h, r.position) for r, _, h in notices], now)
        refused = [_refusal(record, reason) for record, reason in rejected]
        await uow.audit.append_many([*delivered, *refused], now)
    await rt.publisher.publish(
        [_delivered(rt, r, h, now) for r, _, h in notices]
        + [_unreadable(rt, r, reason, now) for r, reason in rejected]
        + [_unreadable(rt, r, "household_data_key_unusable", now) for r in failed]
    )
    stored = len(delivered)
    log.info("notices_delivered", received=len(records), stored=stored, rejected=len(rejected))
    # In the inbox is not yet delivered: the recipient's fetch is (a receipt counts that).
    metrics.DELIVERIES.labels("inbox", "stored").inc(stored)
    metrics.DELIVERIES.labels("inbox", "duplicate").inc(len(notices) - stored)
    metrics.DELIVERIES.labels("inbox", "dead_lettered").inc(len(rejected) + len(failed))


Verified = tuple[Received, SealedNotice, NoticeHeader]


def _verified(
    records: Sequence[Received], rt: Runtime
) -> tuple[list[Verified], list[tuple[Received, str]]]:
    """The records that are notices the broker signed, each with its header; the rest with
    why not. One bad record costs only itself."""
    notices: list[Verified] = []
    rejected: list[tuple[Received, str]] = []
    for record in records:
        try:
            notice = SealedNotice.model_validate_json(record.value)
            notices.append((record, notice, verify_notice(notice, rt.keys.public.signing_key)))
        except ValidationError:
            rejected.append((record, "unreadable_notice"))
        except EnvelopeError:
            rejected.append((record, "unsigned_notice"))
    return notices, rejected


def _delivered(rt: Runtime, record: Received, header: NoticeHeader, now: datetime) -> Message:
    entry = {"action": "notice_delivered", "at": now.isoformat(),
             "notice_id": str(header.notice_id), "recipient_id": header.recipient_id}  # fmt: skip
    return Message(rt.topics.audit, record.key or "", json.dumps(entry).encode())


def _refusal(record: Received, reason: str) -> audit.Entry:
    """A notice refused at the inbox's door is audited by where it lay: its header's notice
    id is whatever its writer chose, and may be a genuine notice's."""
    return audit.Entry("notice_refused", "delivery", record.position, {"reason": reason})


def _unreadable(rt: Runtime, record: Received, reason: str, now: datetime) -> Message:
    source = Source(record.topic, record.partition, record.offset)
    log.warning("notice_dead_lettered", reason=reason, topic=record.topic,
                partition=record.partition, offset=record.offset)  # fmt: skip
    return dead_letter(rt.topics.dead_letters, record.key or "", record.value,
                       {"reason": reason}, source, now)  # fmt: skip


async def run_delivery(
    rt: Runtime, stop: asyncio.Event, health: ConsumerHealth | None = None
) -> None:
    metrics.COMPONENT.set("delivery")
    sender = HttpWebhookSender(rt.settings.webhooks.timeout_seconds,
                               rt.settings.webhooks.allowed_networks)  # fmt: skip
    dispatcher = webhook_dispatch.Dispatcher(lambda: SqlUnitOfWork(rt.sessions), rt.keys,
                                             rt.data_keys, rt.publisher, rt.topics,
                                             rt.settings.webhooks, sender)  # fmt: skip
    try:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(dispatcher.run(stop))
            tasks.create_task(consume(
                rt.settings.kafka_bootstrap_servers, rt.topics.notices,
                rt.settings.delivery_group, lambda batch: handle_notices(batch, rt), stop,
                "delivery", rt.settings.kafka_security, health,
            ))  # fmt: skip
    finally:
        await sender.close()
