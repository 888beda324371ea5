"""aiokafka 0.14 against the real broker from the ``kafka_bootstrap`` fixture.

Covers what the broker relies on: admin topic creation, an idempotent ``acks='all'`` producer,
consumer groups with manual commits, and transactions read back with ``read_committed``.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import OffsetAndMetadata

pytestmark = pytest.mark.integration

PARTITIONS = 3


async def create_topic(bootstrap: str, name: str, partitions: int = PARTITIONS) -> None:
    """Create a topic and fail the test if the broker reports an error."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        response = await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()
    errors = [err for err in response.topic_errors if err[1] != 0]
    assert not errors, errors


def consumer(bootstrap: str, topic: str, group: str, **extra: Any) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **extra,
    )


async def drain(cons: AIOKafkaConsumer, expected: int, wait_s: float = 30.0) -> list[Any]:
    """Fetch until ``expected`` records arrived (or ``wait_s`` passes), then a bit more."""
    records: list[Any] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while len(records) < expected and loop.time() < deadline:
        for batch in (await cons.getmany(timeout_ms=500)).values():
            records.extend(batch)
    for batch in (await cons.getmany(timeout_ms=500)).values():  # catch any extra record
        records.extend(batch)
    return records


async def test_produce_consume_commit(kafka_bootstrap: str, topic_prefix: str) -> None:
    topic, group = f"{topic_prefix}events", f"{topic_prefix}group"
    await create_topic(kafka_bootstrap, topic)
    sent: dict[bytes, list[bytes]] = defaultdict(list)
    async with AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True
    ) as producer:
        for seq in range(100):
            key, value = f"k{seq % 7}".encode(), f"m{seq}".encode()
            await producer.send(topic, value=value, key=key)
            sent[key].append(value)
        await producer.flush()

    cons = consumer(kafka_bootstrap, topic, group)
    async with cons:
        records = await drain(cons, 100)
        await cons.commit()
    received: dict[bytes, list[bytes]] = defaultdict(list)
    for record in records:
        received[record.key].append(record.value)
    assert len(records) == 100
    assert received == sent  # same messages, in send order per key

    again = consumer(kafka_bootstrap, topic, group)
    async with again:
        assert await drain(again, 1, wait_s=5.0) == []
        committed = [await again.committed(TopicPartition(topic, p)) for p in range(PARTITIONS)]
    assert sum(offset or 0 for offset in committed) == 100


async def test_transaction_read_committed(kafka_bootstrap: str, topic_prefix: str) -> None:
    source, sink = f"{topic_prefix}in", f"{topic_prefix}out"
    group = f"{topic_prefix}processor"
    await create_topic(kafka_bootstrap, source, partitions=1)
    await create_topic(kafka_bootstrap, sink, partitions=1)
    async with AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all") as plain:
        for seq in range(5):
            await plain.send_and_wait(source, f"in{seq}".encode())

    processor = consumer(kafka_bootstrap, source, group, isolation_level="read_committed")
    txn = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, transactional_id=f"{topic_prefix}txn")
    async with processor, txn:
        inputs = await drain(processor, 5)
        assert len(inputs) == 5
        await txn.begin_transaction()  # an aborted transaction must stay invisible
        await txn.send_and_wait(sink, b"aborted")
        await txn.abort_transaction()
        async with txn.transaction():  # consume-transform-produce, offsets in the transaction
            for record in inputs:
                await txn.send(sink, record.value.replace(b"in", b"out"))
            last = OffsetAndMetadata(inputs[-1].offset + 1, "")
            await txn.send_offsets_to_transaction({TopicPartition(source, 0): last}, group)

    reader = consumer(
        kafka_bootstrap, sink, f"{topic_prefix}reader", isolation_level="read_committed"
    )
    async with reader:
        outputs = [record.value for record in await drain(reader, 5)]
    assert outputs == [f"out{seq}".encode() for seq in range(5)]

    check = consumer(kafka_bootstrap, source, group)
    async with check:
        assert await check.committed(TopicPartition(source, 0)) == 5
