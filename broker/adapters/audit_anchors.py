"""The audit chain's head, anchored outside the database on the audit topic (aiokafka kept in
here): publishing it, and reading the newest back for ``sgb audit-verify``.

Anchors go under one Kafka key, so they lie in one partition in the order published; any
record there that is not an anchor tagged with the audit key is passed over, so a forged
anchor (from whoever can write the topic without the key) is never taken as the newest.
Only the router and the delivery worker may write the audit topic (a Kafka ACL), and nobody
may delete its records: its retention is forever.
"""

from aiokafka import AIOKafkaConsumer, TopicPartition

from broker.adapters.audit import Anchor
from broker.adapters.kafka import client_options
from broker.ports import Message
from producers.kafka import KafkaSecurity

ANCHOR_KEY = "audit-anchor"
FIRST_WINDOW = 256  # records read back from each partition's end at first, doubled until found


def anchor_message(topic: str, anchor: Anchor, key: bytes) -> Message:
    return Message(topic, ANCHOR_KEY, anchor.to_json(key))


async def newest_anchor(
    bootstrap: str, topic: str, key: bytes, security: KafkaSecurity | None = None
) -> Anchor | None:
    """The genuine anchor of the highest entry number: read backwards from the end of each
    partition, a window at a time, until one is found or the topic is read whole."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                group_id=None, **client_options(security))  # fmt: skip
    await consumer.start()
    try:
        # Every topic has a partition 0: assigning it makes the client fetch the topic's
        # metadata, which then names all of its partitions.
        consumer.assign([TopicPartition(topic, 0)])
        await consumer.end_offsets([TopicPartition(topic, 0)])
        numbers = consumer.partitions_for_topic(topic) or {0}
        partitions = [TopicPartition(topic, n) for n in sorted(numbers)]
        consumer.assign(partitions)
        return await _search(consumer, partitions, key)
    finally:
        await consumer.stop()


async def _search(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition], key: bytes
) -> Anchor | None:
    begins = await consumer.beginning_offsets(partitions)
    unread = dict(await consumer.end_offsets(partitions))  # each partition's unread end
    found: list[Anchor] = []
    window = FIRST_WINDOW
    while not found and any(unread[tp] > begins[tp] for tp in partitions):
        for tp in partitions:
            start = max(begins[tp], unread[tp] - window)
            found += await _anchors_between(consumer, tp, start, unread[tp], key)
            unread[tp] = start
        window *= 2
    return max(found, key=lambda anchor: anchor.seq, default=None)


async def _anchors_between(
    consumer: AIOKafkaConsumer, tp: TopicPartition, start: int, stop: int, key: bytes
) -> list[Anchor]:
    anchors: list[Anchor] = []
    if start >= stop:
        return anchors
    consumer.seek(tp, start)
    while await consumer.position(tp) < stop:
        batch = await consumer.getmany(tp, timeout_ms=1000)
        for record in batch.get(tp, []):
            if record.offset < stop and record.key == ANCHOR_KEY.encode() and record.value:
                anchor = Anchor.from_json(record.value, key)
                anchors += [anchor] if anchor else []
    return anchors
