"""Cutting what the router has routed from the events topic (aiokafka kept in here).

An event on the events topic is sealed to the broker's key and kept for the topic's retention
(7 days): after a household is shredded its events would still be readable there to whoever
holds the broker's key. Kafka cannot delete one record, but it can delete a partition's
records up to an offset (``DeleteRecords``): everything before the router group's committed
offset has been routed (the router commits only after an event's effects), and what routing
keeps of it is in the database, under the data keys that shredding deletes. So on a shred
every routed record goes, whoever it was about; those the router has not yet committed
(still to be routed, or being routed now) stay until it does, and go with the next shred or
with the topic's retention.
"""

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

from broker.adapters.kafka import client_options
from producers.kafka import KafkaSecurity

DELETE_TIMEOUT_MS = 30_000


async def delete_routed(
    bootstrap: str, topic: str, group: str, security: KafkaSecurity | None = None
) -> dict[int, int]:
    """Deletes every record of ``topic`` before ``group``'s committed offsets; answers the
    new start (low watermark) of each partition cut."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_options(security))
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
        cut = {
            TopicPartition(tp.topic, tp.partition): RecordsToDelete(meta.offset)
            for tp, meta in committed.items()
            if tp.topic == topic and meta.offset > 0
        }
        if not cut:
            return {}
        starts = await admin.delete_records(cut, timeout_ms=DELETE_TIMEOUT_MS)
        return {tp.partition: start for tp, start in starts.items()}
    finally:
        await admin.close()
