"""Kafka, through aiokafka, behind a small typed surface: nothing untyped leaks out of here.

Producers are idempotent with ``acks=all``: a send returns only once every in-sync replica
has the record. Consumers commit offsets by hand, after the effects of a batch are durable.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError
from aiokafka.helpers import create_ssl_context

from broker.config import KafkaSecurity, TopicSettings
from broker.errors import PublishFailed

log = structlog.get_logger(__name__)
TOPIC_ALREADY_EXISTS = 36


@dataclass(frozen=True)
class Topics:
    events: str
    notices: str
    acknowledgements: str
    dead_letters: str
    audit: str

    @classmethod
    def with_prefix(cls, prefix: str) -> "Topics":
        return cls(
            events=f"{prefix}events",
            notices=f"{prefix}notices",
            acknowledgements=f"{prefix}acknowledgements",
            dead_letters=f"{prefix}dead-letters",
            audit=f"{prefix}audit",
        )

    def retention_ms(self, settings: TopicSettings) -> dict[str, int]:
        return {
            self.events: settings.events_retention_ms,
            self.notices: settings.notices_retention_ms,
            self.acknowledgements: settings.notices_retention_ms,
            self.dead_letters: settings.dead_letter_retention_ms,
            self.audit: settings.audit_retention_ms,
        }


def client_options(security: KafkaSecurity | None) -> dict[str, Any]:
    """aiokafka's connection options for the configured protocol (SCRAM, mutual TLS)."""
    if security is None or security.protocol == "PLAINTEXT":
        return {}
    options: dict[str, Any] = {
        "security_protocol": security.protocol,
        "ssl_context": create_ssl_context(
            cafile=str(security.ca_file) if security.ca_file else None,
            certfile=str(security.cert_file) if security.cert_file else None,
            keyfile=str(security.key_file) if security.key_file else None,
        ),
    }
    if security.protocol == "SASL_SSL":
        password = security.password.get_secret_value() if security.password else None
        options |= {"sasl_mechanism": security.sasl_mechanism,
                    "sasl_plain_username": security.username,
                    "sasl_plain_password": password}  # fmt: skip
    return options


async def ensure_topics(
    bootstrap: str, topics: Topics, settings: TopicSettings, security: KafkaSecurity | None = None
) -> None:
    """Creates the broker's topics with explicit partitions, replication and retention."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_options(security))
    await admin.start()
    try:
        new = [
            NewTopic(
                name,
                num_partitions=settings.partitions,
                replication_factor=settings.replication_factor,
                topic_configs={
                    "retention.ms": str(retention),
                    "min.insync.replicas": str(settings.min_insync_replicas),
                },
            )
            for name, retention in topics.retention_ms(settings).items()
        ]
        response = await admin.create_topics(new)
        for name, code, message in response.topic_errors:
            if code not in (0, TOPIC_ALREADY_EXISTS):
                raise RuntimeError(f"cannot create topic {name}: {message or code}")
        log.info("topics_ready", topics=sorted(t.name for t in new))
    finally:
        await admin.close()


@dataclass(frozen=True)
class Message:
    topic: str
    key: str
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


class KafkaPublisher:
    """An idempotent, acks=all producer. ``publish`` returns once Kafka has every record."""

    def __init__(
        self, bootstrap: str, security: KafkaSecurity | None = None, **overrides: Any
    ) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            **client_options(security),
            acks="all",
            enable_idempotence=True,
            linger_ms=overrides.pop("linger_ms", 5),
            compression_type=overrides.pop("compression_type", None),
            **overrides,
        )

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def publish(self, messages: Sequence[Message]) -> None:
        try:
            futures = [
                await self._producer.send(
                    m.topic, m.value, key=m.key.encode(), headers=list(m.headers)
                )
                for m in messages
            ]
            await asyncio.gather(*futures)
        except KafkaError as exc:
            raise PublishFailed(f"Kafka did not acknowledge: {type(exc).__name__}") from exc


@dataclass(frozen=True)
class Received:
    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes


Handler = Callable[[Sequence[Received]], Awaitable[None]]


class KafkaBatchConsumer:
    """Consumes batches and commits their offsets only after the handler has finished."""

    def __init__(
        self, bootstrap: str, topic: str, group: str, security: KafkaSecurity | None = None,
        **overrides: Any,
    ) -> None:  # fmt: skip
        self._consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            **client_options(security),
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            **overrides,
        )

    async def start(self) -> None:
        await self._consumer.start()

    async def stop(self) -> None:
        await self._consumer.stop()

    async def run(self, handle: Handler, stop: asyncio.Event, max_records: int = 200) -> None:
        while not stop.is_set():
            batches = await self._consumer.getmany(timeout_ms=500, max_records=max_records)
            records = [_received(r) for part in batches.values() for r in part]
            if records:
                await handle(records)
                await self._consumer.commit()


async def consume(
    bootstrap: str, topic: str, group: str, handle: Handler, stop: asyncio.Event, name: str,
    security: KafkaSecurity | None = None,
) -> None:  # fmt: skip
    """Runs one consumer loop until ``stop`` is set, committing after each handled batch."""
    consumer = KafkaBatchConsumer(bootstrap, topic, group, security)
    await consumer.start()
    log.info(f"{name}_started", topic=topic)
    try:
        await consumer.run(handle, stop)
    finally:
        await consumer.stop()
        log.info(f"{name}_stopped")


def _received(record: ConsumerRecord[bytes, bytes]) -> Received:
    key = record.key.decode() if record.key is not None else None
    return Received(record.topic, record.partition, record.offset, key, record.value or b"")
