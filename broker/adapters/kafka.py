"""Kafka, through aiokafka, behind a small typed surface: nothing untyped leaks out of here.

Producers are idempotent with ``acks=all``: a send returns only once every in-sync replica
has the record. Consumers commit offsets by hand, after the effects of a batch are durable.
A transient failure while handling a batch (the database or Kafka briefly away) is retried,
the same batch, with capped exponential backoff; a bug in a handler still crashes the loop.
"""

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    CommitFailedError,
    IllegalGenerationError,
    IllegalStateError,
    RebalanceInProgressError,
    UnknownMemberIdError,
)
from aiokafka.structs import TopicPartition
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

import producers.kafka
from broker.adapters import metrics
from broker.config import TopicSettings
from broker.delivery.backoff import Backoff
from broker.errors import PublishFailed
from broker.ports import Message
from producers.kafka import PRODUCER_SETTINGS as PRODUCER_SETTINGS
from producers.kafka import KafkaSecurity, events_topic
from producers.kafka import client_options as client_options

log = structlog.get_logger(__name__)
TOPIC_ALREADY_EXISTS = 36
# A batch waits out an outage: briefly at first, never more than half a minute between tries.
BATCH_BACKOFF = Backoff(base=timedelta(seconds=0.5), cap=timedelta(seconds=30))


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
            events=events_topic(prefix),
            notices=f"{prefix}notices",
            acknowledgements=f"{prefix}acknowledgements",
            dead_letters=f"{prefix}dead-letters",
            audit=f"{prefix}audit",
        )

    def configs(self, settings: TopicSettings) -> dict[str, dict[str, str]]:
        """Each topic's settings. Events carry Kafka's own time of appending them, not their
        producer's: the router takes when an event was received from there."""
        configs = {name: {"retention.ms": str(retention),
                          "min.insync.replicas": str(settings.min_insync_replicas)}
                   for name, retention in self.retention_ms(settings).items()}  # fmt: skip
        configs[self.events]["message.timestamp.type"] = "LogAppendTime"
        return configs

    def retention_ms(self, settings: TopicSettings) -> dict[str, int]:
        return {
            self.events: settings.events_retention_ms,
            self.notices: settings.notices_retention_ms,
            self.acknowledgements: settings.notices_retention_ms,
            self.dead_letters: settings.dead_letter_retention_ms,
            self.audit: settings.audit_retention_ms,
        }


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
                topic_configs=configs,
            )
            for name, configs in topics.configs(settings).items()
        ]
        response = await admin.create_topics(new)
        for name, code, message in response.topic_errors:
            if code not in (0, TOPIC_ALREADY_EXISTS):
                raise RuntimeError(f"cannot create topic {name}: {message or code}")
        log.info("topics_ready", topics=sorted(t.name for t in new))
    finally:
        await admin.close()


# The consumer settings the broker runs with (its producer's: ``PRODUCER_SETTINGS``); the
# benchmark's raw-aiokafka baseline takes the very same, so the two compare like for like.
CONSUMER_SETTINGS: dict[str, Any] = {
    "enable_auto_commit": False,
    "auto_offset_reset": "earliest",
    "isolation_level": "read_committed",
}
MAX_RECORDS = 200  # records handed to a handler at once
# How long a loop waits for records before its next turn (health beat, lag gauge). The wait
# ends as soon as any record is fetched, or the loop is stopped: it never delays a record.
FETCH_WAIT_MS = 500


# What the broker's own producer changes from the agencies' settings. It sends a group's
# records together (every send, then one wait for them all), so waiting for more records
# only delays them: at a low rate ``linger_ms`` 5 added 5 ms to each hop, router to delivery
# and delivery to the audit topic. Under load records still go together, in the batches
# that build up while the previous request to the same Kafka broker is awaited.
BROKER_PRODUCER_OVERRIDES: dict[str, Any] = {"linger_ms": 0}


class KafkaPublisher(producers.kafka.KafkaPublisher):
    """The agency package's publisher, counting what it published in the broker's metrics,
    and sending without lingering."""

    def __init__(
        self, bootstrap: str, security: KafkaSecurity | None = None, **options: Any
    ) -> None:
        super().__init__(bootstrap, security, **(BROKER_PRODUCER_OVERRIDES | options))

    def _published(self, messages: Sequence[Message]) -> None:
        for message in messages:
            _count_published(topic_role(message.topic))


ROLES = ("events", "notices", "acknowledgements", "dead-letters", "audit")


def topic_role(topic: str) -> str:
    """The part a topic plays, whatever its prefix: a metric label that cannot grow."""
    return next((r.replace("-", "_") for r in ROLES if topic.endswith(r)), "other")


def _count_published(role: str) -> None:
    metrics.MESSAGES_PUBLISHED.labels(role).inc()
    if role == "notices":
        metrics.NOTICES_OUT.inc()
    elif role == "dead_letters":
        metrics.DEAD_LETTERS.labels(metrics.COMPONENT.get()).inc()


@dataclass(frozen=True)
class Received:
    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes
    # When Kafka appended the record, by the Kafka broker's clock; None when the topic keeps
    # the time its producer chose instead, which nobody should trust.
    appended_at: datetime | None = None
    headers: tuple[tuple[str, bytes], ...] = ()  # as sent (sgb-accepted-at on events)

    @property
    def position(self) -> str:
        """Where the record lay, as the broker records it: ``topic/partition/offset``."""
        return f"{self.topic}/{self.partition}/{self.offset}"


Handler = Callable[[Sequence[Received]], Awaitable[None]]

# A commit the group refused because it rebalanced: the records are redelivered elsewhere.
REBALANCED = (CommitFailedError, IllegalGenerationError, RebalanceInProgressError,
              UnknownMemberIdError, IllegalStateError)  # fmt: skip


# SQLSTATE class 08 (connection exception) and 57P01-57P03 (PostgreSQL shutting down, crashed,
# starting up): raised when connecting to a server that is going away or coming back.
TRANSIENT_SQLSTATES = ("08", "57P01", "57P02", "57P03")


def is_transient(exc: BaseException) -> bool:
    """A failure the same batch gets past by waiting: the database or Kafka coming back."""
    if isinstance(exc, PublishFailed | OperationalError | InterfaceError | PoolTimeout):
        return True
    if isinstance(exc, DBAPIError):
        state = str(getattr(exc.orig, "sqlstate", None) or "")
        return exc.connection_invalidated or state.startswith(TRANSIENT_SQLSTATES)
    return isinstance(exc, ConnectionError)


@dataclass
class ConsumerHealth:
    """What a consume loop tells the ops endpoints: alive, in its group, not stuck retrying."""

    running: bool = False
    joined: bool = False
    retrying: str | None = None  # the error class while a batch waits to be retried
    beat: float = field(default_factory=time.monotonic)  # the loop's last turn (monotonic)

    def problem(self) -> str | None:
        """Why the consumer is not ready, or None when it is."""
        if not self.running:
            return "consumer not running"
        if not self.joined:
            return "consumer has not joined its group"
        if self.retrying:
            return f"retrying a batch after {self.retrying}"
        return None


class _Membership(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, health: ConsumerHealth) -> None:
        self._health = health

    async def on_partitions_revoked(self, revoked: object) -> None:
        self._health.joined = False

    async def on_partitions_assigned(self, assigned: object) -> None:
        self._health.joined = True  # an empty assignment is still membership of the group


class KafkaBatchConsumer:
    """Consumes batches and commits their offsets only after the handler has finished."""

    def __init__(
        self, bootstrap: str, topic: str, group: str, security: KafkaSecurity | None = None, *,
        name: str = "consumer", health: ConsumerHealth | None = None,
        backoff: Backoff | None = None, **overrides: Any,
    ) -> None:  # fmt: skip
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            **client_options(security),
            group_id=group,
            **(CONSUMER_SETTINGS | overrides),
        )
        self.health = health or ConsumerHealth()
        self._consumer.subscribe([topic], listener=_Membership(self.health))
        self._group, self._name = group, name
        self._backoff = backoff or BATCH_BACKOFF
        self._lag_labels: set[TopicPartition] = set()

    async def start(self) -> None:
        await self._consumer.start()
        self.health.running = True

    async def stop(self) -> None:
        """Leaves the group cleanly; offsets not yet committed stay uncommitted."""
        self.health.running = self.health.joined = False
        for tp in self._lag_labels:
            metrics.CONSUMER_LAG.remove(self._group, tp.topic, str(tp.partition))
        self._lag_labels.clear()
        await self._consumer.stop()

    async def run(
        self, handle: Handler, stop: asyncio.Event, max_records: int = MAX_RECORDS
    ) -> None:
        """Until ``stop`` is set: fetch, handle, commit. Once stopped, the batch in hand is
        finished and committed, or, when still failing, left uncommitted for redelivery.

        A batch's offsets are committed while the next batch is fetched and handled (the
        round trip to the group's coordinator is off the next batch's path), and always
        after its own effects and before the next batch's commit, so the committed offsets
        only move forward; a crash before a commit lands means a redelivery, never a loss."""
        stopping = asyncio.ensure_future(stop.wait())
        committing: asyncio.Future[None] | None = None
        try:
            while not stop.is_set():
                self.health.beat = time.monotonic()
                records = await self._fetch(stopping, max_records)
                fetched = time.time()
                await self._refresh_lag()
                if records and await self._handle_until_done(handle, records, stop):
                    timed = partial(_timed, self._name, records, fetched, time.time())
                    if committing is not None:
                        await committing
                    committing = asyncio.ensure_future(self._commit(records, timed))
        finally:
            stopping.cancel()
            if committing is not None:
                await committing

    async def _fetch(self, stopping: asyncio.Future[Any], max_records: int) -> list[Received]:
        """The records Kafka has, as soon as it has any (at most half a second's wait, for the
        health beat and the lag); none once ``stopping`` is done. A stop interrupts the wait
        at once: no record is in hand then, so nothing is lost (nothing is committed either)."""
        fetch = asyncio.ensure_future(
            self._consumer.getmany(timeout_ms=FETCH_WAIT_MS, max_records=max_records)
        )
        await asyncio.wait((fetch, stopping), return_when=asyncio.FIRST_COMPLETED)
        if not fetch.done():
            fetch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await fetch
            return []
        return [_received(r) for part in fetch.result().values() for r in part]

    async def _handle_until_done(
        self, handle: Handler, records: Sequence[Received], stop: asyncio.Event
    ) -> bool:
        """True once the batch is handled; False if stopped while it still failed."""
        failures = 0
        while True:
            try:
                await handle(records)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                failures += 1
                error = type(exc).__name__  # the class only: a message may quote data
                jitter = random.random()  # noqa: S311 (spreading retries, not crypto)
                delay = self._backoff.delay(failures, jitter).total_seconds()
                self.health.retrying = error
                metrics.BATCH_RETRIES.labels(self._name, error).inc()
                log.warning("batch_retrying", consumer=self._name, error=error,
                            failures=failures, delay_s=round(delay, 2))  # fmt: skip
                if await _stopped_within(stop, delay):
                    return False
                self.health.beat = time.monotonic()
            else:
                self.health.retrying = None
                return True

    async def _commit(
        self, records: Sequence[Received], committed: Callable[[], None] = lambda: None
    ) -> None:
        offsets: dict[TopicPartition, int] = {}
        for r in records:
            tp = TopicPartition(r.topic, r.partition)
            offsets[tp] = max(offsets.get(tp, 0), r.offset + 1)
        assigned = self._consumer.assignment()
        mine = {tp: offset for tp, offset in offsets.items() if tp in assigned}
        try:
            if mine:
                await self._consumer.commit(mine)
            if len(mine) < len(offsets):
                raise IllegalStateError("partitions revoked while the batch was handled")
        except REBALANCED as exc:
            # Whoever holds those partitions now gets these records again; handlers are
            # idempotent, so that costs time, not correctness.
            metrics.COMMITS_LOST_TO_REBALANCE.labels(self._group).inc()
            log.warning("commit_lost_to_rebalance", consumer=self._name,
                        error=type(exc).__name__)  # fmt: skip
        committed()

    async def _refresh_lag(self) -> None:
        assigned = self._consumer.assignment()
        for tp in self._lag_labels - assigned:
            metrics.CONSUMER_LAG.remove(self._group, tp.topic, str(tp.partition))
        self._lag_labels &= assigned
        for tp in assigned:
            highwater = self._consumer.highwater(tp)
            if highwater is None:  # nothing fetched from it yet
                continue
            try:
                position = await self._consumer.position(tp)
            except IllegalStateError:  # revoked meanwhile
                continue
            lag = max(0, highwater - position)
            metrics.CONSUMER_LAG.labels(self._group, tp.topic, str(tp.partition)).set(lag)
            self._lag_labels.add(tp)


def _timed(name: str, records: Sequence[Received], fetched: float, handled: float) -> None:
    """When a batch was fetched, its effects done and its offsets committed (epoch seconds),
    with where its records lay: positions and times only, never a record's content. The
    benchmark (tests/benchmark/stages.py) follows each event through these."""
    spans: dict[int, list[int]] = {}
    for r in records:
        span = spans.setdefault(r.partition, [r.offset, r.offset])
        span[0], span[1] = min(span[0], r.offset), max(span[1], r.offset)
    log.info("batch_committed", consumer=name, records=len(records), topic=records[0].topic,
             offsets={str(p): span for p, span in spans.items()}, fetched_at=fetched,
             handled_at=handled, committed_at=time.time())  # fmt: skip


async def _stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    return stop.is_set()


@dataclass(frozen=True)
class ConsumerSpec:
    """Where a consume loop reads from and who it is: its topic, its group, and the name its
    log lines and metrics carry."""

    bootstrap: str
    topic: str
    group: str
    name: str
    security: KafkaSecurity | None = None


async def consume(
    spec: ConsumerSpec, handle: Handler, stop: asyncio.Event, health: ConsumerHealth | None = None
) -> None:
    """Runs one consumer loop until ``stop`` is set, committing after each handled batch."""
    consumer = KafkaBatchConsumer(spec.bootstrap, spec.topic, spec.group, spec.security,
                                  name=spec.name, health=health)  # fmt: skip
    await consumer.start()
    log.info(f"{spec.name}_started", topic=spec.topic)
    try:
        await consumer.run(handle, stop)
    finally:
        await consumer.stop()
        log.info(f"{spec.name}_stopped")


LOG_APPEND_TIME = 1  # a record's timestamp type: 0 is the producer's time, 1 Kafka's


def _received(record: ConsumerRecord[bytes, bytes]) -> Received:
    key = record.key.decode() if record.key is not None else None
    appended = (datetime.fromtimestamp(record.timestamp / 1000, UTC)
                if record.timestamp_type == LOG_APPEND_TIME else None)  # fmt: skip
    return Received(record.topic, record.partition, record.offset, key, record.value or b"",
                    appended, tuple(record.headers or ()))  # fmt: skip
