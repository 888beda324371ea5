"""Routing: open a sealed event, resolve the family, decide, then seal and publish notices.

Load -> decide (pure rules) -> seal -> record, a group of events in one unit of work (read
for the whole group up front, written in bulk at its end: services/routing_group.py, the
``RoutedEvents`` store), then publish from memory once it has committed. Notice ids are
derived from the event and the addressee, so an event redelivered after a crash yields the
same notice ids and the inbox keeps each once; the routed-event record stops a redelivered
event from being routed again once its transaction has committed.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta

import structlog
from pydantic import ValidationError

from broker.adapters import chronology, metrics
from broker.adapters.directory import FamilyContext
from broker.adapters.kafka import Topics
from broker.errors import AlreadyRecorded, EnvelopeError, ReplayedEvent, Unrecordable
from broker.keys import KeyStore
from broker.ports import (
    AuditRecord,
    DataKeyStore,
    FamilyDirectory,
    Message,
    Publisher,
    QueuedForMatching,
    UnitOfWork,
)
from broker.rules.admission import Arrival, check_times
from broker.rules.deadlines import (
    OTHER_PERIODS,
)
from broker.rules.family import Decision, Family
from broker.rules.history import PersonHistory
from broker.rules.not_brought import booking_of
from broker.rules.peers import completed_by_match, matching_front_door
from broker.rules.repeated_crises import crisis_at
from broker.rules.routing import decide, recorded_signals
from broker.rules.thresholds import Thresholds
from broker.rules.trust import Screened, linked_orgs, screen
from broker.services import directory_changes, fhir_proof, matching, peer_transfers, proposals
from broker.services.outbox import Outbox
from broker.services.routing_group import GroupState
from broker.services.sealing import EventNotices
from producers.envelopes import open_event
from schemas.events import (
    AppointmentOutcome,
    AttendanceConcern,
    EdAttendance,
    Event,
    FamilyMovingArea,
    ParentMentalHealthCrisis,
    PersonRef,
)
from schemas.notices import NoticeHeader, NoticeType
from schemas.transport import EventHeader, SealedEvent, SignedEvent

log = structlog.get_logger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RoutingDeps:
    """What routing is given, built once (broker/bootstrap.py ``routing_deps``): ``units``
    opens a unit of work (a router's over its projection of the directory), ``outbox``
    publishes what one committed."""

    units: Callable[[], UnitOfWork]
    keys: KeyStore
    publisher: Publisher
    topics: Topics
    limits: Thresholds = Thresholds()
    clock: Callable[[], datetime] = field(default=utc_now)
    deadline_periods: Mapping[NoticeType, timedelta] = field(default_factory=lambda: OTHER_PERIODS)
    data_keys: DataKeyStore = field(kw_only=True)
    outbox: Outbox | None = field(default=None, kw_only=True)  # None: nothing is published


@dataclass(frozen=True)
class Routed:
    """What routing one event recorded: its notices, to publish as sealed (``outbox``) once
    its transaction has committed, and the records that go straight to Kafka then too
    (audit copies, dead letters)."""

    notices: list[NoticeHeader]
    reports: list[Message]
    outbox: list[tuple[NoticeHeader, Message]] = field(default_factory=list)

    @property
    def notice_ids(self) -> list[str]:
        return [str(n.notice_id) for n in self.notices]


NOTHING = Routed([], [])


# What routing an event in a batch came to: what it produced, or why it was refused.
Outcome = Routed | EnvelopeError | ValidationError | Unrecordable
REFUSED = (EnvelopeError, ValidationError)
# Not routed, and dead-lettered: refused, or a value the database will never take (its
# notices are not lost: the dead letter keeps the event for a replay once it is fixed).
NOT_ROUTED = (*REFUSED, Unrecordable)


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
    refused, Unrecordable for one the database would not take."""
    [outcome] = await record_events([(sealed, position, received_at or deps.clock())], deps)
    if isinstance(outcome, NOT_ROUTED):
        raise outcome
    await outbox(deps).publish_sealed(outcome.outbox, also=outcome.reports)
    return outcome.notices


async def record_events(
    events: Sequence[Delivery], deps: RoutingDeps, taking_out: Sequence[str] = ()
) -> list[Outcome]:
    """Decides and records a batch of events, each with the Kafka position it was read from,
    in one transaction (one commit, one turn of the audit chain's lock); publishes nothing.
    Nothing is produced for an event seen before.

    An event is refused (its envelope, signature, sender or times) before anything of it is
    written, so a refusal leaves the rest of the batch standing. Anything else that fails
    the transaction (another router instance having committed one of the events first after
    a rebalance, or an event found unreadable only while it was being recorded) sends the
    batch through again one event per transaction.

    ``position`` (topic/partition/offset) tells a redelivery of the same Kafka record, which
    is skipped, from a replay of the event as a new record, which is rejected.

    ``taking_out``: notices Kafka has, taken out of the outbox in the same transaction (one
    transaction fewer than a take-out of their own); by one of their own if the batch goes
    through one event at a time."""
    if len(events) > 1 or taking_out:
        try:
            async with deps.units() as uow:
                decided = await _record_group(uow, events, deps)
                if taking_out:
                    await uow.outbox.published(taking_out)
        except (AlreadyRecorded, *NOT_ROUTED):
            log.info("batch_routed_one_by_one", events=len(events))
            if taking_out:
                await outbox(deps).take_out(taking_out)
        else:
            return [_outcome(d) for d in decided]
    return [await _record_alone(delivery, deps) for delivery in events]


async def _record_alone(delivery: Delivery, deps: RoutingDeps) -> Outcome:
    sealed, position, _ = delivery
    try:
        async with deps.units() as uow:
            [decided] = await _record_group(uow, [delivery], deps)
    except REFUSED as exc:  # found while recording: nothing of it stays
        return exc
    except Unrecordable as exc:
        # The driver's message may quote the refused value: only the error's class is logged.
        log.error("event_unrecordable", event_id=_event_id(sealed),
                  error=type(getattr(exc.__cause__, "orig", exc)).__name__)  # fmt: skip
        return exc
    except AlreadyRecorded:
        # Another router instance (before a rebalance reached this one) committed the same
        # event first: its notices stand, and this transaction left nothing behind.
        event_id = _event_id(sealed)
        async with deps.units() as uow:
            routed = await uow.routed_events.routed_from([event_id])
        if not _seen_before(routed.get(event_id, _UNSEEN), position):
            raise
        log.info("event_routed_elsewhere", event_id=event_id)
        metrics.EVENTS_IN.labels("duplicate").inc()
        return NOTHING
    return _outcome(decided)


def _event_id(sealed: SealedEvent) -> str:
    return str(EventHeader.model_validate_json(sealed.header).event_id)


@dataclass(frozen=True)
class Decided:
    """What an event decided, and whether the router is the first to audit its receipt."""

    event: Event
    sent: list[tuple[NoticeHeader, Decision]]
    reports: list[Message]
    outbox: list[tuple[NoticeHeader, Message]]
    arrived: bool


# What became of each event of a group: decided, seen before (its id), or refused.
Verdict = Decided | str | EnvelopeError | ValidationError


async def _record_group(
    uow: UnitOfWork, events: Sequence[Delivery], deps: RoutingDeps
) -> list[Verdict]:
    """The group as one unit of work: read for all its events at once (GroupState), decided
    one after the other against that and what the group's earlier events added, written
    all together at the end, the audit entries last."""
    group = uow.routed_events
    state = await group.load(_event_ids(events))
    opened = [_open(sealed, deps) for sealed, _, _ in events]
    # Before anything of the families' history is read: another router deciding for one of
    # them now would count without this group's events, and this group without its.
    families = await uow.directory.families_of(_named(opened))
    await uow.family_locks.hold(families)
    people = await uow.directory.read_ahead(families)
    await state.patterns.read(group, people)
    # What the events record goes in once, at the end: what a later event reads back of the
    # group's earlier ones is in ``state``. Their audit entries (a move's directory changes, a
    # proposal's outcome) are kept with the group's own, in order, so the chain's lock, which
    # holds back every other router and the delivery, is taken once, last, not mid-group.
    with group.writes_deferred(), uow.audit.kept_in(state.audit):
        decided = [await _decide_or_refuse(uow, state, d, o, deps)
                   for d, o in zip(events, opened, strict=True)]  # fmt: skip
    await group.write(state)
    await _audit_produced(uow, state, decided, deps)
    return decided


def _event_ids(events: Sequence[Delivery]) -> list[str]:
    """The ids the events' headers give (one that gives none is refused when decided)."""
    ids = []
    for sealed, _, _ in events:
        try:
            ids.append(str(EventHeader.model_validate_json(sealed.header).event_id))
        except ValidationError:
            continue
    return ids


# An event as opened: its header, the event as its producer signed it, and that event parsed
# (None if it does not parse: refused once its signature is checked); or why not opened.
Opened = tuple[EventHeader, SignedEvent, Event | None] | EnvelopeError | ValidationError


def _open(sealed: SealedEvent, deps: RoutingDeps) -> Opened:
    try:
        sealed_to = EventHeader.model_validate_json(sealed.header).broker_key_id
        header, signed = open_event(sealed, deps.keys.hpke_for(sealed_to))
    except REFUSED as exc:
        return exc
    try:  # parsed once, for the directory's read-ahead and then for the signature's check
        return header, signed, signed.event()
    except ValidationError:
        return header, signed, None


def _named(opened: Sequence[Opened]) -> list[tuple[Sequence[PersonRef], str]]:
    """The people each opened event names, with its source organisation, for the directory
    to read ahead (their signatures are checked after: a hint, never an answer)."""
    named: list[tuple[Sequence[PersonRef], str]] = []
    for each in opened:
        if isinstance(each, REFUSED):
            continue
        header, _, event = each
        if event is not None:
            named.append((event.people(), header.source_org))
    return named


async def _decide_or_refuse(
    uow: UnitOfWork, state: GroupState, delivery: Delivery, opened: Opened, deps: RoutingDeps
) -> Verdict:
    """What the event decided, the id of an event seen before, or why it was refused. Only
    the admission checks, which write nothing, answer a refusal; a failure while the event
    is recorded raises, and its transaction is rolled back whole."""
    sealed, position, received_at = delivery
    if isinstance(opened, REFUSED):
        return opened
    header, signed, parsed = opened
    try:
        admitted = await _admitted(uow.directory, state, header, signed, parsed, received_at,
                                   deps, position)  # fmt: skip
    except REFUSED as exc:
        return exc
    if admitted is None:
        return str(header.event_id)
    event, republished = admitted
    arrival = Arrival.of(event, received_at)
    with structlog.contextvars.bound_contextvars(event_id=str(event.event_id)):
        notices = await _decide_and_record(uow, state, sealed, event, arrival, deps, position,
                                           republished)  # fmt: skip
    # An event that came straight to Kafka (the SDK's way) was audited by nobody on its
    # way in: its receipt is audited here. The gateway audits what it accepts (whichever of
    # the two comes first audits it: adapters/event_receipts.py), and the broker's own
    # publication of a matched event is no new receipt.
    arrived = not republished and str(event.event_id) not in state.accepted
    return Decided(event, notices.sent, notices.messages, notices.outbox, arrived)


async def _audit_produced(
    uow: UnitOfWork, state: GroupState, decided: Sequence[Verdict], deps: RoutingDeps
) -> None:
    """The audit entries of every notice decided, appended last: the audit chain's lock is
    then held only for the commit, so router instances side by side hardly wait for it."""
    done = [d for d in decided if isinstance(d, Decided)]
    now = deps.clock()
    received = [(str(d.event.event_id), now) for d in done if d.arrived]
    # Unless the gateway, accepting it meanwhile, audited it first.
    fresh = await uow.routed_events.fresh_receipts(received) if received else set()
    for outcome in done:
        event = outcome.event
        if str(event.event_id) in fresh:  # ids and types only: the audit log outlives the data
            details = {"event_type": event.event_type.value, "path": "kafka"}
            state.audit.append((now, AuditRecord("event_received", event.source_org,
                                                 str(event.event_id), details)))  # fmt: skip
        for notice, decision in outcome.sent:
            ids = {"event_id": str(notice.event_id), "recipient_id": notice.recipient_id,
                   "rule_id": decision.rule_id, "severity": notice.severity.value}  # fmt: skip
            state.audit.append((now, AuditRecord("notice_produced", "router",
                                                 str(notice.notice_id), ids)))  # fmt: skip
    await uow.routed_events.append_audit(state)


def _outcome(decided: Verdict) -> Outcome:
    """Logged and counted once its transaction has committed."""
    if isinstance(decided, REFUSED):
        return decided
    if isinstance(decided, str):
        log.info("event_already_routed", event_id=decided)
        metrics.EVENTS_IN.labels("duplicate").inc()
        return NOTHING
    event, sent = decided.event, decided.sent
    log.info("event_routed", event_id=str(event.event_id), event_type=event.event_type.value,
             notices=len(sent))  # fmt: skip
    metrics.EVENTS_IN.labels("routed").inc()
    # Published after the commit, like the notices: the audit topic's copies of what the
    # audit log holds, and dead letters for decisions no contact can take.
    return Routed([notice for notice, _ in sent], decided.reports, decided.outbox)


async def _admitted(
    directory: FamilyDirectory,
    state: GroupState,
    header: EventHeader,
    signed: SignedEvent,
    parsed: Event | None,
    received_at: datetime,
    deps: RoutingDeps,
    position: str | None,
) -> tuple[Event, bool] | None:
    """The event, once its signature (by a key valid when the broker first received it),
    sender and times are checked, and whether it is the broker's own publication of a matched
    event; None if it was routed before from this same record. Reads only."""
    republished = matching.republished(state.queue.get(str(header.event_id)), header)
    # A matched event is published again at its match: its producer's key is checked at the
    # time the broker first received it, which the queue kept.
    signed_at = republished.received_at if republished else received_at
    producer_key = await peer_transfers.producer_key(directory, header.source_org,
                                                     signed.signing_key_id, signed_at,
                                                     deps.keys.public)  # fmt: skip
    event = fhir_proof.verified(signed, header, producer_key, parsed)  # native or FHIR
    await directory.check_may_publish(event.source_org, event.event_type)
    check_times(event, received_at, deps.clock())
    if _seen_before(state.routed.get(str(event.event_id), _UNSEEN), position):
        return None
    return event, republished is not None


async def _decide_and_record(
    uow: UnitOfWork,
    state: GroupState,
    sealed: SealedEvent,
    event: Event,
    arrival: Arrival,
    deps: RoutingDeps,
    position: str | None,
    matched: bool = False,
) -> EventNotices:
    context = _with_group_history(
        await uow.directory.family_for(event.people(), event.source_org), state
    )
    history = await _record_and_load_history(uow, state, event, context)
    decided = decide(event, context.family, history, arrival.received_at, deps.limits)
    if matched:  # republished from the matching queue: a peer's transfer is told once
        decided = completed_by_match(event, context.family, decided)
    screened = screen(event, context.family, decided)
    _withheld(state, event, screened.withheld, deps.clock())
    notices = EventNotices(uow, event, arrival, context, deps)
    await notices.seal_all(screened.decisions)
    await _remember(uow, state, sealed, event, arrival, context, notices.sent, deps,
                    position, screened)  # fmt: skip
    return notices


def _with_group_history(context: FamilyContext, state: GroupState) -> FamilyContext:
    """The family's household history with the chronology of the group's earlier events,
    not yet written, after what the database holds."""
    family = context.family
    homes = {m.household_id for m in family.members if m.household_id}
    history = chronology.with_lines(family.history, state.chronology, homes)
    if history is family.history:
        return context
    return replace(context, family=replace(family, history=history))


def _withheld(state: GroupState, event: Event, withheld: Sequence[Decision], now: datetime) -> None:
    """A notice the event's word alone would have sent to an organisation the directory does
    not link to the family is not sent; the audit log says so (ids only)."""
    for decision in withheld:
        details = {"org_id": decision.addressee.org_id, "role": decision.addressee.role.value,
                   "rule_id": decision.rule_id, "reason": "not_linked_to_family"}  # fmt: skip
        state.audit.append((now, AuditRecord("notice_withheld", "router",
                                             f"event:{event.event_id}", details)))  # fmt: skip


def outbox(deps: RoutingDeps) -> Outbox:
    """The outbox over routing's database, sending with the deps' own publisher, topic and
    key (which a caller may have replaced since the outbox was built)."""
    if deps.outbox is None:
        raise RuntimeError("routing was given no outbox to publish through")
    return replace(deps.outbox, publisher=deps.publisher, topic=deps.topics.notices,
                   pseudonym_secret=deps.keys.pseudonym_secret)  # fmt: skip


async def _remember(
    uow: UnitOfWork,
    state: GroupState,
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
    event_id = str(event.event_id)
    state.mark_routed(event_id, deps.clock(), len(sent), position)
    family = context.family
    resolved = family.subject is not None and not family.unmatched
    if not resolved and event_id not in state.queue:
        door = matching_front_door(event, family)  # a peer's transfer: the receiving door
        state.park(_queued(sealed, arrival, event, door, deps.data_keys))
    matching.left_queue(state.queue.get(event_id), deps.data_keys, resolved=resolved)
    if family.subject is None:
        return
    households = dict.fromkeys(m.household_id for m in family.members if m.household_id)
    state.chronology += chronology.lines(households, arrival, event.occurred_at,
                                         recorded_signals(event), sent)  # fmt: skip
    moving = isinstance(event, FamilyMovingArea) and event.source_org in linked_orgs(family)
    if isinstance(event, FamilyMovingArea) and moving:
        await _keep_listed_plans(uow, event, family)
    if screened.proposal is not None and screened.verdict is not None:
        await proposals.settle(uow, sealed, event, family, screened.proposal,
                               screened.verdict, deps.clock())  # fmt: skip


def _queued(
    sealed: SealedEvent, arrival: Arrival, event: Event, front_door: str | None,
    data_keys: DataKeyStore,
) -> QueuedForMatching:  # fmt: skip
    """The event parked for its front door as services/matching.py parks one, as the group
    holds it until its write."""
    return QueuedForMatching(**asdict(matching.queue_entry(sealed, arrival, event, front_door,
                                                           data_keys)))  # fmt: skip


async def _keep_listed_plans(uow: UnitOfWork, event: FamilyMovingArea, family: Family) -> None:
    """The plans a move lists stay known to later digests and transfers, whatever becomes
    of the move (a source with no link to the family lists nothing the broker keeps)."""
    for plan_id in await uow.directory.record_listed_plans(event, family):
        await directory_changes.record(uow, event.source_org, "plan", plan_id, "created",
                                       ["kind", "started_on", "ended_on"])  # fmt: skip


_UNSEEN = "-"  # no routed-event record: not a position any Kafka record has


def _seen_before(routed_from: str | None, position: str | None) -> bool:
    """Whether an event routed from ``routed_from`` (``_UNSEEN`` if never) is seen again
    now from ``position``; a replay of it from another record is refused."""
    if routed_from == _UNSEEN:
        return False
    if position is None or routed_from in (None, position):
        return True
    raise ReplayedEvent("this event id was routed before from another record")


async def _record_and_load_history(
    uow: UnitOfWork, state: GroupState, event: Event, context: FamilyContext
) -> PersonHistory:
    """Records the event's place in its subject's patterns, and loads the subject's history
    with this event in it (for a child's appointment, the brothers' and sisters' as well)."""
    family = context.family
    subject = family.subject
    if subject is None:
        return PersonHistory()
    event_id, crisis, patterns = str(event.event_id), crisis_at(event, family), state.patterns
    match event:
        case EdAttendance():
            # One row per event: a parent's crisis presentation is an ED attendance and a crisis.
            patterns.record(event_id, subject.person_id, "ed", event.arrived_at,
                            "crisis" if crisis else None)  # fmt: skip
        case ParentMentalHealthCrisis() if crisis is not None:
            patterns.record(event_id, subject.person_id, "crisis", crisis, None)
        case AppointmentOutcome() | AttendanceConcern() if booking := booking_of(event):
            patterns.record(event_id, subject.person_id, "appointment", *booking)
            siblings = [c.person_id for c in family.siblings_of(subject.person_id)]
            found = await patterns.histories(uow.routed_events, [subject.person_id, *siblings])
            return replace(found[subject.person_id],
                           siblings={p: found[p] for p in siblings})  # fmt: skip
        case _:
            return PersonHistory()
    return (await patterns.histories(uow.routed_events, [subject.person_id]))[subject.person_id]
