"""The router: consumes sealed events, routes each, commits offsets after the notices are out.

An event that cannot be opened or read goes to the dead-letter topic, replayable, with its
reason (the class of failure and the fields at fault, never their values) in the record's
headers, and the loop carries on.
"""

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import replace
from functools import partial

import structlog
from cryptography.exceptions import InvalidTag
from pydantic import ValidationError

from broker.adapters import dead_letter_topic, metrics
from broker.adapters.data_keys import key_name
from broker.adapters.directory_projection import DirectoryProjection, keep_out_of_collections
from broker.adapters.kafka import ConsumerHealth, ConsumerSpec, Received, consume, is_transient
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.bootstrap import Runtime
from broker.errors import BrokerError
from broker.ports import AuditRecord, Message
from broker.pseudonyms import unmatched_key_name
from broker.services.routing import Routed, RoutingDeps, outbox, record_events
from consumers.follow_up_timer import run_follow_up_timer
from producers.envelopes import open_event
from producers.kafka import accepted_at, accepted_at_header
from producers.pseudonyms import person_identifier, pseudonym
from schemas.notices import NoticeHeader
from schemas.transport import EventHeader, SealedEvent

log = structlog.get_logger(__name__)


# Events routed in one transaction: enough to spread its commit, the audit chain's lock and
# the wait for Kafka's acknowledgement; few enough that the first of them is not kept waiting
# long for the last, nor other writers for the transaction.
EVENTS_PER_TRANSACTION = 25
IDLE_TAKE_OUT = 1.0  # seconds: how long published notices wait for the next group to take them out


class LateMarks:
    """Notices on Kafka still to be taken out of the outbox. The next group's transaction
    takes them out with its own writes (a transaction fewer for every group); if no group
    comes within ``IDLE_TAKE_OUT``, a transaction of their own does, while the loop waits for
    events. Should that fail, or the process stop first, the relay sends those notices again
    (kept once downstream); it waits far longer than this for a notice."""

    def __init__(self, deps: RoutingDeps) -> None:
        self._deps = deps
        self._ids: list[str] = []
        self._marking: asyncio.Task[None] | None = None
        self._taking_out = False  # the idle take-out has begun its own transaction

    def start(self, notice_ids: Sequence[str]) -> None:
        self._ids += notice_ids
        if self._ids and self._marking is None:
            self._marking = asyncio.create_task(self._when_idle())

    async def _when_idle(self) -> None:
        await asyncio.sleep(IDLE_TAKE_OUT)
        self._taking_out = True
        ids, self._ids = self._ids, []
        await outbox(self._deps).take_out(ids)

    async def take(self) -> list[str]:
        """The notices for the next group's transaction to take out: the idle take-out
        called off, or, once begun, waited for (and then none)."""
        marking, self._marking = self._marking, None
        if marking is not None and not self._taking_out:
            marking.cancel()  # still asleep: it takes nothing out
        elif marking is not None:
            await self._waited(marking)
        self._taking_out = False
        ids, self._ids = self._ids, []
        return ids

    async def settle(self) -> None:
        """Takes out now whatever is left; a transient failure leaves it to the relay."""
        if ids := await self.take():
            await self._waited(outbox(self._deps).take_out(ids))

    @staticmethod
    async def _waited(marking: Awaitable[None]) -> None:
        try:
            await marking
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning("outbox_marking_left_to_relay", error=type(exc).__name__)


async def handle_events(
    records: Sequence[Received], deps: RoutingDeps, marks: LateMarks | None = None
) -> None:
    """Routes a batch of events a few dozen at a time: each group in one transaction, and
    what it produced published in one round trip to Kafka once that has committed (waiting
    for the database's commit and Kafka's acknowledgement once per event cost more than all
    the routing). With ``marks``, the last group's notices are taken out of the outbox after
    this returns (see ``LateMarks``); without, before."""
    own_marks = marks is None
    marks = marks or LateMarks(deps)
    refused: list[tuple[Received, Exception]] = []
    readable: list[tuple[Received, SealedEvent]] = []
    for record in records:
        try:
            readable.append((record, SealedEvent.model_validate_json(record.value)))
        except ValidationError as unreadable:
            refused.append((record, unreadable))
    for start in range(0, len(readable), EVENTS_PER_TRANSACTION):
        chunk = readable[start : start + EVENTS_PER_TRANSACTION]
        # Received when Kafka appended it; the producer's header says nothing that counts.
        outcomes = await record_events(
            [(sealed, r.position, r.appended_at or deps.clock()) for r, sealed in chunk],
            deps,
            taking_out=await marks.take(),
        )
        notices: list[tuple[NoticeHeader, Message]] = []
        reports: list[Message] = []
        for (record, _), outcome in zip(chunk, outcomes, strict=True):
            if isinstance(outcome, Routed):
                notices += _carrying_acceptance(record, outcome.outbox)
                reports += outcome.reports
            else:
                refused.append((record, outcome))
        # As sealed in the transaction, not read back from the outbox.
        marks.start(await outbox(deps).send_sealed(notices, also=reports))
    if refused:
        await marks.settle()
    for record, reason in refused:
        await _audit_rejection(record, reason, deps)
        metrics.EVENTS_IN.labels("dead_lettered").inc()
    await deps.publisher.publish([dead_letter(record, reason, deps) for record, reason in refused])
    if own_marks:
        await marks.settle()


def _carrying_acceptance(
    record: Received, notices: list[tuple[NoticeHeader, Message]]
) -> list[tuple[NoticeHeader, Message]]:
    """The event's acceptance time (its sgb-accepted-at header, else Kafka's append time) on
    each of its notices, for the event-to-inbox latency the delivery worker observes."""
    at = accepted_at(record.headers) or record.appended_at
    if at is None:
        return notices
    header = accepted_at_header(at)
    return [(notice, replace(m, headers=(*m.headers, header))) for notice, m in notices]


async def _audit_rejection(record: Received, exc: Exception, deps: RoutingDeps) -> None:
    """The audit log names the rejected event by its cleartext id, or by where it lay."""
    position = record.position
    try:
        subject = str(EventHeader.model_validate_json(
            SealedEvent.model_validate_json(record.value).header).event_id)  # fmt: skip
    except ValidationError:
        subject = position
    async with deps.units() as uow:
        await uow.audit.append(AuditRecord("event_rejected", "router", subject,
                                           {"reason": type(exc).__name__, "position": position}),
                               deps.clock())  # fmt: skip


async def _projection(rt: Runtime) -> DirectoryProjection:
    """The directory in memory, loaded before the first event (kept current per transaction)."""
    projection = DirectoryProjection()
    async with rt.sessions() as session:
        await projection.load(session)
    return projection


def dead_letter(record: Received, exc: Exception, deps: RoutingDeps) -> Message:
    fields = (
        sorted({".".join(map(str, e["loc"])) for e in exc.errors()})
        if isinstance(exc, ValidationError)
        else []
    )
    reason = {"reason": type(exc).__name__, "fields": fields}
    source = dead_letter_topic.Source(record.topic, record.partition, record.offset)
    log.warning("event_dead_lettered", **reason, topic=record.topic,
                partition=record.partition, offset=record.offset)  # fmt: skip
    key = record.key or pseudonym(deps.keys.pseudonym_secret, "offset", str(record.offset))
    # The original value, so the letter can be replayed: ciphertext and a header of ids,
    # sealed again under its people's data keys when the broker can read it.
    value, under = _sealed_for_shredding(record, source, deps)
    return dead_letter_topic.dead_letter(deps.topics.dead_letters, key, value, reason,
                                         source, deps.clock(), under)  # fmt: skip


def _sealed_for_shredding(
    record: Received, source: dead_letter_topic.Source, deps: RoutingDeps
) -> tuple[bytes, str | None]:
    """An event sealed to the broker stays readable to the broker's key for as long as the
    letter is kept (30 days), its household's shredding notwithstanding. So a letter the
    router can open goes sealed under the data key of each identifier of each person it
    names: a household's shredding deletes those of its members (services/retention.py),
    and the letter with them. One it cannot open stays as it came (the broker cannot read it
    either); one it cannot seal too, rather than be lost."""
    try:
        sealed = SealedEvent.model_validate_json(record.value)
        key_id = EventHeader.model_validate_json(sealed.header).broker_key_id
        event = open_event(sealed, deps.keys.hpke_for(key_id))[1].event()
        secret = deps.keys.pseudonym_secret
        under = key_name(unmatched_key_name(secret, person_identifier(p, event.source_org))
                         for p in event.people())  # fmt: skip
        wrapped = deps.data_keys.wrap(under, record.value, dead_letter_topic.sealed_context(source))
    except (ValueError, InvalidTag, BrokerError, OSError) as exc:
        log.info("dead_letter_kept_as_received", error=type(exc).__name__)
        return record.value, None
    return wrapped, under


async def run_router(
    rt: Runtime, stop: asyncio.Event, health: ConsumerHealth | None = None
) -> None:
    metrics.COMPONENT.set("router")
    # A task group: if either loop fails, the other is cancelled and the process exits.
    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(route_events(rt, stop, health))
        tasks.create_task(run_follow_up_timer(rt, stop))


async def route_events(
    rt: Runtime, stop: asyncio.Event, health: ConsumerHealth | None = None
) -> None:
    """The router's consuming loop alone, without its timer (tests drive that themselves)."""
    # The directory in memory, loaded before the first event (kept current per transaction).
    projection = await _projection(rt)
    keep_out_of_collections()  # the projection, loaded, is never walked by the collector
    deps = replace(rt.services.routing, units=partial(SqlUnitOfWork, rt.sessions, projection))
    spec = ConsumerSpec(rt.settings.kafka_bootstrap_servers, rt.topics.events,
                        rt.settings.router_group, "router", rt.settings.kafka_security)  # fmt: skip
    await _route(spec, deps, stop, health)


async def _route(
    spec: ConsumerSpec, deps: RoutingDeps, stop: asyncio.Event, health: ConsumerHealth | None
) -> None:
    marks = LateMarks(deps)
    try:
        timed = partial(metrics.timed_each, metrics.ROUTING_SECONDS)
        await consume(spec, lambda b: timed(len(b), handle_events(b, deps, marks)), stop, health)
    finally:
        await marks.settle()
