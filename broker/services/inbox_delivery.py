"""A batch of sealed notices into their recipients' inboxes, as one unit of work.

The delivery worker (consumers/delivery.py) decodes and verifies each record and hands the
batch here: one statement for its inbox rows; one read of the directory for how each
recipient is reached beyond its inbox (its change log's version: the rest is kept per process
until the log moves on), then a statement for each of the webhook, MESH and alert queues the
batch has anything for; one for its audit entries (the chain's lock taken last and once);
then one round trip to Kafka for the audit copies and the dead letters. A notice whose
household key cannot be used is a dead letter, not a poison pill; a record refused at the
door is audited by where it lay.
"""

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from broker.adapters import audit
from broker.adapters.dead_letter_topic import Source, dead_letter
from broker.adapters.kafka import Received, Topics
from broker.ports import (
    Clock,
    DataKeyStore,
    MeshQueued,
    Message,
    Publisher,
    Reach,
    UnitOfWork,
    UnitOfWorkFactory,
    WebhookQueued,
)
from broker.rules.family import OrgKind
from broker.services import alerts, inbox
from broker.services.retry_worker import Wakes
from schemas.notices import NoticeHeader, SealedNotice

log = structlog.get_logger(__name__)

Verified = tuple[Received, SealedNotice, NoticeHeader]
Refused = tuple[Received, str]  # the record, and why it was refused (a reason code)


@dataclass(frozen=True)
class DeliveryDeps:
    unit_of_work: UnitOfWorkFactory
    data_keys: DataKeyStore
    publisher: Publisher
    topics: Topics
    clock: Clock
    wakes: Wakes = field(default_factory=Wakes)  # this process's retry workers, woken


@dataclass(frozen=True)
class Delivered:
    """What a batch came to: stored (new to the inbox), duplicates, dead letters."""

    stored: int
    duplicates: int
    dead_lettered: int


async def deliver(
    notices: Sequence[Verified], rejected: Sequence[Refused], deps: DeliveryDeps
) -> Delivered:
    now, unstorable = deps.clock(), list[SealedNotice]()
    async with deps.unit_of_work() as uow:
        delivered = await inbox.put(uow, [(n, h) for _, n, h in notices], now,
                                    deps.data_keys, unstorable)  # fmt: skip
        failed = [r for r, n, _ in notices if n in unstorable]
        notices = [(r, n, h) for r, n, h in notices if n not in unstorable]
        onward = [(h, r.position) for r, _, h in notices]
        wakes = await _queue_onward(uow, onward, now, deps.wakes)
        refused = [_refusal(record, reason) for record, reason in rejected]
        await uow.audit.append_many([*delivered, *refused], now)
    for wake in wakes:  # committed: the workers can see the new rows now
        wake.set()
    await deps.publisher.publish(
        [_delivered(deps, r, h, now) for r, _, h in notices]
        + [_unreadable(deps, r, reason, now) for r, reason in rejected]
        + [_unreadable(deps, r, "household_data_key_unusable", now) for r in failed]
    )
    return Delivered(len(delivered), len(notices) - len(delivered), len(rejected) + len(failed))


async def _queue_onward(
    uow: UnitOfWork, notices: Sequence[tuple[NoticeHeader, str]], now: datetime, wakes: Wakes
) -> list[asyncio.Event]:
    """Each (notice's header, position read from) queued for its recipient's webhook, MESH
    mailbox and alert channels, those it has, in one read of the directory: a queue the batch
    has nothing for costs no round trip. Each queue keeps a notice once, however often Kafka
    redelivers it; the MESH queue checks the mailbox again as it takes the notice. Answers
    the wakes of the workers that have new rows to try (to set once it commits)."""
    recipients = uow.recipients
    reach = await recipients.reach([h.recipient_id for h, _ in notices])
    nowhere = Reach()
    hooks = [WebhookQueued(str(h.notice_id), h.recipient_id, source, now)
             for h, source in notices if reach.get(h.recipient_id, nowhere).webhook]  # fmt: skip
    new_hooks = bool(hooks) and await uow.webhooks.enqueue(hooks) > 0
    mesh = [MeshQueued(str(h.notice_id), h.recipient_id, source, now)
            for h, source in notices if reach.get(h.recipient_id, nowhere).mesh]  # fmt: skip
    new_mesh = bool(mesh) and await uow.mesh.enqueue(mesh) > 0
    told = []  # a person told, in its turn
    for header, _ in notices:
        if channels := reach.get(header.recipient_id, nowhere).alert_channels:
            # The organisation's kind from the same read: a school's reminders keep its day.
            school = await recipients.organisation_kind(header.recipient_org) == OrgKind.SCHOOL
            told += alerts.alerts_of(header, channels, school, now)
    new_alerts = bool(told) and await uow.alerts.enqueue(told) > 0
    new = ((wakes.webhooks, new_hooks), (wakes.alerts, new_alerts), (wakes.mesh, new_mesh))
    return [wake for wake, any_new in new if any_new]


def _delivered(
    deps: DeliveryDeps, record: Received, header: NoticeHeader, now: datetime
) -> Message:
    entry = {"action": "notice_delivered", "at": now.isoformat(),
             "notice_id": str(header.notice_id), "recipient_id": header.recipient_id}  # fmt: skip
    return Message(deps.topics.audit, record.key or "", json.dumps(entry).encode())


def _refusal(record: Received, reason: str) -> audit.Entry:
    """A notice refused at the inbox's door is audited by where it lay: its header's notice
    id is whatever its writer chose, and may be a genuine notice's."""
    return audit.Entry("notice_refused", "delivery", record.position, {"reason": reason})


def _unreadable(deps: DeliveryDeps, record: Received, reason: str, now: datetime) -> Message:
    source = Source(record.topic, record.partition, record.offset)
    log.warning("notice_dead_lettered", reason=reason, topic=record.topic,
                partition=record.partition, offset=record.offset)  # fmt: skip
    return dead_letter(deps.topics.dead_letters, record.key or "", record.value,
                       {"reason": reason}, source, now)  # fmt: skip
