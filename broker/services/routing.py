"""Routing: open a sealed event, resolve the family, decide, then seal and publish notices.

Load -> decide (pure rules) -> seal -> publish -> record, in one database transaction. Notice
ids are derived from the event and the addressee, so an event redelivered after a crash
yields the same notice ids and the inbox keeps each once; the routed-event record stops a
redelivered event from being routed again once its transaction has committed.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import structlog
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.adapters import audit, chronology, db, event_receipts, metrics
from broker.adapters.directory import FamilyContext, SqlDirectory
from broker.adapters.directory_projection import DirectoryProjection
from broker.adapters.envelopes import open_event, verified_event
from broker.adapters.kafka import Message, Topics
from broker.errors import EnvelopeError, ReplayedEvent
from broker.keys import KeyStore
from broker.ports import DataKeyStore, Publisher
from broker.rules.admission import Arrival, check_times
from broker.rules.deadlines import (
    OTHER_PERIODS,
)
from broker.rules.family import Decision, Family
from broker.rules.history import PersonHistory
from broker.rules.repeated_crises import crisis_at
from broker.rules.routing import decide, recorded_signals
from broker.rules.thresholds import Thresholds
from broker.rules.trust import Screened, linked_orgs, screen
from broker.services import directory_changes, matching, proposals
from broker.services.outbox import Outbox
from broker.services.sealing import EventNotices
from schemas.events import (
    AppointmentOutcome,
    EdAttendance,
    Event,
    FamilyMovingArea,
    ParentMentalHealthCrisis,
)
from schemas.notices import NoticeHeader, NoticeType
from schemas.transport import EventHeader, SealedEvent, SignedEvent

log = structlog.get_logger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RoutingDeps:
    sessions: async_sessionmaker[AsyncSession]
    keys: KeyStore
    publisher: Publisher
    topics: Topics
    limits: Thresholds = Thresholds()
    clock: Callable[[], datetime] = field(default=utc_now)
    deadline_periods: Mapping[NoticeType, timedelta] = field(default_factory=lambda: OTHER_PERIODS)
    data_keys: DataKeyStore = field(kw_only=True)
    directory: DirectoryProjection | None = field(default=None, kw_only=True)  # the router's


@dataclass(frozen=True)
class Routed:
    """What routing one event recorded: its notices, to publish through the outbox, and the
    records that go straight to Kafka once it has committed (audit copies, dead letters)."""

    notices: list[NoticeHeader]
    reports: list[Message]

    @property
    def notice_ids(self) -> list[str]:
        return [str(n.notice_id) for n in self.notices]


NOTHING = Routed([], [])


# What routing an event in a batch came to: what it produced, or why it was refused.
Outcome = Routed | EnvelopeError | ValidationError
REFUSED = (EnvelopeError, ValidationError)


# An event to route: as it lay on Kafka, where (``topic/partition/offset``, None when it did
# not come from Kafka) and when the broker received it (Kafka's log-append time, or the
# router's clock): never a time its producer wrote.
Delivery = tuple[SealedEvent, str | None, datetime]


async def route_event(
    sealed: SealedEvent,
    deps: RoutingDeps,
    position: str | None = None,
    received_at: datetime | None = None,
) -> list[NoticeHeader]:
    """Routes one event, received now unless said otherwise, and publishes what it produced;
    returns its notices' headers. Raises EnvelopeError or ValidationError for an event
    refused."""
    [outcome] = await record_events([(sealed, position, received_at or deps.clock())], deps)
    if isinstance(outcome, REFUSED):
        raise outcome
    await outbox(deps).publish(outcome.notice_ids, deps.clock(), also=outcome.reports)
    return outcome.notices


async def record_events(events: Sequence[Delivery], deps: RoutingDeps) -> list[Outcome]:
    """Decides and records a batch of events, each with the Kafka position it was read from,
    in one transaction (one commit, one turn of the audit chain's lock); publishes nothing.
    Nothing is produced for an event seen before.

    An event is refused (its envelope, signature, sender or times) before anything of it is
    written, so a refusal leaves the rest of the batch standing. Anything else that fails
    the transaction (another router instance having committed one of the events first after
    a rebalance, or an event found unreadable only while it was being recorded) sends the
    batch through again one event per transaction.

    ``position`` (topic/partition/offset) tells a redelivery of the same Kafka record, which
    is skipped, from a replay of the event as a new record, which is rejected."""
    if len(events) > 1:
        try:
            async with deps.sessions.begin() as session:
                directory = SqlDirectory(session, deps.directory)
                decided = [await _decide_or_refuse(directory, delivery, deps)
                           for delivery in events]  # fmt: skip
                await _audit_produced(session, decided, deps)
        except (IntegrityError, *REFUSED):
            log.info("batch_routed_one_by_one", events=len(events))
        else:
            return [_outcome(d) for d in decided]
    return [await _record_alone(delivery, deps) for delivery in events]


async def _record_alone(delivery: Delivery, deps: RoutingDeps) -> Outcome:
    sealed, position, _ = delivery
    try:
        async with deps.sessions.begin() as session:
            decided = await _decide_or_refuse(SqlDirectory(session, deps.directory), delivery, deps)
            await _audit_produced(session, [decided], deps)
    except REFUSED as exc:  # found while recording: nothing of it stays
        return exc
    except IntegrityError:
        # Another router instance (before a rebalance reached this one) committed the same
        # event first: its notices stand, and this transaction left nothing behind.
        header = EventHeader.model_validate_json(sealed.header)
        async with deps.sessions() as session:
            if not await _seen_before(session, str(header.event_id), position):
                raise
        log.info("event_routed_elsewhere", event_id=str(header.event_id))
        metrics.EVENTS_IN.labels("duplicate").inc()
        return NOTHING
    return _outcome(decided)


Decided = tuple[Event, list[tuple[NoticeHeader, Decision]], list[Message]]
# ... and whether the router is the first to audit the event's receipt.
Received = tuple[Event, list[tuple[NoticeHeader, Decision]], list[Message], bool]


async def _decide_or_refuse(
    directory: SqlDirectory, delivery: Delivery, deps: RoutingDeps
) -> Received | str | EnvelopeError | ValidationError:
    """What the event decided, the id of an event seen before, or why it was refused. Only
    the admission checks, which write nothing, answer a refusal; a failure while the event
    is recorded raises, and its transaction is rolled back whole."""
    sealed, position, received_at = delivery
    try:
        sealed_to = EventHeader.model_validate_json(sealed.header).broker_key_id
        header, signed = open_event(sealed, deps.keys.hpke_for(sealed_to))
        admitted = await _admitted(directory, header, signed, received_at, deps, position)
    except REFUSED as exc:
        return exc
    if admitted is None:
        return str(header.event_id)
    event, republished = admitted
    arrival = Arrival.of(event, received_at)
    with structlog.contextvars.bound_contextvars(event_id=str(event.event_id)):
        decided = await _decide_and_record(directory, sealed, event, arrival, deps, position)
    # An event that came straight to Kafka (the SDK's way) was audited by nobody on its
    # way in: its receipt is audited here. The gateway audits what it accepts (whichever of
    # the two comes first audits it: adapters/event_receipts.py), and the broker's own
    # publication of a matched event is no new receipt.
    arrived = not republished and not await _accepted_by_gateway(directory.session, event)
    return *decided, arrived


async def _accepted_by_gateway(session: AsyncSession, event: Event) -> bool:
    return await session.get(db.AcceptedEvent, str(event.event_id)) is not None


async def _audit_produced(
    session: AsyncSession, decided: Sequence[object], deps: RoutingDeps
) -> None:
    """The audit entries of every notice decided, appended last: the audit chain's lock is
    then held only for the commit, so router instances side by side hardly wait for it."""
    for outcome in decided:
        if not isinstance(outcome, tuple):
            continue
        event, sent, _, arrived = outcome
        if arrived:  # unless the gateway, accepting it meanwhile, audited it first
            await event_receipts.audit_receipt(session, event, event.source_org, "kafka",
                                               deps.clock())  # fmt: skip
        for notice, decision in sent:
            ids = {"event_id": str(notice.event_id), "recipient_id": notice.recipient_id,
                   "rule_id": decision.rule_id, "severity": notice.severity.value}  # fmt: skip
            await audit.append(session, "notice_produced", "router", str(notice.notice_id),
                               ids, deps.clock())  # fmt: skip


def _outcome(decided: Received | str | EnvelopeError | ValidationError) -> Outcome:
    """Logged and counted once its transaction has committed."""
    if isinstance(decided, REFUSED):
        return decided
    if isinstance(decided, str):
        log.info("event_already_routed", event_id=decided)
        metrics.EVENTS_IN.labels("duplicate").inc()
        return NOTHING
    event, sent, reports, _ = decided
    log.info("event_routed", event_id=str(event.event_id), event_type=event.event_type.value,
             notices=len(sent))  # fmt: skip
    metrics.EVENTS_IN.labels("routed").inc()
    # Published after the commit, like the notices: the audit topic's copies of what the
    # audit log holds, and dead letters for decisions no contact can take.
    return Routed([notice for notice, _ in sent], reports)


async def _admitted(
    directory: SqlDirectory,
    header: EventHeader,
    signed: SignedEvent,
    received_at: datetime,
    deps: RoutingDeps,
    position: str | None,
) -> tuple[Event, bool] | None:
    """The event, once its signature (by a key valid when the broker first received it),
    sender and times are checked, and whether it is the broker's own publication of a matched
    event; None if it was routed before from this same record. Reads only."""
    republished = await matching.republication(directory.session, header)
    # A matched event is published again at its match: its producer's key is checked at the
    # time the broker first received it, which the queue kept.
    signed_at = republished.received_at if republished else received_at
    producer_key = await directory.signing_key(header.source_org, signed.signing_key_id,
                                               signed_at)  # fmt: skip
    event = verified_event(signed, header, producer_key)
    await directory.check_may_publish(event.source_org, event.event_type)
    check_times(event, received_at, deps.clock())
    if await _seen_before(directory.session, str(event.event_id), position):
        return None
    return event, republished is not None


async def _decide_and_record(
    directory: SqlDirectory,
    sealed: SealedEvent,
    event: Event,
    arrival: Arrival,
    deps: RoutingDeps,
    position: str | None,
) -> Decided:
    session = directory.session
    context = await directory.family_for(event.people(), event.source_org)
    history = await _record_and_load_history(directory, event, context)
    decided = decide(event, context.family, history, arrival.received_at, deps.limits)
    screened = screen(event, context.family, decided)
    await _withheld(session, event, screened.withheld, deps.clock())
    notices = EventNotices(session, directory, event, arrival, context, deps)
    reports, sent = await notices.seal_all(screened.decisions)
    await _remember(session, directory, sealed, event, arrival, context, sent, deps,
                    position, screened)  # fmt: skip
    return event, sent, reports


async def _withheld(
    session: AsyncSession, event: Event, withheld: Sequence[Decision], now: datetime
) -> None:
    """A notice the event's word alone would have sent to an organisation the directory does
    not link to the family is not sent; the audit log says so (ids only)."""
    for decision in withheld:
        details = {"org_id": decision.addressee.org_id, "role": decision.addressee.role.value,
                   "rule_id": decision.rule_id, "reason": "not_linked_to_family"}  # fmt: skip
        await audit.append(session, "notice_withheld", "router", f"event:{event.event_id}",
                           details, now)  # fmt: skip


def outbox(deps: RoutingDeps) -> Outbox:
    return Outbox(deps.sessions, deps.publisher, deps.topics.notices, deps.keys.pseudonym_secret)


async def _remember(
    session: AsyncSession,
    directory: SqlDirectory,
    sealed: SealedEvent,
    event: Event,
    arrival: Arrival,
    context: FamilyContext,
    sent: list[tuple[NoticeHeader, Decision]],
    deps: RoutingDeps,
    position: str | None,
    screened: Screened,
) -> None:
    """Records the event as routed, in the family's chronology, or in the matching queue,
    and what became of the directory change it proposed."""
    session.add(db.RoutedEvent(event_id=str(event.event_id), routed_at=deps.clock(),
                               notices=len(sent), position=position))  # fmt: skip
    family = context.family
    resolved = family.subject is not None and not family.unmatched
    if not resolved:
        await matching.park(session, sealed, arrival, event, family.front_door(),
                            deps.data_keys)  # fmt: skip
    await matching.routed(session, str(event.event_id), deps.data_keys, resolved=resolved)
    if family.subject is None:
        return
    households = dict.fromkeys(m.household_id for m in family.members if m.household_id)
    chronology.record(session, households, arrival, event.occurred_at, recorded_signals(event),
                      sent)  # fmt: skip
    if isinstance(event, FamilyMovingArea) and event.source_org in linked_orgs(family):
        await _keep_listed_plans(directory, event, family)
    if screened.proposal is not None and screened.verdict is not None:
        await proposals.settle(directory, sealed, event, family, screened.proposal,
                               screened.verdict, deps.clock())  # fmt: skip


async def _keep_listed_plans(
    directory: SqlDirectory, event: FamilyMovingArea, family: Family
) -> None:
    """The plans a move lists stay known to later digests and transfers, whatever becomes
    of the move (a source with no link to the family lists nothing the broker keeps)."""
    for plan_id in await directory.record_listed_plans(event, family):
        await directory_changes.record(directory.session, event.source_org, "plan", plan_id,
                                       "created", ["kind", "started_on", "ended_on"])  # fmt: skip


async def _seen_before(session: AsyncSession, event_id: str, position: str | None) -> bool:
    routed = await session.get(db.RoutedEvent, event_id)
    if routed is None:
        return False
    if position is None or routed.position in (None, position):
        return True
    raise ReplayedEvent("this event id was routed before from another record")


async def _record_and_load_history(
    directory: SqlDirectory, event: Event, context: FamilyContext
) -> PersonHistory:
    """Records the event's place in its subject's patterns, and loads the subject's history
    with this event in it (for a child's appointment, the brothers' and sisters' as well)."""
    family = context.family
    subject = family.subject
    if subject is None:
        return PersonHistory()
    event_id, crisis = str(event.event_id), crisis_at(event, family)
    match event:
        case EdAttendance():
            # One row per event: a parent's crisis presentation is an ED attendance and a crisis.
            await directory.record_pattern(event_id, subject.person_id, "ed", event.arrived_at,
                                           "crisis" if crisis else None)  # fmt: skip
        case ParentMentalHealthCrisis() if crisis is not None:
            await directory.record_pattern(event_id, subject.person_id, "crisis", crisis, None)
        case AppointmentOutcome():
            await directory.record_pattern(event_id, subject.person_id, "appointment",
                                           event.booked_for, event.outcome)  # fmt: skip
            siblings = {c.person_id: await directory.history(c.person_id)
                        for c in family.siblings_of(subject.person_id)}  # fmt: skip
            return replace(await directory.history(subject.person_id), siblings=siblings)
        case _:
            return PersonHistory()
    return await directory.history(subject.person_id)
