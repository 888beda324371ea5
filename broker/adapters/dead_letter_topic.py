"""The dead-letter topic's record format, and reading it back (aiokafka kept in here).

Every dead letter can be replayed: its value is the original record's value, byte for byte
(ciphertext and a cleartext header of ids already), its key the original key, and its
headers say why and where from:

    sgb-reason            JSON: the class of failure and, where useful, fields at fault, an
                          HTTP status or a count of attempts; never personal data
    sgb-source-topic      the topic the original record was read from
    sgb-source-partition  and its partition
    sgb-source-offset     and its offset
    sgb-first-failed-at   when processing it first failed (ISO 8601, UTC)
    sgb-sealed-under      only on an event the router could open: the data keys (one per
                          identifier of each person the event names) its value is sealed
                          under, so that shredding any of their households makes the letter
                          unreadable; replaying it opens it first (``sealed_context``)

Records written before this format (or with no original, like a notice no contact can take)
carry their reason JSON as the value and no headers; they are listed but not replayable.
"""

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from broker.adapters.kafka import client_options
from broker.ports import Message
from producers.kafka import KafkaSecurity

REASON = "sgb-reason"
SOURCE_TOPIC = "sgb-source-topic"
SOURCE_PARTITION = "sgb-source-partition"
SOURCE_OFFSET = "sgb-source-offset"
FIRST_FAILED_AT = "sgb-first-failed-at"
SEALED_UNDER = "sgb-sealed-under"


@dataclass(frozen=True)
class Source:
    topic: str
    partition: int
    offset: int

    @classmethod
    def parse(cls, position: str) -> "Source":
        """From ``topic/partition/offset``, as the broker records positions."""
        topic, partition, offset = position.rsplit("/", 2)
        return cls(topic, int(partition), int(offset))


@dataclass(frozen=True)
class DeadLetter:
    partition: int  # where it lies in the dead-letter topic
    offset: int
    key: str | None
    value: bytes
    reason: Mapping[str, Any]
    source: Source | None
    first_failed_at: datetime | None
    sealed_under: str | None = None  # the data keys its value is sealed under, if any

    @property
    def position(self) -> str:
        return f"{self.partition}/{self.offset}"

    @property
    def reason_name(self) -> str:
        return str(self.reason.get("reason", "unknown"))

    @property
    def replayable(self) -> bool:
        return self.source is not None


def dead_letter(
    topic: str, key: str, value: bytes, reason: Mapping[str, Any], source: Source,
    first_failed_at: datetime, sealed_under: str | None = None,
) -> Message:  # fmt: skip
    """A replayable dead letter: the original value (or, with ``sealed_under``, the original
    value sealed under those data keys), with its reason and origin in headers."""
    headers: tuple[tuple[str, bytes], ...] = (
        (REASON, json.dumps(reason, sort_keys=True).encode()),
        (SOURCE_TOPIC, source.topic.encode()),
        (SOURCE_PARTITION, str(source.partition).encode()),
        (SOURCE_OFFSET, str(source.offset).encode()),
        (FIRST_FAILED_AT, first_failed_at.isoformat().encode()),
    )
    if sealed_under:
        headers += ((SEALED_UNDER, sealed_under.encode()),)
    return Message(topic, key, value, headers)


def sealed_context(source: Source) -> bytes:
    """Binds a sealed letter's value to the record it came from."""
    return f"sgb/dead-letter/v1/{source.topic}/{source.partition}/{source.offset}".encode()


def parse(
    partition: int, offset: int, key: bytes | None, value: bytes | None,
    headers: Sequence[tuple[str, bytes]],
) -> DeadLetter:  # fmt: skip
    found = dict(headers)
    key_text = key.decode() if key is not None else None
    if REASON not in found:
        return DeadLetter(partition, offset, key_text, value or b"", _legacy_reason(value),
                          None, None)  # fmt: skip
    source = Source(
        found[SOURCE_TOPIC].decode(),
        int(found[SOURCE_PARTITION]),
        int(found[SOURCE_OFFSET]),
    )
    failed_at = datetime.fromisoformat(found[FIRST_FAILED_AT].decode())
    under = found[SEALED_UNDER].decode() if SEALED_UNDER in found else None
    return DeadLetter(partition, offset, key_text, value or b"", json.loads(found[REASON]),
                      source, failed_at, under)  # fmt: skip


def _legacy_reason(value: bytes | None) -> Mapping[str, Any]:
    try:
        reason = json.loads(value or b"")
    except ValueError:
        return {"reason": "unknown"}
    return reason if isinstance(reason, dict) else {"reason": "unknown"}


async def read_all(
    bootstrap: str, topic: str, security: KafkaSecurity | None = None
) -> list[DeadLetter]:
    """Every dead letter now in the topic, in partition and offset order."""
    consumer = _consumer(bootstrap, security, topic)
    await consumer.start()
    try:
        partitions = await _assigned(consumer)
        if not partitions:
            return []
        ends = await consumer.end_offsets(partitions)
        await consumer.seek_to_beginning(*partitions)
        letters: list[DeadLetter] = []
        for tp in partitions:
            letters += await _read_partition(consumer, tp, ends[tp])
        return letters
    finally:
        await consumer.stop()


async def read_one(
    bootstrap: str, topic: str, partition: int, offset: int,
    security: KafkaSecurity | None = None,
) -> DeadLetter | None:  # fmt: skip
    consumer = _consumer(bootstrap, security)
    await consumer.start()
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        if not 0 <= offset < end:
            return None
        consumer.seek(tp, offset)
        record = await consumer.getone(tp)
        return parse(partition, record.offset, record.key, record.value, record.headers)
    finally:
        await consumer.stop()


def _consumer(bootstrap: str, security: KafkaSecurity | None, *topics: str) -> AIOKafkaConsumer:
    # No group: reading dead letters commits nothing and disturbs no consumer. Its metadata
    # asked for again every second: a subscription is assigned its partitions only from
    # metadata that has them, and one answer without them (a leader not yet elected) would
    # otherwise stand for the default five minutes, and the read find no dead letter at all.
    return AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, enable_auto_commit=False,
                            group_id=None, metadata_max_age_ms=METADATA_MAX_AGE_MS,
                            **client_options(security))  # fmt: skip


METADATA_MAX_AGE_MS = 1000


async def _assigned(consumer: AIOKafkaConsumer, wait: float = 30.0) -> list[TopicPartition]:
    """The topic's partitions, once the consumer has them. Subscribed without a group, it is
    assigned every partition only when metadata arrives, after start() returns: reading at
    once would find no partition and no dead letter. A broker still settling (a leader being
    elected) can take more than ten seconds to answer: a fault run once read nothing."""
    for _ in range(int(wait / 0.05)):
        if consumer.assignment():
            break
        await asyncio.sleep(0.05)
    return sorted(consumer.assignment(), key=lambda tp: tp.partition)


async def _read_partition(
    consumer: AIOKafkaConsumer, tp: TopicPartition, end: int
) -> list[DeadLetter]:
    letters: list[DeadLetter] = []
    while await consumer.position(tp) < end:
        batch = await consumer.getmany(tp, timeout_ms=1000)
        letters += [parse(r.partition, r.offset, r.key, r.value, r.headers)
                    for r in batch.get(tp, [])]  # fmt: skip
    return letters
