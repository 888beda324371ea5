"""The effects services need, as protocols: adapters implement them, tests fake them.

A service takes a ``UnitOfWork`` (one transaction: it commits on a clean exit, rolls back
on an exception) and reaches the stores through it; what it publishes goes through a
``Publisher`` once the unit of work has committed. In-memory fakes of each protocol are in
tests/fakes.py, and one contract test per port runs against both implementations.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Protocol, Self, TypeVar

from broker.rules.family import Addressee

if TYPE_CHECKING:  # follow-ups: the directory's records and the data-quality report's issues
    from broker.adapters.data_quality import Issue, ReportLine
    from broker.adapters.directory import ContactRecord, OrgRecord
if TYPE_CHECKING:  # routing: the family as the directory gives it, a group of events' state
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from broker.adapters.directory import FamilyContext, Organisations
    from broker.rules.deadlines import SchoolCalendar
    from broker.rules.family import Family
    from broker.services.routing_group import GroupState, PatternRow
    from schemas.events import EventType, FamilyMovingArea, PersonRef, ServiceWithdrawal

# One record to publish to Kafka, already sealed: defined with the agency package, which
# publishes them too.
from producers.kafka import Message as Message

Clock = Callable[[], datetime]


class Publisher(Protocol):
    async def publish(self, messages: Sequence[Message]) -> None: ...


class DataKeyStore(Protocol):
    """Households' data keys, kept apart from the database (broker/adapters/data_keys.py).

    ``unwrap`` raises ``DataKeyShredded`` for what a shredded key sealed and
    ``DataKeyUnusable`` for a damaged key or ciphertext, nothing else; ``wrap`` makes the
    household's key on first use, a new one after a shred. ``household`` in ``wrap`` and
    ``unwrap`` may name several households ("a+b"): sealed under each key, gone with any."""

    def wrap(self, household: str, data: bytes, context: bytes) -> bytes: ...

    def unwrap(self, household: str, stored: bytes, context: bytes) -> bytes: ...

    def shred(self, household: str) -> bool: ...

    def is_shredded(self, household: str) -> bool: ...


AuditAction = Literal[
    "event_received",
    "event_rejected",
    "notice_produced",
    "notice_delivered",
    "notice_refused",
    "notice_read",
    "notice_gone",
    "notice_receipt",
    "notice_acknowledged",
    "notice_rejected",
    "notice_escalated",
    "notice_undeliverable",
    "directory_changed",
    "directory_change_refused",
    "chronology_accessed",
    "matching_queue_read",
    "household_shredded",
    "queue_entry_purged",
    "unknown_person_key_swept",
    "access_refused",
    "webhook_refused",
    "key_change_requested",
    "key_change_approved",
    "key_change_withdrawn",
    "key_change_refused",
    "directory_proposal",
    "notice_withheld",
    "notice_reference_looked_up",  # a front door finding a notice a school quoted
    "next_step_recorded",
    "next_step_overdue",
    "outcome_not_told",
    "alert_sent",  # a person told by email or SMS that a notice waits (no address kept)
    "peer_transfer_received",  # a transfer a peer broker pushed (services/peer_transfers.py)
    "peer_transfer_applied",  # ... read and accepted as the move it reports
    "peer_transfer_refused",  # ... that could not be read as a move
    "peer_receipt_sent",  # a receipt on a peer's transfer, taken by the peer
    "peer_receipt_dead_lettered",  # ... refused by the peer for good (a 4xx it meant)
    "peer_receipt_requeued",  # ... a dead one owed again (``sgb dead-letters replay-receipts``)
    "sign_in_link_issued",  # web inbox (issue 17): by an administrator, for a contact
    "signed_in",
    "sign_in_refused",
    "signed_out",
    "web_sessions_suspended",  # by an administrator: a contact's sessions and unused links
    "directory_read",  # an administrator's web view of a contact's channels or a household
    "passkey_enrolled",  # a person's passkey, after a sign-in link or with a recovery key
    "passkey_refused",  # a passkey ceremony that failed (ids and a reason only)
    "passkeys_listed",  # a contact's passkeys shown (to an administrator, an operator, its own)
    "passkey_revoked",  # one removed: it signs in no more
    "passkey_ceremony_failed",  # the browser's WebAuthn call rejected (cancelled, timed out...)
]
AuditDetails = Mapping[str, str | int | bool | None]


@dataclass(frozen=True)
class AuditRecord:
    """One entry for the audit log: ids and reasons only, never personal data."""

    action: AuditAction
    actor: str
    subject_ref: str
    details: AuditDetails


@dataclass(frozen=True)
class AuditHead:
    """The audit chain's last entry: its number, its hash and when it was appended."""

    seq: int
    hash: str
    at: datetime


class AuditLog(Protocol):
    """The tamper-evident audit log (broker/adapters/audit.py): entries appended in the
    unit of work's transaction, chained in the order given, kept only if it commits."""

    async def append(self, record: AuditRecord, at: datetime) -> None: ...

    async def append_many(self, records: Sequence[AuditRecord], at: datetime) -> None: ...

    def kept_in(self, entries: list[tuple[datetime, AuditRecord]]) -> AbstractContextManager[None]:
        """While open, what is appended is added to ``entries`` with its time, in order, and
        not written: a routing group appends them with its own at its end (the chain's lock
        taken once, last, and held only to the commit)."""
        ...

    async def entries_for(self, subject_ref: str) -> list[AuditRecord]: ...

    # Recipient side: the chain's head, for anchoring it outside the database.
    async def head(self) -> "AuditHead | None":
        """The chain's last committed entry; None while the log is empty."""
        ...


# Timer side: the matching queue as the router's timer publishes matched events again
# (services/match_publication.py). The front door's half (matching.py) is MatchingQueue.
@dataclass(frozen=True)
class QueuedEvent:
    """A matching queue entry as the router's timer needs it: the event as sealed to the
    broker, and when the front door matched it (None while it waits)."""

    event_id: str
    sealed_event: str
    matched_at: datetime | None


class MatchedEvents(Protocol):
    """Entries go waiting -> accepted (matched) -> publishing (claimed by one router) ->
    routing (Kafka has it again); a publication Kafka refused goes back to accepted."""

    async def accepted(self, limit: int) -> list[str]:
        """Matched entries waiting to be published, oldest match first."""
        ...

    async def claim(self, event_id: str) -> QueuedEvent | None:
        """Takes an accepted entry for publishing; None when another router took it."""
        ...

    async def published(self, event_id: str, *, succeeded: bool) -> None:
        """An entry still being published is now routing (Kafka has it), or accepted again
        (Kafka refused it); one in any other state is left as it is."""
        ...

    async def unkept(self, limit: int) -> list[str]:
        """Waiting entries parked before the queue kept their people apart."""
        ...

    async def unkept_entry(self, event_id: str) -> QueuedEvent | None:
        """The entry if it still waits without its people, locked until the unit ends."""
        ...

    async def keep_people(self, event_id: str, wrapped_people: str) -> None:
        """Keeps the entry's people, already wrapped under its own data key."""
        ...


# Front door side: the matching queue as the router parks events and a front door reads and
# matches them (services/matching.py): more of ``MatchedEvents``, the same queue.
@dataclass(frozen=True)
class ParkedEvent:
    """A matching queue entry: the event as sealed to the broker, and the people it names
    wrapped under the entry's own data key (None for one parked before the queue kept them)."""

    event_id: str
    front_door: str
    event_type: str
    received_at: datetime
    sealed_event: str
    people: str | None
    status: str = "waiting"
    matched_at: datetime | None = None


class MatchingQueue(Protocol):
    async def park(self, entry: ParkedEvent) -> None:
        """Adds the entry, unless the queue holds an entry for that event already."""
        ...

    async def to_do(self, front_door: str) -> list[ParkedEvent]:
        """The front door's entries the router has not yet routed (waiting, accepted,
        publishing, routing), oldest received first."""
        ...

    async def for_match(self, event_id: str) -> ParkedEvent | None:
        """The entry, held against another match of it until the unit of work ends."""
        ...

    async def accept(self, event_id: str, matched_by: str, at: datetime) -> None:
        """The front door's match recorded: the entry is accepted, for the router's timer to
        publish, and the event's routed-event record forgotten, for the router to route it
        afresh, to the whole family."""
        ...

    async def release_claims(self) -> int:
        """Every entry being published is accepted again; answers how many."""
        ...


# Directory writes: the directory's tables as plain rows, for the bulk import
# (services/directory_bulk.py, services/bulk_rows.py), which judges each record in memory.
DirectoryTable = Literal[
    "organisations",
    "school_terms",
    "org_signing_keys",
    "contacts",
    "people",
    "households",
    "household_members",
    "household_areas",
    "relationships",
    "registrations",
    "involvements",
    "plans",
    "plan_owners",
    "person_aliases",  # an agency's own id for a person, learnt at a front door's match
    "peers",  # a peer broker's gateway (broker.services.peers)
    "peer_areas",  # the authorities a peer broker serves
]
TableRow = dict[str, Any]


@dataclass(frozen=True)
class TableShape:
    """A table's primary key, and each column with its value when a new row leaves it out
    (rows written together carry every column, in this order)."""

    key: tuple[str, ...]
    defaults: Mapping[str, Any]


# A front door's match is a change of its own: it teaches the directory identifiers.
ChangeAction = Literal["created", "updated", "deleted", "matched"]


@dataclass(frozen=True)
class DirectoryChangeEntry:
    """One entry of the directory's change log: field names only, never values."""

    at: datetime
    actor: str
    entity: str
    entity_id: str
    action: ChangeAction
    fields: tuple[str, ...]


class DirectoryRows(Protocol):
    """Reads by column value and writes in bulk; one call may name thousands of rows."""

    def shape(self, table: DirectoryTable) -> TableShape: ...

    async def select_in(
        self, table: DirectoryTable, column: str, values: Iterable[Any]
    ) -> list[TableRow]:
        """Every row whose ``column`` holds one of ``values``, each with every column."""
        ...

    async def insert(self, table: DirectoryTable, rows: Sequence[TableRow]) -> None:
        """New rows, each with every column of the table's shape."""
        ...

    async def update(self, table: DirectoryTable, rows: Sequence[TableRow]) -> None:
        """Rows on record, found by their primary key, given their other columns' values."""
        ...

    async def delete_in(self, table: DirectoryTable, column: str, values: Sequence[Any]) -> None:
        """Removes every row whose ``column`` holds one of ``values``."""
        ...

    # Directory records one at a time (directory_admin)
    async def delete_keys(self, table: DirectoryTable, keys: Sequence[TableRow]) -> None:
        """Removes the rows under these primary keys (each key names every key column)."""
        ...

    async def log_changes(self, changes: Sequence[DirectoryChangeEntry]) -> None: ...

    async def changes_for(self, entity: str, entity_id: str) -> list[DirectoryChangeEntry]:
        """The change log's entries for one record, oldest first."""
        ...

    # The change log (services/directory_changes.py)
    async def latest_changes(self, limit: int) -> list[DirectoryChangeEntry]:
        """The change log's newest ``limit`` entries, newest first."""
        ...


# Key changes held for a second administrator (key_changes)


@dataclass(frozen=True)
class KeyChangeView:
    """A change to keys on record, held until another administrator approves it: ``spec`` is
    the record as sent (organisational data and public keys only), ``key_ids`` comma-joined."""

    id: str
    entity: str
    entity_id: str
    org_id: str
    spec: str
    key_ids: str
    requested_by: str
    requested_at: datetime
    approved_by: str | None = None
    approved_at: datetime | None = None
    withdrawn_by: str | None = None
    withdrawn_at: datetime | None = None


class KeyChanges(Protocol):
    async def add(self, change: KeyChangeView) -> None: ...

    async def get_for_update(self, change_id: str) -> KeyChangeView | None:
        """The change, held against another approval or withdrawal until the unit ends."""
        ...

    async def mark_approved(self, change_id: str, approver: str, at: datetime) -> None: ...

    async def mark_withdrawn(self, change_id: str, administrator: str, at: datetime) -> None: ...

    async def awaiting(self, requested_after: datetime) -> list[KeyChangeView]:
        """Changes neither approved nor withdrawn, asked for after that moment, oldest first."""
        ...

    async def concerning(self, org_id: str) -> list[KeyChangeView]:
        """The organisation's changes, whatever became of them, newest first."""
        ...


class UnitOfWork(Protocol):
    """One transaction over the broker's stores. Each store a service needs is an
    attribute of the unit of work, typed by its protocol in this module (read-only: the SQL
    unit of work builds each store on its session as a property)."""

    # Read-only, so that an adapter may build its stores as properties.
    @property
    def audit(self) -> AuditLog: ...

    # Timer side
    @property
    def matched_events(self) -> MatchedEvents: ...

    # Front door side: the same queue (one store serves both protocols)
    @property
    def matching_queue(self) -> MatchingQueue: ...

    # Directory writes
    @property
    def directory_rows(self) -> DirectoryRows: ...

    # Recipient side.

    @property
    def inbox(self) -> "InboxStore": ...

    @property
    def notice_records(self) -> "NoticeRecords": ...

    @property
    def recipients(self) -> "RecipientDirectory": ...

    @property
    def webhooks(self) -> "WebhookQueue": ...

    @property
    def mesh(self) -> "MeshQueue": ...

    @property
    def chronologies(self) -> "Chronologies": ...

    @property
    def retention(self) -> "RetentionStore": ...

    @property
    def steps_owed(self) -> "StepsOwed": ...

    @property
    def full_views(self) -> "FullViews": ...

    @property
    def peer_receipts(self) -> "PeerReceiptsOwed": ...

    # Key changes (key_changes)
    @property
    def key_changes(self) -> KeyChanges: ...
    # Follow-ups
    @property
    def data_quality(self) -> "DataQualityLog": ...

    # Plan reminders (services/reminders.py)
    @property
    def plan_reminders(self) -> "PlanReminders": ...
    # The outbox, for services/outbox.py
    @property
    def outbox(self) -> "NoticeOutbox": ...
    # Routing: the stores of routing, sealing and proposals
    @property
    def directory(self) -> "FamilyDirectory": ...

    @property
    def routed_events(self) -> "RoutedEvents": ...

    @property
    def family_locks(self) -> "FamilyLocks": ...

    @property
    def proposals(self) -> "ProposalStore": ...

    # Alerts (services/alerts.py): contacts' channels, and the alerts queued for them
    @property
    def alert_channels(self) -> "AlertChannels": ...

    @property
    def alerts(self) -> "AlertQueue": ...

    # The web inbox (services/web_sign_in.py): sign-in links and sessions
    @property
    def web_sessions(self) -> "WebSessions": ...

    # ... and its passkeys (services/web_passkeys.py)
    @property
    def passkeys(self) -> "Passkeys": ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> Literal[False]: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]


# Recipient side: the inbox (services/inbox.py).


@dataclass(frozen=True)
class InboxEntry:
    """A sealed notice in its recipient's inbox: the header as sent, the ciphertext sealed
    again at rest under its households' data keys, and the broker's signature."""

    notice_id: str
    recipient_id: str
    header: str
    ciphertext: str
    signature: str
    deadline: datetime
    held_until: datetime | None  # a low-severity notice waiting for its daily digest
    delivered_at: datetime  # into this inbox


class InboxStore(Protocol):
    """Recipients' inboxes (broker/adapters/inbox_store.py). A notice is kept once, however
    often it is delivered; listings come oldest first (by arrival, then id)."""

    async def add_new(self, entries: Sequence[InboxEntry]) -> set[str]:
        """Adds each entry whose notice is not there yet (of entries sharing a notice, the
        first); answers the notice ids that went in."""
        ...

    async def get(self, notice_id: str) -> InboxEntry | None: ...

    async def released(self, recipient_id: str, now: datetime) -> list[InboxEntry]:
        """The recipient's notices that are not held, or whose hold ended by ``now``."""
        ...

    async def held_until(self, recipient_id: str, released_at: datetime) -> list[InboxEntry]:
        """The recipient's notices held for the digest released at ``released_at``."""
        ...

    async def released_ids(self, recipient_id: str, now: datetime) -> set[str]:
        """The ids of ``released``'s notices alone: what a live inbox page polls."""
        ...


# Recipient side: the broker's notice records and their receipts (services/receipts.py).


@dataclass(frozen=True)
class NoticeRecordView:
    """The broker's record of one notice, as stored (broker/adapters/db.py NoticeRecord):
    ``body`` and ``rejection_reason`` stay wrapped under the household's data key,
    ``escalate_to`` and ``reroute_to`` are JSON (services/notice_records.py reads them)."""

    notice_id: str
    chain_id: str  # the first notice's id
    event_id: str
    household: str
    recipient_id: str
    recipient_org: str
    notice_type: str
    severity: str
    rule_id: str
    created_at: datetime
    deadline: datetime
    escalate_to: str
    reroute_to: str | None
    body: str
    follows: str | None = None
    level: int = 0
    delivered_at: datetime | None = None
    delivered_via: str | None = None
    viewed_at: datetime | None = None
    acknowledged_at: datetime | None = None
    rejected_at: datetime | None = None
    rejection_reason: str | None = None
    reroute_pending_since: datetime | None = None
    escalated_at: datetime | None = None
    closed_at: datetime | None = None


class NoticeRecords(Protocol):
    """The broker's notice records (broker/adapters/notice_store.py). Each receipt is
    recorded once: a ``mark_*`` answers whether it was the first."""

    async def add(self, records: Sequence[NoticeRecordView]) -> None: ...

    async def get(self, notice_id: str) -> NoticeRecordView | None: ...

    async def of(self, notice_ids: Sequence[str]) -> dict[str, NoticeRecordView]:
        """The records of those notices that have one, by notice id."""
        ...

    async def chain_recipients(self, chain_id: str) -> set[str]:
        """Every recipient a notice of this chain went to."""
        ...

    async def firsts_of_event(self, event_id: str) -> list[NoticeRecordView]:
        """The notices the event itself produced (no escalation or other follow-up of them),
        oldest first, then by notice id."""
        ...

    async def mark_delivered(self, notice_id: str, channel: str, at: datetime) -> bool: ...

    async def mark_viewed(self, notice_id: str, at: datetime) -> bool: ...

    async def mark_acknowledged(self, notice_id: str, at: datetime) -> bool:
        """Acknowledged, unless rejected; closes every open notice of its chain."""
        ...

    async def mark_rejected(self, notice_id: str, at: datetime, wrapped_reason: str) -> bool:
        """Rejected, unless acknowledged, and waiting to be sent on by the router's timer."""
        ...

    # Follow-ups (services/follow_ups.py): escalation and re-routing by the router's timer.
    async def due_for_escalation(
        self, now: datetime, school_lead: timedelta, limit: int
    ) -> list[str]:
        """Open notices past their deadline (a school's first notice ``school_lead`` before
        it) in a chain nobody acknowledged and not yet escalated, oldest deadline first."""
        ...

    async def claim_escalation(self, notice_id: str, now: datetime, school_lead: timedelta) -> bool:
        """Marks the notice escalated at ``now`` if it is still due (as above); False when
        it was acknowledged, rejected, closed or escalated meanwhile."""
        ...

    async def due_for_reroute(self, limit: int) -> list[str]:
        """Rejected notices waiting to be sent on, oldest rejection first."""
        ...

    async def take_reroute(self, notice_id: str) -> NoticeRecordView | None:
        """Clears the notice's wait to be sent on (locked until the unit ends) and answers
        the record as it was; None when it was not waiting (another timer took it)."""
        ...

    # Next steps (services/next_steps.py): the referrer's outcome says when it was accepted.
    async def first_acknowledged(self, chain_id: str) -> datetime | None:
        """When a notice of the chain was first acknowledged; None while none is."""
        ...


# The outbox, for services/outbox.py: a notice's sealed form, kept until Kafka has it.


@dataclass(frozen=True)
class OutboxEntry:
    """A notice recorded but not yet published: its sealed form, as the notices topic takes
    it (a ``SealedNotice`` JSON), and the recipient and time of its record."""

    notice_id: str
    recipient_id: str
    created_at: datetime
    sealed: str


class NoticeOutbox(Protocol):
    """The notices waiting for Kafka (broker/adapters/notice_outbox.py), added with their
    records in the transaction that decided them. Entries come in publication order: oldest
    record first, then by notice id."""

    async def add(self, entries: Sequence[OutboxEntry]) -> None: ...

    async def unpublished(self, created_by: datetime, limit: int) -> list[OutboxEntry]:
        """Up to ``limit`` unpublished notices recorded no later than ``created_by``."""
        ...

    async def unpublished_of(self, notice_ids: Sequence[str]) -> list[OutboxEntry]:
        """Those of these notices that are still unpublished."""
        ...

    async def published(self, notice_ids: Sequence[str]) -> None:
        """These notices are on Kafka: their entries go, and with them their sealed copies
        (kept longer, they would outlive the crypto-shredding of their households). An
        entry already gone is no matter."""
        ...


class RecipientDirectory(Protocol):
    """The directory as the recipient side reads it (broker/adapters/directory.py)."""

    async def contact_for(self, addressee: Addressee) -> str | None:
        """The addressee's contact id, else its organisation's fallback contact's."""
        ...

    async def webhook_url(self, contact_id: str) -> str | None:
        """Where the contact's own system takes its notices pushed, if it has said."""
        ...

    async def organisation_of(self, contact_id: str) -> str | None:
        """The organisation the contact belongs to; None for a contact the directory lacks."""
        ...

    async def front_door_area(self, org_id: str) -> str | None:
        """The area of the organisation if it is a front door; None for any other."""
        ...

    async def organisation_kind(self, org_id: str) -> str | None:
        """The kind of organisation (``OrgKind``); None for one the directory does not know."""
        ...

    async def household_areas(self, household_id: str) -> set[str]:
        """The household's current area and every area it lived in before."""
        ...

    # Follow-ups: whom a follow-up is sealed to, and the hours of an organisation.
    async def contact_record(self, addressee: Addressee) -> "ContactRecord | None":
        """The contact ``contact_for`` names, with its key."""
        ...

    async def organisation(self, org_id: str) -> "OrgRecord | None": ...

    # Delivery: everything a batch needs of the directory, in one read (issue 14).
    async def reach(self, contact_ids: Sequence[str]) -> "dict[str, Reach]":
        """How each contact is reached beyond its inbox; one reached nowhere else (or that
        the directory lacks) may be left out."""
        ...


@dataclass(frozen=True)
class Reach:
    """How the directory says a contact is reached beyond its inbox: a webhook, a MESH
    mailbox, the channels its person is alerted on."""

    webhook: bool = False
    mesh: bool = False
    alert_channels: "tuple[AlertChannelRow, ...]" = ()


# Retry queues: webhooks, alerts and NHS MESH sends are one shape of queue, each over its own
# table (the retry cycle itself, backoff and give-up, is broker/delivery/retry.py).


class RetryItem(Protocol):
    """A queued item's place in its retry cycle, as read: what a claim or a settle checks,
    so that of two workers that read the same item only one moves it."""

    @property
    def sequence(self) -> int: ...

    @property
    def state(self) -> str: ...

    @property
    def attempts(self) -> int: ...

    @property
    def next_attempt_at(self) -> datetime: ...

    @property
    def first_failed_at(self) -> datetime | None: ...


RetryChange = Mapping[str, str | int | datetime | None]
"""Columns of a queued item to set: state, attempts, next_attempt_at, first_failed_at,
finished_at, last_error, and the queue's own (a webhook's last_status, MESH's message_id)."""

QueuedT = TypeVar("QueuedT", contravariant=True)
DueT = TypeVar("DueT", bound=RetryItem)


class RetryQueue(Protocol[QueuedT, DueT]):
    """Items queued once, each due at its time, claimed before each attempt and settled as
    delivered, retried at a time, or given up (broker/adapters/retry_queue.py)."""

    async def enqueue(self, items: Sequence[QueuedT]) -> int:
        """Queues each item not queued before (in the order given); answers how many."""
        ...

    async def due(self, now: datetime, limit: int) -> list[DueT]:
        """The items due by ``now``, soonest first (which ones, each queue says)."""
        ...

    async def next_due(self) -> datetime | None:
        """When the earliest item still to be tried (or tracked) falls due; None if none."""
        ...

    async def claim(self, item: DueT, until: datetime) -> DueT | None:
        """Counts one more attempt and leases the item until ``until``, if it is still as
        read; the item as claimed (to settle later), None when another worker has it."""
        ...

    async def settle(self, item: DueT, change: RetryChange) -> bool:
        """Applies ``change`` if the item is still exactly as ``item`` read it (or claimed
        it); False when another worker has moved it meanwhile."""
        ...


# Recipient side: the webhook queue (services/webhook_dispatch.py).


@dataclass(frozen=True)
class WebhookDue:
    """A recipient's earliest pending delivery, as read (settling it checks nothing moved)."""

    sequence: int
    notice_id: str
    recipient_id: str
    attempts: int
    next_attempt_at: datetime
    first_failed_at: datetime | None
    source: str  # the position the notice was read from
    url: str | None  # the recipient's webhook now, if it still has one
    state: str = "pending"  # a due delivery is always pending


@dataclass(frozen=True)
class WebhookQueued:
    """A notice to push to its recipient's webhook."""

    notice_id: str
    recipient_id: str
    source: str
    at: datetime


class WebhookQueue(RetryQueue[WebhookQueued, WebhookDue], Protocol):
    """Recipients' webhook deliveries (broker/adapters/webhook_queue.py), each recipient's
    in the order queued, pending until delivered or dead. ``due`` answers each recipient's
    earliest pending delivery, when it is due."""

    async def requeue(self, notice_id: str, now: datetime) -> bool:
        """A dead delivery pending again, from its first attempt; False for any other."""
        ...


# Recipient side: NHS MESH, beside the webhook (services/mesh_dispatch.py).


@dataclass(frozen=True)
class MeshDue:
    """A MESH delivery due for a send (``message_id`` None) or a tracking poll, as read."""

    sequence: int
    notice_id: str
    recipient_id: str
    state: str  # pending | sent
    attempts: int
    next_attempt_at: datetime
    first_failed_at: datetime | None
    source: str  # the position the notice was read from
    message_id: str | None  # MESH's id once it accepted the message
    sent_at: datetime | None  # when MESH accepted it
    mailbox: str | None  # the recipient's MESH mailbox now, if it still has one


@dataclass(frozen=True)
class MeshQueued:
    """A notice to send to its recipient's MESH mailbox (if the recipient has one)."""

    notice_id: str
    recipient_id: str
    source: str
    at: datetime


class MeshQueue(RetryQueue[MeshQueued, MeshDue], Protocol):
    """Sends to recipients' MESH mailboxes (broker/adapters/mesh_queue.py): pending until MESH
    accepts them, then sent until tracking says acknowledged or undeliverable. ``enqueue``
    queues only a notice whose recipient has a MESH mailbox; ``due`` answers pending sends and
    sent messages to track."""

    async def requeue(self, notice_id: str, now: datetime) -> bool:
        """A dead send pending again, from its first attempt; False for any other."""
        ...


@dataclass(frozen=True)
class MeshMessage:
    """What is sent: the sealed notice's bytes, to a mailbox, under the notice's id."""

    mailbox: str
    body: bytes
    local_id: str  # the notice id: MESH's local id, the idempotency key of the send
    workflow_id: str
    subject: str  # carries no personal data


@dataclass(frozen=True)
class MeshSent:
    """A send's outcome: MESH's message id when accepted, else the class of error and
    whether trying again may help (MESH unreachable or busy) or not (refused)."""

    message_id: str | None
    error: str | None = None
    transient: bool = True


@dataclass(frozen=True)
class MeshTracking:
    """MESH's tracking of a sent message: its status (accepted, acknowledged, undeliverable,
    error; "unreachable" when MESH did not answer) and, for a failure, MESH's status code
    (never its description, which may quote the message)."""

    status: str
    code: str | None = None
    expired: bool = False


class MeshTransport(Protocol):
    """The MESH API as the dispatcher uses it (broker/adapters/mesh.py). Neither call raises
    for MESH being away or refusing: each answers what happened."""

    async def send(self, message: MeshMessage, retry: bool) -> MeshSent:
        """Sends, once: on a ``retry`` an earlier send under the same local id that MESH
        accepted (its answer lost on the way back) is answered instead of sending again."""
        ...

    async def track(self, message_id: str) -> MeshTracking: ...


# Recipient side: households' chronologies (services/household_access.py, references.py).


@dataclass(frozen=True)
class ChronologyLine:
    """One line of a household's chronology: an event, a notice, or a notice's receipt."""

    at: datetime
    kind: str
    event_id: str
    event_type: str
    source_org: str
    notice_id: str | None = None
    recipient_id: str | None = None
    notice_type: str | None = None
    severity: str | None = None
    rule_id: str | None = None
    facts: dict[str, object] | None = None
    deadline: datetime | None = None


@dataclass(frozen=True)
class ChronologyNotice:
    """A notice in a household's chronology: whose chronology holds it, and to whom."""

    notice_id: str
    household_id: str
    event_id: str
    recipient_id: str | None
    at: datetime


class Chronologies(Protocol):
    """Households' chronologies as the front door reads them (broker/adapters/chronology.py)."""

    async def of_household(self, household_id: str) -> list[ChronologyLine]:
        """Every event and notice for the household, with each notice's receipts and next
        steps, in time order."""
        ...

    async def notices_starting(self, id_start: str) -> list[ChronologyNotice]:
        """The notices, in any household's chronology, whose id starts with ``id_start``."""
        ...

    async def transfer_open_to(self, org_id: str, household_id: str) -> bool:
        """Whether a transfer notice about the household went to the organisation and was
        not rejected by it."""
        ...

    # Follow-ups: a follow-up joins every chronology its first notice is in.
    async def of_notice(self, notice_id: str) -> list[tuple[str, ChronologyLine]]:
        """The notice's lines, each with the household whose chronology holds it."""
        ...

    async def add(self, lines: Sequence[tuple[str, ChronologyLine]]) -> None:
        """Adds each line to the chronology of the household it is paired with."""
        ...

    # Next steps (services/next_steps.py): whom a front door's decision is told to.
    async def source_of_event(self, event_id: str) -> str | None:
        """The agency the event came from, as its chronology lines record it; None for an
        event no chronology holds."""
        ...


# Recipient side: retention (services/retention.py).


@dataclass(frozen=True)
class ExpiredQueueEntry:
    """An event the matching queue held for its front door, removed after its retention."""

    event_id: str
    event_type: str
    front_door: str


class RetentionStore(Protocol):
    """What retention deletes, and what it reads to know what to shred
    (broker/adapters/retention_store.py)."""

    async def identifiers_of(self, household_id: str) -> set[str]:
        """Every identifier an event may have named a member by (``person_identifier``)."""
        ...

    async def purge_household(self, household_id: str) -> dict[str, int]:
        """Deletes the household's chronology, its only-here members' pattern records, the
        queued events matched to it and the events held as proposals about it; answers how
        many of each went (chronology_lines, pattern_records, queued_events, proposals)."""
        ...

    async def unknown_keys_used_by(self, before: datetime) -> list[tuple[str, datetime]]:
        """Each unknown person's key (named "u...") whose newest notice is no later than
        ``before``, with that notice's time."""
        ...

    async def take_expired_queue_entries(
        self, received_by: datetime, limit: int
    ) -> list[ExpiredQueueEntry]:
        """Removes up to ``limit`` waiting queue entries received by ``received_by``, oldest
        first (none another unit of work is removing), and answers them."""
        ...


# Recipient side: the next steps a notice's reader owes (services/steps_owed.py).


@dataclass(frozen=True)
class StepOwed:
    """A next step a notice's first reader owes, and by when (rules/next_steps.py)."""

    notice_id: str
    step: str
    chain_id: str
    due_at: datetime


# Next steps met, told and escalated (services/next_steps.py)
@dataclass(frozen=True)
class StepState:
    """A step owed and what became of it: met (by which recipient, with the front door's
    decision as ``outcome``), waiting to be told to the referrer, escalated."""

    notice_id: str
    step: str
    chain_id: str
    due_at: datetime
    met_at: datetime | None = None
    met_by: str | None = None
    outcome: str | None = None
    tell_pending_since: datetime | None = None
    escalated_at: datetime | None = None


class StepsOwed(Protocol):
    """The next steps owed (broker/adapters/steps_store.py), one per notice and step."""

    async def add(self, steps: Sequence[StepOwed]) -> None: ...

    async def of_chain(self, chain_id: str) -> list[StepOwed]:
        """The steps owed in the chain, soonest due first, then by step."""
        ...

    async def of_chains(self, chain_ids: Sequence[str]) -> dict[str, list[StepState]]:
        """Each chain's steps and what became of them, soonest due first, then by step, read
        at once and unlocked (for a page listing many chains); a chain owing none is absent."""
        ...

    # Next steps met, told and escalated (services/next_steps.py). A step is met once; a
    # decision met waits for the router's timer to tell the referrer; an unmet step past
    # its time, in a chain someone acknowledged, is escalated once.
    async def in_chain(self, chain_id: str, step: str) -> "StepState | None":
        """The chain's step of that kind, locked until the unit ends, so that two records of
        one step are made one after the other."""
        ...

    async def meet(
        self, notice_id: str, step: str, met_by: str, outcome: str | None, at: datetime,
        *, tell: bool,
    ) -> None:  # fmt: skip
        """Marks the step met; with ``tell``, waiting from ``at`` for the referrer to be told."""
        ...

    async def awaiting_telling(self, limit: int) -> list[tuple[str, str]]:
        """(notice id, step) of the steps met whose referrer is yet to be told, oldest first."""
        ...

    async def take_telling(self, notice_id: str, step: str) -> "StepState | None":
        """Clears the step's wait to be told (locked until the unit ends) and answers it as
        it was; None when it was not waiting (another timer took it)."""
        ...

    async def overdue(self, now: datetime, limit: int) -> list[tuple[str, str]]:
        """(notice id, step) of the steps unmet and not escalated whose time is past by
        ``now``, in a chain someone acknowledged (until then the chain's own escalation
        chases it), soonest due first, then by notice id and step."""
        ...

    async def claim_overdue(self, notice_id: str, step: str, now: datetime) -> "StepState | None":
        """Marks the step escalated at ``now`` if it is still overdue (as above) and answers
        it as it was; None when it was met or escalated meanwhile."""
        ...


# Recipient side: the broker's full views of notices (services/reader_views.py).


class FullViews(Protocol):
    """The full view of a notice whose own reader sees less, wrapped under the household's
    data key (broker/adapters/steps_store.py, beside the steps owed: both are kept when a
    notice is sealed)."""

    async def keep(self, notice_id: str, wrapped_body: str) -> None: ...

    async def get(self, notice_id: str) -> str | None:
        """The wrapped full view kept for the notice, if any."""
        ...


# Recipient side: receipts owed to the peer broker a transfer came from
# (services/peer_receipts.py sends them).

PeerReceiptKind = Literal["acknowledged", "rejected", "transfer_in_conference"]


class PeerReceiptsOwed(Protocol):
    async def owe(
        self, notice_id: str, receipt: PeerReceiptKind, at: datetime,
        conference_on: date | None = None,
    ) -> bool:  # fmt: skip
        """Queues the receipt when the notice is about a move a peer transferred here (its
        event is the transfer), once per transfer and kind, kept only if the unit of work
        commits; answers whether it was queued now (False for any other notice)."""
        ...


# Follow-ups: the data-quality report's gaps (broker/adapters/data_quality.py).


class DataQualityLog(Protocol):
    async def record(self, issues: "Sequence[Issue]", at: datetime) -> None:
        """Adds the occurrences, kept only if the unit of work commits."""
        ...

    async def report(
        self, front_door: str | None = None, since: datetime | None = None,
        *, no_front_door: bool = False,
    ) -> "list[ReportLine]":  # fmt: skip
        """Each gap once per front door, organisation and role, with how often and when it
        was seen (at or after ``since``), the latest seen first; for one front door's area,
        or the whole partnership; with ``no_front_door``, only the lines no front door's
        report shows (nobody could be told: only the administrators see them)."""
        ...


# Plan reminders: a step-down plan's review reminder to its lead (services/reminders.py).


@dataclass(frozen=True)
class PlanReminder:
    """A review reminder of the step-down notice ``notice_id``: due at ``due_at``, claimed
    by a timer at ``sent_at``, sent as ``reminder_id`` (None when nobody could be told)."""

    notice_id: str
    due_at: datetime
    sent_at: datetime | None = None
    reminder_id: str | None = None


class PlanReminders(Protocol):
    """One reminder per step-down notice (broker/adapters/plan_reminders.py), claimed once."""

    async def schedule(self, notice_id: str, due_at: datetime) -> None: ...

    async def due(self, now: datetime, limit: int) -> list[str]:
        """The notices whose reminder is due by ``now`` and not yet claimed, soonest due
        first, then by notice id."""
        ...

    async def claim(self, notice_id: str, now: datetime) -> bool:
        """Marks the reminder sent at ``now`` unless it was; False when another timer
        claimed it, or there is none."""
        ...

    async def sent_as(self, notice_id: str, reminder_id: str) -> None:
        """Records the notice the reminder went out as."""
        ...

    async def get(self, notice_id: str) -> PlanReminder | None: ...


# Routing (services/routing.py, sealing.py, proposals.py): the directory as routing reads
# and writes it, a group of events' state read up front and written at its end, and the
# proposals held for a front door (directory changes: services/directory_changes.py).


@dataclass(frozen=True)
class FamiliesNamed:
    """The households and the people of the families a group of events names."""

    households: frozenset[str] = frozenset()
    people: frozenset[str] = frozenset()


class FamilyLocks(Protocol):
    """Makes routing's decisions about one family wait for each other across routers.

    A family's events reach different routers (one agency's events about one person share a
    partition; another agency's, or a sibling's, need not), and each decision counts what has
    committed: two routers deciding at once for one family would each miss the other's event,
    and a child's third attendance would count as a second, with no alarm, for good."""

    async def hold(self, families: FamiliesNamed) -> None:
        """Until this unit of work ends, no other unit of work holds any of these households
        or people; waits for one that does. Called before the families' history is read."""
        ...


class FamilyDirectory(Protocol):
    """The directory as routing reads it (a family, its organisations' contacts, keys and
    calendars) and the few writes an event may make to it. The SQL adapter answers from the
    router's projection while the transaction has not written to the directory."""

    async def family_for(self, named: "Sequence[PersonRef]", source_org: str) -> "FamilyContext":
        """The family of the event's subject (the first person named), with the views of
        everyone in it; the people the directory does not know are left unmatched."""
        ...

    async def families_of(
        self, named: "Sequence[tuple[Sequence[PersonRef], str]]"
    ) -> "FamiliesNamed":
        """The households and the people of the families these events name (each event's
        people, with its source organisation), as the directory knows them now."""
        ...

    async def read_ahead(self, families: "FamiliesNamed") -> set[str]:
        """A hint before a group of events is routed: these families (``families_of`` the
        events' people) are about to be resolved in this unit of work, and what they need may
        be read for all of them at once. Answers the people whose pattern records the group
        may read at once too; may do nothing, and answer nobody."""
        ...

    async def match(self, person: "PersonRef", source_org: str) -> str | None:
        """The directory's person id of someone an event names, if known."""
        ...

    async def organisations(self) -> "Organisations": ...

    async def organisation(self, org_id: str) -> "OrgRecord | None": ...

    async def contact_for(self, addressee: Addressee) -> "ContactRecord | None":
        """The addressee's contact, else its organisation's stand-in (not out of hours)."""
        ...

    async def webhook_url(self, contact_id: str) -> str | None: ...

    async def signing_key(self, org_id: str, key_id: str, at: datetime) -> "Ed25519PublicKey":
        """The organisation's key with this id, valid at ``at``; UnknownSigningKey if none."""
        ...

    async def check_may_publish(self, org_id: str, event_type: "EventType") -> None:
        """EventNotPermitted when organisations of this kind may not publish it."""
        ...

    async def school_calendar(self, org_id: str) -> "SchoolCalendar": ...

    async def record_move(
        self, households: Iterable[str], to_area: str | None, moved_on: "date"
    ) -> list[str]:
        """The households move; answers those whose area changed."""
        ...

    async def record_step_down(self, event: "ServiceWithdrawal", family: "Family") -> list[str]:
        """The step-down's plans, one per child concerned; answers their ids."""
        ...

    async def record_listed_plans(self, event: "FamilyMovingArea", family: "Family") -> list[str]:
        """The plans a move lists that the directory did not have; answers their ids."""
        ...


@dataclass
class QueuedForMatching:
    """An event in the matching queue as a group of events reads and changes it (mutable:
    ``services/matching.left_queue`` moves it on; the store writes what changed)."""

    event_id: str
    front_door: str
    event_type: str
    received_at: datetime
    sealed_event: str
    status: str
    people: str | None = None
    matched_at: datetime | None = None


class RoutedEvents(Protocol):
    """A group of events as one unit of work: what the group reads before any of its events
    is decided, and what it writes after all of them (services/routing_group.py)."""

    async def load(self, event_ids: Sequence[str]) -> "GroupState":
        """The group's state: which events were routed before (and from which Kafka record),
        which the gateway accepted, their matching-queue entries and pattern records."""
        ...

    async def routed_from(self, event_ids: Sequence[str]) -> dict[str, str | None]:
        """The events routed before, each with the Kafka record it was routed from."""
        ...

    async def pattern_rows(self, people: Sequence[str]) -> "list[PatternRow]":
        """The pattern records (ED attendances, crises, appointments) of these people."""
        ...

    def writes_deferred(self) -> AbstractContextManager[None]:
        """While open, what the unit of work has added goes in at ``write``, not before."""
        ...

    async def write(self, state: "GroupState") -> None:
        """Everything the group's events recorded but the audit entries. AlreadyRecorded
        (here or at the commit) when another transaction routed one of its events first."""
        ...

    async def fresh_receipts(self, receipts: Sequence[tuple[str, datetime]]) -> set[str]:
        """Records the events' receipts nobody recorded yet (the gateway may have); answers
        their ids. Takes the audit chain's lock."""
        ...

    async def append_audit(self, state: "GroupState") -> None:
        """Appends the state's audit entries kept so far, in order, and forgets them."""
        ...


@dataclass(frozen=True)
class HeldProposal:
    """A directory change an event proposed, held for the family's front door to answer."""

    event_id: str
    kind: str
    source_org: str
    front_door: str
    to_area: str | None
    named_orgs: frozenset[str]
    sealed_event: str
    status: str
    proposed_at: datetime
    decided_at: datetime | None = None
    decided_by: str | None = None


class ProposalStore(Protocol):
    async def hold(self, proposal: HeldProposal) -> None: ...

    async def get_for_update(self, event_id: str) -> HeldProposal | None:
        """The proposal, locked until the unit of work ends (one timer applies it)."""
        ...

    async def mark_decided(self, event_id: str, status: str, actor: str, at: datetime) -> None:
        """The front door's answer (or the timer's applying it) recorded on the proposal."""
        ...

    async def with_status(
        self, status: str, *, front_door: str | None = None, limit: int | None = None
    ) -> list[HeldProposal]:
        """The proposals in this status (for this front door), oldest first: by when they
        were decided once decided, else by when they were proposed."""
        ...


# Alerts that carry no content (services/alerts.py, broker/adapters/alert_store.py).


@dataclass(frozen=True)
class AlertChannelRow:
    """One of a contact's channels: an email address or a mobile number (E.164)."""

    id: int
    contact_id: str
    kind: str  # rules.alerts.ChannelKind
    address: str


class AlertChannels(Protocol):
    """Where each contact's person is alerted (the directory's ``alert_channels``)."""

    async def of_contacts(self, contact_ids: Sequence[str]) -> list[AlertChannelRow]:
        """Every channel of these contacts, by contact then id."""
        ...

    async def replace(self, contact_id: str, channels: Sequence[tuple[str, str]]) -> bool:
        """Makes these (kind, address) the contact's only channels, keeping the ones it
        already had (and their ids); True when that changed any."""
        ...


@dataclass(frozen=True)
class AlertQueued:
    """An alert to send to one channel, at ``due_at`` (a reminder's time, or at once)."""

    notice_id: str
    trigger: str  # rules.alerts.Trigger
    channel_id: int
    contact_id: str
    deadline: datetime
    due_at: datetime
    enqueued_at: datetime

    @property
    def key(self) -> str:
        return f"{self.notice_id}|{self.trigger}|{self.channel_id}"


@dataclass(frozen=True)
class AlertDue:
    """A pending alert that is due, with what its text and its sending need, as read now:
    the channel's address (None: the channel was removed), the recipient's organisation and
    role, and whether the notice has been answered (acknowledged or rejected)."""

    sequence: int
    notice_id: str
    trigger: str
    contact_id: str
    channel_kind: str | None
    address: str | None
    org_name: str
    role: str
    session_start: str | None
    deadline: datetime
    attempts: int
    next_attempt_at: datetime
    first_failed_at: datetime | None
    answered: bool
    state: str = "pending"  # a due alert is always pending


@dataclass(frozen=True)
class AlertFailures:
    """A contact whose alerts to one kind of channel keep failing (for the front door or
    the administrator to put right): no address, only the kind and the counts."""

    contact_id: str
    channel_kind: str
    dead: int
    retrying: int
    last_error: str | None
    last_failed_at: datetime | None


class AlertQueue(RetryQueue[AlertQueued, AlertDue], Protocol):
    """Alerts queued for channels (``alert_deliveries``), pending until sent, dead or
    cancelled; each (notice, trigger, channel) once. ``due`` answers every pending alert due,
    earliest first."""

    async def failing(self, since: datetime) -> list[AlertFailures]:
        """Each (contact, channel kind) with an alert that died, or is being retried, since
        ``since``; most dead first."""
        ...


@dataclass(frozen=True)
class AlertAttempt:
    """One attempt to send an alert: sent, or the class of its failure (never a message,
    which may name the address) and whether trying again may help."""

    sent: bool
    error: str | None = None
    transient: bool = True


class AlertSender(Protocol):
    """One kind of alert channel (``SmtpAlertSender``, ``NotifySmsSender``): sends ``text``
    to ``address``; ``reference`` is opaque (the alert's own, for the provider's records)."""

    async def send(self, address: str, subject: str, text: str, reference: str) -> AlertAttempt: ...


# The web inbox's sign-in (services/web_sign_in.py): one-time links and server-side sessions.


@dataclass(frozen=True)
class SignInLink:
    token_hash: str  # sha256 of the token in the link, hex
    contact_id: str
    issued_by: str
    issued_at: datetime


@dataclass(frozen=True)
class WebSessionRecord:
    id_hash: str  # sha256 of the session id in the cookie, hex
    contact_id: str
    csrf_token: str
    signed_in_with: str  # "link", "invitation" (to enrol a passkey only) or "passkey"
    started_at: datetime
    last_seen_at: datetime
    ended_at: datetime | None = None
    credential_id: str | None = None  # the passkey that opened it (None: a link, or unrecorded)


class WebSessions(Protocol):
    """Links and sessions, each changed by one conditional write: of two requests racing with
    one link, one signs in; a session past its limits is never brought back by a touch."""

    async def contact_exists(self, contact_id: str) -> bool: ...

    async def add_link(self, link: SignInLink) -> None: ...

    async def use_link(self, token_hash: str, issued_after: datetime, now: datetime) -> str | None:
        """Marks the link used if it is unused and was issued after ``issued_after``;
        answers its contact then, None otherwise (unknown, used or too old)."""
        ...

    async def start(self, session: WebSessionRecord) -> None: ...

    async def touch(
        self, id_hash: str, now: datetime, seen_after: datetime, started_after: datetime
    ) -> WebSessionRecord | None:
        """The session, its ``last_seen_at`` moved to ``now``, if it has not ended, was seen
        after ``seen_after`` and started after ``started_after``; None otherwise."""
        ...

    async def get(self, id_hash: str) -> WebSessionRecord | None:
        """The session as stored, its idle clock left alone (a live stream asks, not a
        person)."""
        ...

    async def end(self, id_hash: str, now: datetime) -> bool:
        """Ends the session; False if it had already ended or never was."""
        ...

    async def end_all_of(self, contact_id: str, now: datetime) -> int:
        """Ends the contact's live sessions and spends its unused links; answers how many
        sessions it ended."""
        ...

    async def end_sessions_opened_by(self, contact_id: str, credential_id: str,
                                     now: datetime) -> int:  # fmt: skip
        """Ends the live sessions a removed passkey of the contact opened, and the contact's
        passkey sessions that record no passkey (opened before sessions recorded it: any of
        them may be the removed one's); links' sessions and the others' passkey sessions run
        on. Answers how many it ended."""
        ...


# The web inbox's passkeys (services/web_passkeys.py): people, their passkeys, and the
# challenges of the ceremonies in flight.


@dataclass(frozen=True)
class Ceremony:
    challenge: str  # base64url; the WebAuthn challenge itself (public, and used once)
    kind: str  # rules.passkeys.CeremonyKind
    contact_id: str | None  # registration and recovery: whose key is being wrapped
    person_id: str | None  # registration and recovery: the person the passkey will be
    issued_at: datetime


@dataclass(frozen=True)
class PasskeyPerson:
    """A person at a contact (a school's key adult): an id, and the contact's key wrapped
    under their printed recovery key, found again by ``recovery_lookup`` (its hash, hex)."""

    person_id: str
    contact_id: str
    recovery_lookup: str
    recovery_wrapped_key: str  # schemas.web_passkeys.WrappedKey as JSON
    enrolled_at: datetime


@dataclass(frozen=True)
class Passkey:
    credential_id: str  # base64url
    person_id: str
    contact_id: str
    public_key: str  # base64url, COSE
    sign_count: int
    wrapped_key: str  # the contact's key wrapped under this passkey's PRF output, as JSON
    created_at: datetime
    last_used_at: datetime | None = None
    aaguid: str | None = None  # the kind of authenticator, as it reported at enrolment


class Passkeys(Protocol):
    """Each change that decides something is one conditional write: of two answers racing
    with one challenge, one is verified; a counter never goes back."""

    async def add_ceremony(self, ceremony: Ceremony) -> None: ...

    async def use_ceremony(
        self, challenge: str, kind: str, issued_after: datetime, now: datetime
    ) -> Ceremony | None:
        """Marks the challenge used if it is of ``kind``, unused and issued after
        ``issued_after`` (and not after ``now``); answers it then, None otherwise."""
        ...

    async def forget_ceremonies(self, issued_before: datetime) -> int:
        """Removes the challenges issued before then (used or lapsed: of no more use)."""
        ...

    async def contact_has_passkeys(self, contact_id: str) -> bool: ...

    async def add_person(self, person: PasskeyPerson) -> None: ...

    async def person_by_recovery(self, recovery_lookup: str) -> PasskeyPerson | None: ...

    async def renew_recovery(
        self, person_id: str, replaces: str, recovery_lookup: str, recovery_wrapped_key: str
    ) -> bool:
        """The person's recovery key replaced, if it is still the one ``replaces`` finds (a
        lookup's hash, as ``recovery_lookup``): the one before finds nobody any more. False,
        and nothing changed, when the person's key is another by now."""
        ...

    async def holds_recovery(self, person_id: str, recovery_lookup: str) -> bool:
        """Whether the person's recovery key is still the one ``recovery_lookup`` finds (a
        lookup's hash), their record held until the unit of work ends: a replacement made
        meanwhile waits for it, and then sees what it added."""
        ...

    async def add_passkey(self, passkey: Passkey) -> None: ...

    async def passkey(self, credential_id: str) -> Passkey | None: ...

    async def count_use(
        self, credential_id: str, stored: int, reported: int, now: datetime
    ) -> bool:
        """Moves the counter from ``stored`` to ``reported`` (and ``last_used_at`` to now)
        if it still reads ``stored``; False if another sign-in moved it first."""
        ...

    async def remove_passkeys(self, person_id: str, keep: str) -> list[str]:
        """Removes the person's passkeys but ``keep``; answers the credential ids that went
        (one another transaction added meanwhile among them)."""
        ...

    async def passkeys_of(self, contact_id: str) -> list[Passkey]:
        """The contact's passkeys, every person's, oldest enrolled first (then by id)."""
        ...

    async def remove_passkey(self, credential_id: str) -> bool:
        """Removes the passkey (it signs in no more); False if there was none."""
        ...

    async def hold(self, credential_ids: Sequence[str]) -> set[str]:
        """Those of these passkeys still there, held (locked) until the unit of work ends,
        in credential order so that two units holding the same pair never wait on each
        other crosswise."""
        ...
