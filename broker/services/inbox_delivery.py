"""A batch of sealed notices into their recipients' inboxes, as one unit of work.

The delivery worker (consumers/delivery.py) decodes and verifies each record and hands the
batch here: one statement for its inbox rows, one for its webhook queue, one for its audit
entries (the chain's lock taken last and once), then one round trip to Kafka for the audit
copies and the dead letters. A notice whose household key cannot be used is a dead letter,
not a poison pill; a record refused at the door is audited by where it lay.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog

from broker.adapters import audit
from broker.adapters.dead_letter_topic import Source, dead_letter
from broker.adapters.kafka import Received, Topics
from broker.ports import Clock, DataKeyStore, Message, Publisher, UnitOfWorkFactory
from broker.services import alerts, inbox, mesh_dispatch, webhook_dispatch
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
        await webhook_dispatch.enqueue(uow, [(h, r.position) for r, _, h in notices], now)
        await mesh_dispatch.enqueue(uow, [(h, r.position) for r, _, h in notices], now)
        await alerts.enqueue(uow, [h for _, _, h in notices], now)  # a person told, in its turn
        refused = [_refusal(record, reason) for record, reason in rejected]
        await uow.audit.append_many([*delivered, *refused], now)
    await deps.publisher.publish(
        [_delivered(deps, r, h, now) for r, _, h in notices]
        + [_unreadable(deps, r, reason, now) for r, reason in rejected]
        + [_unreadable(deps, r, "household_data_key_unusable", now) for r in failed]
    )
    return Delivered(len(delivered), len(notices) - len(delivered), len(rejected) + len(failed))


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
