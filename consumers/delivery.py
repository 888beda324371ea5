"""The delivery worker: consumes sealed notices and stores each in its recipient's inbox.

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

from broker.adapters import metrics
from broker.adapters.dead_letter_topic import Source, dead_letter
from broker.adapters.kafka import ConsumerHealth, Message, Received, consume
from broker.adapters.webhooks import HttpWebhookSender
from broker.bootstrap import Runtime
from broker.services import inbox, webhook_dispatch
from schemas.notices import NoticeHeader, SealedNotice

log = structlog.get_logger(__name__)


async def handle_notices(records: Sequence[Received], rt: Runtime) -> None:
    notices, rejected = [], []
    for record in records:
        try:
            notice = SealedNotice.model_validate_json(record.value)
            NoticeHeader.model_validate_json(notice.header)
            notices.append((record, notice))
        except ValidationError:
            rejected.append(record)
    now, unstorable = datetime.now(UTC), list[SealedNotice]()
    async with rt.sessions.begin() as session:
        stored = await inbox.store(session, [n for _, n in notices], now, rt.data_keys,
                                   unstorable)  # fmt: skip
        # A notice whose household key cannot be used is a dead letter, not a poison pill.
        failed = [r for r, n in notices if n in unstorable]
        notices = [(r, n) for r, n in notices if n not in unstorable]
        await webhook_dispatch.enqueue(session, [(n, r.position) for r, n in notices], now)
    await rt.publisher.publish(
        [_delivered(rt, r, n, now) for r, n in notices]
        + [_unreadable(rt, r, now) for r in rejected]
        + [_unreadable(rt, r, now, "household_data_key_unusable") for r in failed]
    )
    log.info("notices_delivered", received=len(records), stored=stored, rejected=len(rejected))
    # In the inbox is not yet delivered: the recipient's fetch is (a receipt counts that).
    metrics.DELIVERIES.labels("inbox", "stored").inc(stored)
    metrics.DELIVERIES.labels("inbox", "duplicate").inc(len(notices) - stored)
    metrics.DELIVERIES.labels("inbox", "dead_lettered").inc(len(rejected) + len(failed))


def _delivered(rt: Runtime, record: Received, notice: SealedNotice, now: datetime) -> Message:
    header = NoticeHeader.model_validate_json(notice.header)
    entry = {"action": "notice_delivered", "at": now.isoformat(),
             "notice_id": str(header.notice_id), "recipient_id": header.recipient_id}  # fmt: skip
    return Message(rt.topics.audit, record.key or "", json.dumps(entry).encode())


def _unreadable(
    rt: Runtime, record: Received, now: datetime, reason: str = "unreadable_notice"
) -> Message:
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
    dispatcher = webhook_dispatch.Dispatcher(rt.sessions, rt.keys, rt.data_keys, rt.publisher,
                                             rt.topics, rt.settings.webhooks, sender)  # fmt: skip
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
