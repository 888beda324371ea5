"""A three-node local KRaft cluster survives losing one node (acks=all, min.insync.replicas=2)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from deploy.localkafka import LocalKafkaCluster

pytestmark = pytest.mark.faults  # a node killed: run with make test-faults

TOPIC = "replicated"


async def create_replicated_topic(bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topic = NewTopic(TOPIC, 3, 3, topic_configs={"min.insync.replicas": "2"})
        response = await admin.create_topics([topic])
    finally:
        await admin.close()
    assert all(err[1] == 0 for err in response.topic_errors), response.topic_errors


async def isr_sizes(bootstrap: str) -> list[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([TOPIC])
    finally:
        await admin.close()
    return [len(partition["isr"]) for partition in described["partitions"]]


async def wait_full_isr(bootstrap: str, wait_s: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while (sizes := await isr_sizes(bootstrap)) != [3, 3, 3]:
        assert loop.time() < deadline, f"ISR did not recover: {sizes}"
        await asyncio.sleep(1)


async def produce(producer: AIOKafkaProducer, start: int, count: int) -> None:
    for seq in range(start, start + count):
        await producer.send_and_wait(TOPIC, f"m{seq}".encode(), key=f"k{seq % 5}".encode())


async def read_all(bootstrap: str, expected: int) -> list[Any]:
    consumer = AIOKafkaConsumer(
        TOPIC, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id="reader"
    )
    records: list[Any] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    async with consumer:
        while len(records) < expected and loop.time() < deadline:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
    return records


async def test_three_nodes_survive_one_kill(tmp_path: Path) -> None:
    cluster = LocalKafkaCluster(tmp_path, nodes=3)
    await asyncio.to_thread(cluster.start)
    try:
        bootstrap = cluster.bootstrap_servers
        await create_replicated_topic(bootstrap)
        # A new topic's metadata reaches every node in its own time (seconds on a loaded
        # machine, where CI once read no partitions at all right after creating it).
        await wait_full_isr(bootstrap)
        async with AIOKafkaProducer(
            bootstrap_servers=bootstrap, acks="all", enable_idempotence=True
        ) as producer:
            await produce(producer, 0, 20)
            await asyncio.to_thread(cluster.kill, 0)
            await produce(producer, 20, 20)  # two of three replicas still satisfy min ISR 2
            await asyncio.to_thread(cluster.start_node, 0)
            await wait_full_isr(bootstrap)
            await produce(producer, 40, 20)
        values = sorted(int(r.value[1:]) for r in await read_all(bootstrap, 60))
        assert values == list(range(60))
    finally:
        await asyncio.to_thread(cluster.stop)
