"""In-memory fakes of the ports in broker/ports.py, for services' tests that need no
database. Each fake passes the same contract tests as its SQL adapter (tests/contracts)."""

import contextlib
import copy
import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from copy import deepcopy
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from types import TracebackType
from typing import Any, Generic, Literal, Self

from broker.adapters.data_quality import Gap, Issue, ReportLine
from broker.adapters.directory import (
    ContactRecord,
    FamilyContext,
    Organisations,
    OrgRecord,
    SigningKeyRecord,
    contact_line,
)
from broker.adapters.directory_rows import shape_of
from broker.errors import (
    AlreadyRecorded,
    DataKeyShredded,
    DataKeyUnusable,
    EventNotPermitted,
    UnknownSigningKey,
)
from broker.ports import (
    AlertChannelRow,
    AlertDue,
    AlertFailures,
    AlertQueued,
    AuditHead,
    AuditRecord,
    Ceremony,
    ChronologyLine,
    ChronologyNotice,
    DirectoryChangeEntry,
    DirectoryTable,
    DueT,
    ExpiredQueueEntry,
    FamiliesNamed,
    HeldProposal,
    InboxEntry,
    KeyChangeView,
    MeshDue,
    MeshQueued,
    Message,
    NoticeRecordView,
    OutboxEntry,
    ParkedEvent,
    Passkey,
    PasskeyPerson,
    PeerReceiptKind,
    PlanReminder,
    QueuedEvent,
    QueuedForMatching,
    Reach,
    RetryChange,
    SignInLink,
    StepOwed,
    StepState,
    TableRow,
    TableShape,
    WebhookDue,
    WebhookQueued,
    WebSessionRecord,
)
from broker.rules.authorisation import may_publish
from broker.rules.deadlines import SchoolCalendar, nation_of
from broker.rules.fallback import FALLBACK_ROLES
from broker.rules.family import Addressee, ContactRole, Family, OrgKind
from broker.rules.move import listed_plans_prefix
from broker.rules.step_down import stepped_down_children
from broker.rules.unmatched import unmatched_ids
from broker.services.routing_group import GroupState, PatternRow
from producers import crypto
from schemas.events import EventType, FamilyMovingArea, PersonRef, ServiceWithdrawal
from schemas.notices import NoticeType, PersonView


class FakeAuditLog:
    def __init__(self) -> None:
        self.committed: list[tuple[AuditRecord, datetime]] = []
        self.pending: list[tuple[AuditRecord, datetime]] = []
        self._kept: list[tuple[datetime, AuditRecord]] | None = None

    async def append(self, record: AuditRecord, at: datetime) -> None:
        await self.append_many([record], at)

    async def append_many(self, records: Sequence[AuditRecord], at: datetime) -> None:
        if self._kept is not None:
            self._kept += [(at, record) for record in records]
        else:
            self.pending += [(record, at) for record in records]

    @contextlib.contextmanager
    def kept_in(self, entries: list[tuple[datetime, AuditRecord]]) -> Iterator[None]:
        self._kept = entries
        try:
            yield
        finally:
            self._kept = None

    async def entries_for(self, subject_ref: str) -> list[AuditRecord]:
        return [r for r, _ in self.committed + self.pending if r.subject_ref == subject_ref]

    async def head(self) -> AuditHead | None:
        if not self.committed:
            return None
        _, at = self.committed[-1]
        # Not the SQL log's keyed chain: a stand-in hash that moves with every entry.
        chained = hashlib.sha256(repr(self.committed).encode()).hexdigest()
        return AuditHead(len(self.committed), chained, at)


# Recipient side.


class FakeDataKeys:
    """Data keys in memory: what a key wraps opens only under that key and context, and is
    gone once any household it names ("a+b") is shredded. Not encryption: a test double."""

    def __init__(self) -> None:
        self.shredded: set[str] = set()

    def wrap(self, household: str, data: bytes, context: bytes) -> bytes:
        if any(h in self.shredded for h in household.split("+")):
            self.shredded -= set(household.split("+"))  # a new key after a shred
        return b"%s|%s|%s" % (household.encode(), context, data)

    def unwrap(self, household: str, stored: bytes, context: bytes) -> bytes:
        if any(h in self.shredded for h in household.split("+")):
            raise DataKeyShredded(household)
        prefix = b"%s|%s|" % (household.encode(), context)
        if not stored.startswith(prefix):
            raise DataKeyUnusable("not wrapped under this key and context")
        return stored[len(prefix) :]

    def shred(self, household: str) -> bool:
        self.shredded.add(household)
        return True

    def is_shredded(self, household: str) -> bool:
        return household in self.shredded


class FakeInboxStore:
    def __init__(self) -> None:
        self.committed: dict[str, InboxEntry] = {}
        self.pending: dict[str, InboxEntry] = {}

    async def add_new(self, entries: Sequence[InboxEntry]) -> set[str]:
        new = set()
        for entry in entries:
            if await self.get(entry.notice_id) is None:
                self.pending[entry.notice_id] = entry
                new.add(entry.notice_id)
        return new

    async def get(self, notice_id: str) -> InboxEntry | None:
        return self.pending.get(notice_id) or self.committed.get(notice_id)

    async def released(self, recipient_id: str, now: datetime) -> list[InboxEntry]:
        return self._listed(recipient_id, lambda held: held is None or held <= now)

    async def held_until(self, recipient_id: str, released_at: datetime) -> list[InboxEntry]:
        return self._listed(recipient_id, lambda held: held == released_at)

    async def released_ids(self, recipient_id: str, now: datetime) -> set[str]:
        return {entry.notice_id for entry in await self.released(recipient_id, now)}

    def _listed(
        self, recipient_id: str, which: Callable[[datetime | None], bool]
    ) -> list[InboxEntry]:
        found = [e for e in (self.committed | self.pending).values()
                 if e.recipient_id == recipient_id and which(e.held_until)]  # fmt: skip
        return sorted(found, key=lambda e: (e.delivered_at, e.notice_id))

    def end(self, committed: bool) -> None:
        if committed:
            self.committed |= self.pending
        self.pending = {}


class FakeNoticeRecords:
    def __init__(self) -> None:
        self.committed: dict[str, NoticeRecordView] = {}
        self.pending: dict[str, NoticeRecordView] = {}

    async def add(self, records: Sequence[NoticeRecordView]) -> None:
        self.pending |= {record.notice_id: record for record in records}

    async def get(self, notice_id: str) -> NoticeRecordView | None:
        return self._all().get(notice_id)

    async def of(self, notice_ids: Sequence[str]) -> dict[str, NoticeRecordView]:
        every = self._all()
        return {i: every[i] for i in notice_ids if i in every}

    async def chain_recipients(self, chain_id: str) -> set[str]:
        return {r.recipient_id for r in self._all().values() if r.chain_id == chain_id}

    async def firsts_of_event(self, event_id: str) -> list[NoticeRecordView]:
        firsts = [r for r in self._all().values() if r.event_id == event_id and not r.follows]
        return sorted(firsts, key=lambda r: (r.created_at, r.notice_id))

    async def mark_delivered(self, notice_id: str, channel: str, at: datetime) -> bool:
        return self._first(notice_id, lambda r: r.delivered_at is None,
                           delivered_at=at, delivered_via=channel)  # fmt: skip

    async def mark_viewed(self, notice_id: str, at: datetime) -> bool:
        return self._first(notice_id, lambda r: r.viewed_at is None, viewed_at=at)

    async def mark_acknowledged(self, notice_id: str, at: datetime) -> bool:
        if not self._first(notice_id, _unsettled, acknowledged_at=at):
            return False
        chain = self._all()[notice_id].chain_id
        for record in list(self._all().values()):
            if record.chain_id == chain and record.closed_at is None:
                self.pending[record.notice_id] = replace(record, closed_at=at)
        return True

    async def mark_rejected(self, notice_id: str, at: datetime, wrapped_reason: str) -> bool:
        return self._first(notice_id, _unsettled, rejected_at=at,
                           rejection_reason=wrapped_reason, reroute_pending_since=at)  # fmt: skip

    # Follow-ups
    async def due_for_escalation(
        self, now: datetime, school_lead: timedelta, limit: int
    ) -> list[str]:
        due = [r for r in self._all().values() if self._escalable(r, now, school_lead)]
        return [r.notice_id for r in sorted(due, key=lambda r: (r.deadline, r.notice_id))][:limit]

    async def claim_escalation(self, notice_id: str, now: datetime, school_lead: timedelta) -> bool:
        return self._first(notice_id, lambda r: self._escalable(r, now, school_lead),
                           escalated_at=now)  # fmt: skip

    async def due_for_reroute(self, limit: int) -> list[str]:
        waiting = [r for r in self._all().values() if r.reroute_pending_since is not None]
        ordered = sorted(waiting, key=lambda r: (r.reroute_pending_since, r.notice_id))
        return [r.notice_id for r in ordered][:limit]

    async def take_reroute(self, notice_id: str) -> NoticeRecordView | None:
        record = self._all().get(notice_id)
        if record is None or record.reroute_pending_since is None:
            return None
        self.pending[notice_id] = replace(record, reroute_pending_since=None)
        return record

    # Next steps
    async def first_acknowledged(self, chain_id: str) -> datetime | None:
        times = [r.acknowledged_at for r in self._all().values()
                 if r.chain_id == chain_id and r.acknowledged_at is not None]  # fmt: skip
        return min(times, default=None)

    def _escalable(self, record: NoticeRecordView, now: datetime, school_lead: timedelta) -> bool:
        school = record.notice_type == NoticeType.SCHOOL_SUPPORT.value and record.level == 0
        past_due = record.deadline <= now or (school and record.deadline <= now + school_lead)
        acknowledged = any(r.chain_id == record.chain_id and r.acknowledged_at is not None
                           for r in self._all().values())  # fmt: skip
        open_ = not (record.escalated_at or record.rejected_at or record.closed_at)
        return open_ and past_due and not acknowledged

    def _first(
        self, notice_id: str, unset: Callable[[NoticeRecordView], bool], **values: Any
    ) -> bool:
        record = self._all().get(notice_id)
        if record is None or not unset(record):
            return False
        self.pending[notice_id] = replace(record, **values)
        return True

    def _all(self) -> dict[str, NoticeRecordView]:
        return self.committed | self.pending

    def end(self, committed: bool) -> None:
        if committed:
            self.committed |= self.pending
        self.pending = {}


def _unsettled(record: NoticeRecordView) -> bool:
    return record.acknowledged_at is None and record.rejected_at is None


# The outbox, for services/outbox.py


class FakeNoticeOutbox:
    """The notices waiting for Kafka: what a unit of work adds or takes out is kept only if
    it commits."""

    def __init__(self) -> None:
        self.committed: dict[str, OutboxEntry] = {}
        self.pending: dict[str, OutboxEntry | None] = {}  # None: taken out

    async def add(self, entries: Sequence[OutboxEntry]) -> None:
        self.pending |= {e.notice_id: e for e in entries}

    async def unpublished(self, created_by: datetime, limit: int) -> list[OutboxEntry]:
        return self._entries(lambda e: e.created_at <= created_by)[:limit]

    async def unpublished_of(self, notice_ids: Sequence[str]) -> list[OutboxEntry]:
        chosen = set(notice_ids)
        return self._entries(lambda e: e.notice_id in chosen)

    async def published(self, notice_ids: Sequence[str]) -> None:
        self.pending |= dict.fromkeys(notice_ids)

    def end(self, committed: bool) -> None:
        if committed:
            merged = self.committed | self.pending
            self.committed = {i: e for i, e in merged.items() if e is not None}
        self.pending = {}

    def _entries(self, which: Callable[[OutboxEntry], bool]) -> list[OutboxEntry]:
        every = {i: e for i, e in (self.committed | self.pending).items() if e is not None}
        found = [e for e in every.values() if which(e)]
        return sorted(found, key=lambda e: (e.created_at, e.notice_id))


class FakeRecipientDirectory:
    """Contacts by (organisation, role); an organisation's safeguarding lead stands in for a
    role it has no contact for (but never for the emergency duty team), as in the directory."""

    def __init__(self, contacts: dict[Addressee, str] | None = None) -> None:
        self.contacts = dict(contacts or {})
        self.webhooks: dict[str, str] = {}  # contact id -> its webhook's URL
        self.front_doors: dict[str, str] = {}  # front door's org id -> its area
        self.areas: dict[str, set[str]] = {}  # household id -> every area it lived in
        self.kinds: dict[str, str] = {}  # org id -> its kind (OrgKind)
        # Follow-ups
        self.records: dict[str, ContactRecord] = {}  # contact id -> its record, with its key
        self.organisations: dict[str, OrgRecord] = {}
        # Delivery's reach: the unit of work's MESH queue (its mailboxes) and alert channels.
        self.mesh: InMemoryMeshQueue | None = None
        self.alert_channels: FakeAlertChannels | None = None

    async def contact_for(self, addressee: Addressee) -> str | None:
        if found := self.contacts.get(addressee):
            return found
        if addressee.role is ContactRole.EMERGENCY_DUTY:
            return None
        return self.contacts.get(Addressee(addressee.org_id, ContactRole.SAFEGUARDING_LEAD))

    async def webhook_url(self, contact_id: str) -> str | None:
        return self.webhooks.get(contact_id)

    async def organisation_of(self, contact_id: str) -> str | None:
        return next((a.org_id for a, c in self.contacts.items() if c == contact_id), None)

    async def front_door_area(self, org_id: str) -> str | None:
        return self.front_doors.get(org_id)

    async def reach(self, contact_ids: Sequence[str]) -> dict[str, Reach]:
        channels = await self.alert_channels.of_contacts(contact_ids) if self.alert_channels else []
        return {c: Reach(c in self.webhooks,
                         self.mesh is not None and self.mesh._mailbox(c) is not None,
                         tuple(r for r in channels if r.contact_id == c))
                for c in set(contact_ids)}  # fmt: skip

    async def household_areas(self, household_id: str) -> set[str]:
        return set(self.areas.get(household_id, set()))

    async def organisation_kind(self, org_id: str) -> str | None:
        if org_id in self.front_doors:
            return "front_door"
        return self.kinds.get(org_id)

    # Follow-ups
    async def contact_record(self, addressee: Addressee) -> ContactRecord | None:
        contact_id = await self.contact_for(addressee)
        return self.records.get(contact_id) if contact_id else None

    async def organisation(self, org_id: str) -> OrgRecord | None:
        return self.organisations.get(org_id)


class FakeChronologies:
    """Households' chronologies as given: lines and notices by household, and the open
    transfers as (front door, household) pairs. Read-only, as the port is."""

    def __init__(self) -> None:
        self.lines: dict[str, list[ChronologyLine]] = {}
        self.notices: list[ChronologyNotice] = []
        self.transfers: set[tuple[str, str]] = set()
        self.pending: list[tuple[str, ChronologyLine]] = []

    async def of_household(self, household_id: str) -> list[ChronologyLine]:
        return sorted(self.lines.get(household_id, []), key=lambda line: line.at)

    async def notices_starting(self, id_start: str) -> list[ChronologyNotice]:
        return [n for n in self.notices if n.notice_id.startswith(id_start)]

    async def transfer_open_to(self, org_id: str, household_id: str) -> bool:
        return (org_id, household_id) in self.transfers

    # Follow-ups: lines added are kept only if the unit of work commits.
    async def of_notice(self, notice_id: str) -> list[tuple[str, ChronologyLine]]:
        every = [(h, line) for h, lines in self.lines.items() for line in lines]
        return [(h, line) for h, line in every + self.pending if line.notice_id == notice_id]

    async def add(self, lines: Sequence[tuple[str, ChronologyLine]]) -> None:
        self.pending += lines

    # Next steps
    async def source_of_event(self, event_id: str) -> str | None:
        every = [line for lines in self.lines.values() for line in lines]
        return next((line.source_org for line in every if line.event_id == event_id), None)

    def end(self, committed: bool) -> None:
        for household, line in self.pending if committed else []:
            self.lines.setdefault(household, []).append(line)
        self.pending = []


class InMemoryRetryRows(Generic[DueT]):
    """What every in-memory retry queue keeps as its SQL table does: rows by sequence, those a
    unit of work wrote visible to it until it commits; claimed and settled only as read
    (``retry_queue.SqlRetryRows``). A queue adds its queuing and its reading of due rows."""

    def __init__(self) -> None:
        self.committed: dict[int, dict[str, Any]] = {}
        self.pending: dict[int, dict[str, Any]] = {}

    async def claim(self, item: DueT, until: datetime) -> DueT | None:
        if not await self.settle(item, {"attempts": item.attempts + 1, "next_attempt_at": until}):
            return None
        return replace(item, attempts=item.attempts + 1, next_attempt_at=until)  # type: ignore[type-var]

    async def settle(self, item: DueT, change: RetryChange) -> bool:
        row = self._all().get(item.sequence)
        seen = (item.state, item.attempts, item.next_attempt_at)
        if row is None or (row["state"], row["attempts"], row["next_attempt_at"]) != seen:
            return False
        self.pending[item.sequence] = row | dict(change)
        return True

    open_states: tuple[str, ...] = ("pending",)

    async def next_due(self) -> datetime | None:
        rows = self._all().values()
        return min((r["next_attempt_at"] for r in rows if r["state"] in self.open_states),
                   default=None)  # fmt: skip

    def _add(self, row: dict[str, Any]) -> None:
        """A new row, pending and not yet tried, under the next sequence."""
        retry = {"state": "pending", "attempts": 0, "first_failed_at": None, "last_error": None}
        self.pending[len(self._all()) + 1] = retry | row

    def _revive(self, found: Callable[[dict[str, Any]], bool], revived: dict[str, Any]) -> bool:
        """The dead row ``found`` picks pending again, changed by ``revived``."""
        for sequence, row in self._all().items():
            if found(row) and row["state"] == "dead":
                self.pending[sequence] = row | revived
                return True
        return False

    def _all(self) -> dict[int, dict[str, Any]]:
        return self.committed | self.pending

    def end(self, committed: bool) -> None:
        if committed:
            self.committed |= self.pending
        self.pending = {}


class InMemoryMeshQueue(InMemoryRetryRows[MeshDue]):
    """MESH sends as the SQL queue keeps them. A recipient's mailbox is its contact row's
    ``mesh_mailbox`` in ``directory``, or one a test puts in ``mailboxes`` (contact id ->
    MESH mailbox id)."""

    open_states = ("pending", "sent")

    def __init__(self, directory: "FakeDirectoryRows") -> None:
        super().__init__()
        self.directory = directory
        self.mailboxes: dict[str, str] = {}

    async def enqueue(self, deliveries: Sequence[MeshQueued]) -> int:
        queued, added = {row["notice_id"] for row in self._all().values()}, 0
        for d in deliveries:
            if d.notice_id in queued or self._mailbox(d.recipient_id) is None:
                continue
            queued.add(d.notice_id)
            added += 1
            self._add({"notice_id": d.notice_id, "recipient_id": d.recipient_id,
                       "next_attempt_at": d.at, "source": d.source, "message_id": None,
                       "sent_at": None})  # fmt: skip
        return added

    async def requeue(self, notice_id: str, now: datetime) -> bool:
        revived = {"state": "pending", "attempts": 0, "next_attempt_at": now,
                   "finished_at": None, "message_id": None, "sent_at": None}  # fmt: skip
        return self._revive(lambda row: row["notice_id"] == notice_id, revived)

    async def due(self, now: datetime, limit: int) -> list[MeshDue]:
        due = [self._due(s) for s, r in self._all().items()
               if r["state"] in ("pending", "sent") and r["next_attempt_at"] <= now]  # fmt: skip
        return sorted(due, key=lambda d: (d.next_attempt_at, d.sequence))[:limit]

    def row(self, notice_id: str) -> dict[str, Any]:
        """A send as it stands, for tests' assertions."""
        return next(r for r in self._all().values() if r["notice_id"] == notice_id)

    def _due(self, sequence: int) -> MeshDue:
        r = self._all()[sequence]
        return MeshDue(sequence, r["notice_id"], r["recipient_id"], r["state"], r["attempts"],
                       r["next_attempt_at"], r["first_failed_at"], r["source"],
                       r["message_id"], r["sent_at"], self._mailbox(r["recipient_id"]))  # fmt: skip

    def _mailbox(self, contact_id: str) -> str | None:
        if contact_id in self.mailboxes:
            return self.mailboxes[contact_id]
        row = self.directory.table("contacts").get((contact_id,))
        return row.get("mesh_mailbox") if row else None


class FakeWebhookQueue(InMemoryRetryRows[WebhookDue]):
    """Deliveries as the SQL queue keeps them (a sequence each, a state, attempts), the
    recipients' webhook URLs read from ``directory``."""

    def __init__(self, directory: FakeRecipientDirectory) -> None:
        super().__init__()
        self.directory = directory

    async def enqueue(self, deliveries: Sequence[WebhookQueued]) -> int:
        queued, added = {row["notice_id"] for row in self._all().values()}, 0
        for d in deliveries:
            if d.notice_id not in queued:
                queued.add(d.notice_id)
                added += 1
                self._add({"notice_id": d.notice_id, "recipient_id": d.recipient_id,
                           "next_attempt_at": d.at, "source": d.source})  # fmt: skip
        return added

    async def requeue(self, notice_id: str, now: datetime) -> bool:
        revived = {"state": "pending", "attempts": 0, "next_attempt_at": now, "finished_at": None}
        return self._revive(lambda row: row["notice_id"] == notice_id, revived)

    async def due(self, now: datetime, limit: int) -> list[WebhookDue]:
        heads: dict[str, int] = {}
        for sequence, row in sorted(self._all().items()):
            if row["state"] == "pending":
                heads.setdefault(row["recipient_id"], sequence)
        due = [self._due(s) for s in heads.values() if self._all()[s]["next_attempt_at"] <= now]
        return sorted(due, key=lambda d: (d.next_attempt_at, d.sequence))[:limit]

    def row(self, notice_id: str) -> dict[str, Any]:
        """A delivery as it stands, for tests' assertions."""
        return next(r for r in self._all().values() if r["notice_id"] == notice_id)

    def _due(self, sequence: int) -> WebhookDue:
        r = self._all()[sequence]
        return WebhookDue(sequence, r["notice_id"], r["recipient_id"], r["attempts"],
                          r["next_attempt_at"], r["first_failed_at"], r["source"],
                          self.directory.webhooks.get(r["recipient_id"]))  # fmt: skip


@dataclass
class RetainedState:
    """What the fake retention store holds, as plain data."""

    identifiers: dict[str, set[str]] = field(default_factory=dict)  # household -> ids
    chronology: dict[str, list[str]] = field(default_factory=dict)  # household -> event ids
    members: dict[str, set[str]] = field(default_factory=dict)  # household -> person ids
    patterns: dict[str, int] = field(default_factory=dict)  # person -> pattern records
    proposals: set[str] = field(default_factory=set)  # event ids held as proposals
    # event id -> (the entry, received at, status)
    queued: dict[str, tuple[ExpiredQueueEntry, datetime, str]] = field(default_factory=dict)
    unknown_keys: dict[str, datetime] = field(default_factory=dict)  # name -> last notice


class FakeRetentionStore:
    def __init__(self) -> None:
        self.state = RetainedState()
        self._before: RetainedState | None = None

    async def identifiers_of(self, household_id: str) -> set[str]:
        return set(self.state.identifiers.get(household_id, set()))

    async def purge_household(self, household_id: str) -> dict[str, int]:
        s = self._writing()
        lines_of = s.chronology.pop(household_id, [])
        events, lines = set(lines_of), len(lines_of)
        queued = [e for e in events if s.queued.pop(e, None) is not None]
        held = [e for e in events if e in s.proposals]
        s.proposals -= set(held)
        mine = s.members.get(household_id, set())
        others = set().union(*(p for h, p in s.members.items() if h != household_id))
        patterns = sum(s.patterns.pop(p, 0) for p in mine - others)
        return {"chronology_lines": lines, "pattern_records": patterns,
                "queued_events": len(queued), "proposals": len(held)}  # fmt: skip

    async def unknown_keys_used_by(self, before: datetime) -> list[tuple[str, datetime]]:
        return [(n, at) for n, at in self.state.unknown_keys.items() if at <= before]

    async def take_expired_queue_entries(
        self, received_by: datetime, limit: int
    ) -> list[ExpiredQueueEntry]:
        waiting = sorted((at, e) for e, (_, at, status) in self.state.queued.items()
                         if status == "waiting" and at <= received_by)[:limit]  # fmt: skip
        s = self._writing()
        return [s.queued.pop(event_id)[0] for _, event_id in waiting]

    def _writing(self) -> RetainedState:
        if self._before is None:
            self._before = deepcopy(self.state)
        return self.state

    def end(self, committed: bool) -> None:
        if not committed and self._before is not None:
            self.state = self._before
        self._before = None


class FakeStepsOwed:
    """Steps as owed, and what became of each (next steps): whether a chain was acknowledged
    is read from ``records``, as the SQL store reads the notice records."""

    def __init__(self, records: FakeNoticeRecords | None = None) -> None:
        self.committed: list[StepOwed] = []
        self.pending: list[StepOwed] = []
        # Next steps: (notice id, step) -> the step as it now stands
        self.records = records
        self.changed: dict[tuple[str, str], StepState] = {}
        self.changing: dict[tuple[str, str], StepState] = {}

    async def add(self, steps: Sequence[StepOwed]) -> None:
        self.pending += steps

    async def of_chain(self, chain_id: str) -> list[StepOwed]:
        found = [s for s in self.committed + self.pending if s.chain_id == chain_id]
        return sorted(found, key=lambda s: (s.due_at, s.step))

    async def of_chains(self, chain_ids: Sequence[str]) -> dict[str, list[StepState]]:
        found: dict[str, list[StepState]] = {}
        for state in sorted(self._states().values(), key=lambda s: (s.due_at, s.step)):
            if state.chain_id in chain_ids:
                found.setdefault(state.chain_id, []).append(state)
        return found

    # Next steps
    async def in_chain(self, chain_id: str, step: str) -> StepState | None:
        found = [s for s in self._states().values() if (s.chain_id, s.step) == (chain_id, step)]
        return found[0] if found else None

    async def meet(
        self, notice_id: str, step: str, met_by: str, outcome: str | None, at: datetime,
        *, tell: bool,
    ) -> None:  # fmt: skip
        self._change(notice_id, step, met_at=at, met_by=met_by, outcome=outcome,
                     tell_pending_since=at if tell else None)  # fmt: skip

    async def awaiting_telling(self, limit: int) -> list[tuple[str, str]]:
        waiting = [s for s in self._states().values() if s.tell_pending_since is not None]
        waiting.sort(key=lambda s: (s.tell_pending_since, s.notice_id, s.step))
        return [(s.notice_id, s.step) for s in waiting][:limit]

    async def take_telling(self, notice_id: str, step: str) -> StepState | None:
        state = self._states().get((notice_id, step))
        if state is None or state.tell_pending_since is None:
            return None
        self._change(notice_id, step, tell_pending_since=None)
        return state

    async def overdue(self, now: datetime, limit: int) -> list[tuple[str, str]]:
        due = [s for s in self._states().values() if self._overdue(s, now)]
        due.sort(key=lambda s: (s.due_at, s.notice_id, s.step))
        return [(s.notice_id, s.step) for s in due][:limit]

    async def claim_overdue(self, notice_id: str, step: str, now: datetime) -> StepState | None:
        state = self._states().get((notice_id, step))
        if state is None or not self._overdue(state, now):
            return None
        self._change(notice_id, step, escalated_at=now)
        return state

    def _overdue(self, state: StepState, now: datetime) -> bool:
        records = self.records._all().values() if self.records else []
        acknowledged = any(r.chain_id == state.chain_id and r.acknowledged_at is not None
                           for r in records)  # fmt: skip
        unmet = state.met_at is None and state.escalated_at is None
        return unmet and state.due_at <= now and acknowledged

    def _change(self, notice_id: str, step: str, **values: Any) -> None:
        key = (notice_id, step)
        if key in self._states():
            self.changing[key] = replace(self._states()[key], **values)

    def _states(self) -> dict[tuple[str, str], StepState]:
        owed = {(s.notice_id, s.step): StepState(s.notice_id, s.step, s.chain_id, s.due_at)
                for s in self.committed + self.pending}  # fmt: skip
        return owed | self.changed | self.changing

    def end(self, committed: bool) -> None:
        if committed:
            self.committed += self.pending
            self.changed |= self.changing
        self.pending = []
        self.changing = {}


class FakeFullViews:
    def __init__(self) -> None:
        self.committed: dict[str, str] = {}
        self.pending: dict[str, str] = {}

    async def keep(self, notice_id: str, wrapped_body: str) -> None:
        self.pending[notice_id] = wrapped_body

    async def get(self, notice_id: str) -> str | None:
        return self.pending.get(notice_id) or self.committed.get(notice_id)

    def end(self, committed: bool) -> None:
        if committed:
            self.committed |= self.pending
        self.pending = {}


@dataclass(frozen=True)
class OwedReceipt:
    transfer_id: str
    receipt: str
    peer_org: str
    recipient_id: str
    conference_on: date | None
    queued_at: datetime


class FakeReceiptsOwed:
    """Receipts owed to peers, each transfer's kind once; ``transfers`` are the transfers
    peers pushed here (by id: the peer and the addressee there), as the SQL store reads
    them, and a notice's event is read from ``records``."""

    def __init__(self, records: FakeNoticeRecords) -> None:
        self.records = records
        self.transfers: dict[str, tuple[str, str]] = {}
        self.committed: dict[tuple[str, str], OwedReceipt] = {}
        self.pending: dict[tuple[str, str], OwedReceipt] = {}

    async def owe(
        self, notice_id: str, receipt: PeerReceiptKind, at: datetime,
        conference_on: date | None = None,
    ) -> bool:  # fmt: skip
        record = await self.records.get(notice_id)
        if record is None or (transfer := self.transfers.get(record.event_id)) is None:
            return False
        key = (record.event_id, receipt)
        if key in self.committed or key in self.pending:
            return False
        self.pending[key] = OwedReceipt(record.event_id, receipt, *transfer, conference_on, at)
        return True

    def end(self, committed: bool) -> None:
        if committed:
            self.committed |= self.pending
        self.pending = {}


# Timer side: a store's writes go to a copy of what is committed, kept on a clean exit.
class SnapshotStore:
    def __init__(self) -> None:
        self.committed: dict[str, object] = {}
        self._working: dict[str, object] | None = None

    @property
    def rows(self) -> dict[str, object]:
        if self._working is None:
            self._working = copy.deepcopy(self.committed)
        return self._working

    def end(self, *, commit: bool) -> None:
        if commit and self._working is not None:
            self.committed = self._working
        self._working = None


@dataclass
class QueueEntry:
    """A matching queue entry in the fake: the columns the timer reads and writes."""

    event_id: str
    sealed_event: str = ""
    status: str = "waiting"
    people: str | None = None
    matched_at: datetime | None = None
    # Front door side
    front_door: str = "fd"
    event_type: str = "parent_crisis"
    received_at: datetime = datetime(2026, 11, 30, tzinfo=UTC)
    matched_by: str | None = None

    def view(self) -> QueuedEvent:
        return QueuedEvent(self.event_id, self.sealed_event, self.matched_at)

    def parked(self) -> ParkedEvent:
        return ParkedEvent(self.event_id, self.front_door, self.event_type, self.received_at,
                           self.sealed_event, self.people, self.status,
                           self.matched_at)  # fmt: skip


class FakeMatchedEvents(SnapshotStore):
    FORGOTTEN = "routed-events-forgotten"  # events a match asked the router to route afresh

    def forgotten(self) -> set[str]:
        found = self.rows.setdefault(self.FORGOTTEN, set())
        assert isinstance(found, set)
        return found

    def entry(self, event_id: str) -> QueueEntry | None:
        found = self.rows.get(event_id)
        assert found is None or isinstance(found, QueueEntry)
        return found

    def _with(self, status: str) -> list[QueueEntry]:
        return [e for e in self.rows.values() if isinstance(e, QueueEntry) and e.status == status]

    async def accepted(self, limit: int) -> list[str]:
        found = sorted(self._with("accepted"), key=lambda e: (e.matched_at, e.event_id))
        return [e.event_id for e in found][:limit]

    async def claim(self, event_id: str) -> QueuedEvent | None:
        entry = self.entry(event_id)
        if entry is None or entry.status != "accepted":
            return None
        entry.status = "publishing"
        return entry.view()

    async def published(self, event_id: str, *, succeeded: bool) -> None:
        entry = self.entry(event_id)
        if entry is not None and entry.status == "publishing":
            entry.status = "routing" if succeeded else "accepted"

    async def unkept(self, limit: int) -> list[str]:
        return sorted(e.event_id for e in self._with("waiting") if e.people is None)[:limit]

    async def unkept_entry(self, event_id: str) -> QueuedEvent | None:
        entry = self.entry(event_id)
        if entry is None or entry.people is not None or entry.status != "waiting":
            return None
        return entry.view()

    async def keep_people(self, event_id: str, wrapped_people: str) -> None:
        entry = self.entry(event_id)
        if entry is not None:
            entry.people = wrapped_people

    # Front door side (MatchingQueue): the same entries
    async def park(self, entry: ParkedEvent) -> None:
        if self.entry(entry.event_id) is None:
            self.rows[entry.event_id] = QueueEntry(
                entry.event_id, entry.sealed_event, entry.status, entry.people,
                entry.matched_at, entry.front_door, entry.event_type, entry.received_at,
            )  # fmt: skip

    async def to_do(self, front_door: str) -> list[ParkedEvent]:
        statuses = ("waiting", "accepted", "publishing", "routing")
        found = [e for e in self.rows.values() if isinstance(e, QueueEntry)
                 and e.front_door == front_door and e.status in statuses]  # fmt: skip
        return [e.parked() for e in sorted(found, key=lambda e: (e.received_at, e.event_id))]

    async def for_match(self, event_id: str) -> ParkedEvent | None:
        entry = self.entry(event_id)
        return entry.parked() if entry is not None else None

    async def accept(self, event_id: str, matched_by: str, at: datetime) -> None:
        entry = self.entry(event_id)
        if entry is not None:
            entry.status, entry.matched_at, entry.matched_by = "accepted", at, matched_by
        self.forgotten().add(event_id)

    async def release_claims(self) -> int:
        claimed = self._with("publishing")
        for entry in claimed:
            entry.status = "accepted"
        return len(claimed)


# Directory writes: each table's rows by primary key (shapes as the SQL schema has them).
class FakeDirectoryRows(SnapshotStore):
    def shape(self, table: DirectoryTable) -> TableShape:
        return shape_of(table)

    def table(self, table: str) -> dict[tuple[Any, ...], TableRow]:
        rows = self.rows.setdefault(table, {})
        assert isinstance(rows, dict)
        return rows

    def _key(self, table: DirectoryTable, row: TableRow) -> tuple[Any, ...]:
        return tuple(row[name] for name in shape_of(table).key)

    async def select_in(
        self, table: DirectoryTable, column: str, values: Iterable[Any]
    ) -> list[TableRow]:
        wanted = set(values)
        return [dict(row) for row in self.table(table).values() if row[column] in wanted]

    async def insert(self, table: DirectoryTable, rows: Sequence[TableRow]) -> None:
        for row in rows:
            key = self._key(table, row)
            if key in self.table(table):
                raise ValueError(f"{table}: a row under {key} is on record already")
            self.table(table)[key] = dict(row)

    async def update(self, table: DirectoryTable, rows: Sequence[TableRow]) -> None:
        for row in rows:
            self.table(table)[self._key(table, row)].update(row)

    async def delete_in(self, table: DirectoryTable, column: str, values: Sequence[Any]) -> None:
        kept = {k: r for k, r in self.table(table).items() if r[column] not in set(values)}
        self.rows[table] = kept

    # Directory records one at a time (directory_admin)
    async def delete_keys(self, table: DirectoryTable, keys: Sequence[TableRow]) -> None:
        for key in keys:
            self.table(table).pop(self._key(table, key), None)

    async def log_changes(self, changes: Sequence[DirectoryChangeEntry]) -> None:
        log = self.table("directory_changes")
        for change in changes:
            log[(len(log),)] = {"change": change}

    async def changes_for(self, entity: str, entity_id: str) -> list[DirectoryChangeEntry]:
        logged = [row["change"] for row in self.table("directory_changes").values()]
        return [c for c in logged if (c.entity, c.entity_id) == (entity, entity_id)]

    # The change log (services/directory_changes.py)
    async def latest_changes(self, limit: int) -> list[DirectoryChangeEntry]:
        logged = [row["change"] for row in self.table("directory_changes").values()]
        return logged[::-1][:limit]


# Key changes (key_changes)


class FakeKeyChanges(SnapshotStore):
    def _changes(self) -> dict[str, KeyChangeView]:
        return self.rows.setdefault("changes", {})  # type: ignore[return-value]

    async def add(self, change: KeyChangeView) -> None:
        self._changes()[change.id] = change

    async def get_for_update(self, change_id: str) -> KeyChangeView | None:
        return self._changes().get(change_id)

    async def mark_approved(self, change_id: str, approver: str, at: datetime) -> None:
        changes = self._changes()
        changes[change_id] = replace(changes[change_id], approved_by=approver, approved_at=at)

    async def mark_withdrawn(self, change_id: str, administrator: str, at: datetime) -> None:
        changes = self._changes()
        changes[change_id] = replace(changes[change_id], withdrawn_by=administrator,
                                     withdrawn_at=at)  # fmt: skip

    async def awaiting(self, requested_after: datetime) -> list[KeyChangeView]:
        open_ = [c for c in self._changes().values() if c.approved_at is None
                 and c.withdrawn_at is None and c.requested_at > requested_after]  # fmt: skip
        return sorted(open_, key=lambda c: c.requested_at)

    async def concerning(self, org_id: str) -> list[KeyChangeView]:
        theirs = [c for c in self._changes().values() if c.org_id == org_id]
        return sorted(theirs, key=lambda c: c.requested_at, reverse=True)


# Follow-ups
class FakeDataQualityLog:
    def __init__(self) -> None:
        self.committed: list[tuple[Issue, datetime]] = []
        self.pending: list[tuple[Issue, datetime]] = []

    async def record(self, issues: Sequence[Issue], at: datetime) -> None:
        self.pending += [(issue, at) for issue in issues]

    async def report(
        self, front_door: str | None = None, since: datetime | None = None,
        *, no_front_door: bool = False,
    ) -> list[ReportLine]:  # fmt: skip
        seen: dict[tuple[Gap, str | None, str | None, str | None], list[datetime]] = {}
        for issue, at in self.committed:
            if front_door is not None and issue.front_door != front_door:
                continue
            if (no_front_door and issue.front_door is not None) or (since and at < since):
                continue
            key = (issue.gap, issue.front_door, issue.org_id, issue.role)
            seen.setdefault(key, []).append(at)
        lines = [ReportLine(*key, len(times), min(times), max(times))
                 for key, times in seen.items()]  # fmt: skip
        return sorted(lines, key=lambda line: line.last_seen, reverse=True)

    def end(self, committed: bool) -> None:
        if committed:
            self.committed += self.pending
        self.pending = []


# Plan reminders
class FakePlanReminders:
    def __init__(self) -> None:
        self.committed: dict[str, PlanReminder] = {}
        self.pending: dict[str, PlanReminder] = {}

    async def schedule(self, notice_id: str, due_at: datetime) -> None:
        self.pending[notice_id] = PlanReminder(notice_id, due_at)

    async def due(self, now: datetime, limit: int) -> list[str]:
        due = [r for r in self._all().values() if r.sent_at is None and r.due_at <= now]
        return [r.notice_id for r in sorted(due, key=lambda r: (r.due_at, r.notice_id))][:limit]

    async def claim(self, notice_id: str, now: datetime) -> bool:
        reminder = self._all().get(notice_id)
        if reminder is None or reminder.sent_at is not None:
            return False
        self.pending[notice_id] = replace(reminder, sent_at=now)
        return True

    async def sent_as(self, notice_id: str, reminder_id: str) -> None:
        if reminder := self._all().get(notice_id):
            self.pending[notice_id] = replace(reminder, reminder_id=reminder_id)

    async def get(self, notice_id: str) -> PlanReminder | None:
        return self._all().get(notice_id)

    def _all(self) -> dict[str, PlanReminder]:
        return self.committed | self.pending

    def end(self, committed: bool) -> None:
        if committed:
            self.committed |= self.pending
        self.pending = {}


# Routing: the stores of routing, sealing and proposals.


def organisations_of(
    orgs: Iterable[OrgRecord],
    contacts: Iterable[tuple[str, ContactRecord]] = (),
    signing_keys: Iterable[tuple[str, str, SigningKeyRecord]] = (),
    terms: dict[str, tuple[tuple[date, date], ...]] | None = None,
) -> Organisations:
    """The directory's organisations from plain records: contacts as (role, contact), signing
    keys as (org id, key id, key)."""
    contacts = list(contacts)
    return Organisations(
        orgs={o.id: o for o in orgs},
        contacts={(c.org_id, role): c for role, c in contacts},
        contacts_by_id={c.contact_id: c for _, c in contacts},
        terms=terms or {},
        signing_keys={(org, key_id): key for org, key_id, key in signing_keys},
        working_hours={},
    )


class FakeDirectory:
    """The directory as routing reads it, from plain data: the organisations, the families by
    their subject's person id, and who is who (``people``: an NHS number, a UPN or
    ``"<source org>:<local id>"`` to a person id). Its writes are kept, not applied."""

    def __init__(
        self,
        organisations: Organisations,
        families: dict[str, FamilyContext] | None = None,
        people: dict[str, str] | None = None,
    ) -> None:
        self.known = organisations
        self.families = families or {}
        self.people = people or {}
        self.committed: list[tuple[str, Any]] = []  # ("move" | "step_down" | "plans", what)
        self.pending: list[tuple[str, Any]] = []

    async def organisations(self) -> Organisations:
        return self.known

    async def organisation(self, org_id: str) -> OrgRecord | None:
        return self.known.orgs.get(org_id)

    async def match(self, person: PersonRef, source_org: str) -> str | None:
        names = [f"{source_org}:{person.local_id}" if person.local_id else None,
                 person.nhs_number, person.upn]  # fmt: skip
        return next((self.people[n] for n in names if n and n in self.people), None)

    async def family_for(self, named: Sequence[PersonRef], source_org: str) -> FamilyContext:
        ids = [await self.match(person, source_org) for person in named]
        subjects = tuple(i for i in ids if i) if ids and ids[0] else ()
        if subjects and subjects[0] in self.families:
            context = self.families[subjects[0]]
            return replace(context, family=replace(context.family, subjects=subjects))
        # Nobody known: held for the front door of the source organisation's area.
        orgs = self.known.orgs.values()
        source = self.known.orgs.get(source_org)
        family = Family(
            subjects=(), members=(), area=source.area if source else None,
            front_doors={o.area: o.id for o in orgs if o.kind == OrgKind.FRONT_DOOR},
            org_kinds={o.id: OrgKind(o.kind) for o in orgs},
            org_lines={o.id: contact_line(o) for o in orgs},
            working_hours=self.known.working_hours,
            icbs={o.area: o.id for o in orgs if o.kind == OrgKind.ICB},
        )  # fmt: skip
        labels = unmatched_ids(len(named))
        views = {labels[i]: PersonView(given_name=p.given_name, family_name=p.family_name,
                                       date_of_birth=p.date_of_birth, nhs_number=p.nhs_number)
                 for i, p in enumerate(named)}  # fmt: skip
        return FamilyContext(family, views)

    async def families_of(self, named: Sequence[tuple[Sequence[PersonRef], str]]) -> FamiliesNamed:
        homes: set[str] = set()
        people: set[str] = set()
        for named_people, source_org in named:
            context = await self.family_for(named_people, source_org)
            members = context.family.members
            homes.update(m.household_id for m in members if m.household_id)
            people.update((*context.family.subjects, *(m.person_id for m in members)))
        return FamiliesNamed(frozenset(homes), frozenset(people))

    async def read_ahead(self, families: FamiliesNamed) -> set[str]:
        """Nothing to read ahead in memory."""
        return set()

    async def contact_for(self, addressee: Addressee) -> ContactRecord | None:
        fallbacks = () if addressee.role is ContactRole.EMERGENCY_DUTY else FALLBACK_ROLES
        for role in (addressee.role, *fallbacks):
            if contact := self.known.contacts.get((addressee.org_id, role)):
                return contact
        return None

    async def webhook_url(self, contact_id: str) -> str | None:
        contact = self.known.contacts_by_id.get(contact_id)
        return contact.webhook_url if contact else None

    async def signing_key(self, org_id: str, key_id: str, at: datetime) -> Any:
        key = self.known.signing_keys.get((org_id, key_id))
        valid = key is not None and not (key.valid_from and at < key.valid_from)
        if key is None or not valid or (key.valid_until and at >= key.valid_until):
            raise UnknownSigningKey("the producing organisation has no key valid then")
        return crypto.signing_public_from_text(key.public_key)

    async def check_may_publish(self, org_id: str, event_type: EventType) -> None:
        org = self.known.orgs.get(org_id)
        if not may_publish(OrgKind(org.kind) if org else None, event_type):
            raise EventNotPermitted(f"may not publish {event_type.value} events")

    async def school_calendar(self, org_id: str) -> SchoolCalendar:
        org = self.known.orgs.get(org_id)
        return SchoolCalendar(terms=self.known.terms.get(org_id, ()),
                              nation=nation_of(org.area if org else None))  # fmt: skip

    async def record_move(
        self, households: Iterable[str], to_area: str | None, moved_on: Any
    ) -> list[str]:
        moved = [h for h in households if to_area is not None]
        self.pending.append(("move", (moved, to_area, moved_on)))
        return moved

    async def record_step_down(self, event: ServiceWithdrawal, family: Family) -> list[str]:
        if event.step_down is None or family.subject is None:
            return []
        plans = [f"step-down:{event.event_id}:{c.person_id}"
                 for c in stepped_down_children(family)]  # fmt: skip
        self.pending.append(("step_down", plans))
        return plans

    async def record_listed_plans(self, event: FamilyMovingArea, family: Family) -> list[str]:
        plans = [f"{listed_plans_prefix(event)}{i}" for i, _ in enumerate(event.plans)]
        self.pending.append(("plans", plans))
        return plans

    def end(self, committed: bool) -> None:
        if committed:
            self.committed += self.pending
        self.pending = []


class FakeRoutedEvents:
    """The routed events, the gateway's accepted ones, the matching queue, pattern records,
    chronology lines and receipts, kept in memory; the audit entries go to the unit of
    work's audit log. ``elsewhere`` stands for another router committing these events (with
    their Kafka positions) between this group's load and its write."""

    def __init__(self, audit: FakeAuditLog) -> None:
        self._audit = audit
        self.routed: dict[str, str | None] = {}
        self.accepted: set[str] = set()
        self.queue: dict[str, QueuedForMatching] = {}
        self.patterns: list[PatternRow] = []
        self.chronology: list[dict[str, Any]] = []
        self.receipts: set[str] = set()
        self.elsewhere: dict[str, str | None] = {}
        self._working: dict[str, Any] | None = None

    def _state(self) -> dict[str, Any]:
        if self._working is None:
            self._working = deepcopy({
                "routed": self.routed, "queue": self.queue, "patterns": self.patterns,
                "chronology": self.chronology, "receipts": self.receipts,
            })  # fmt: skip
        return self._working

    async def load(self, event_ids: Sequence[str]) -> GroupState:
        state, ids = self._state(), set(event_ids)
        return GroupState.of(
            await self.routed_from(event_ids), self.accepted & ids,
            [deepcopy(e) for i, e in state["queue"].items() if i in ids],
            {r["event_id"] for r in state["patterns"] if r["event_id"] in ids},
        )  # fmt: skip

    async def routed_from(self, event_ids: Sequence[str]) -> dict[str, str | None]:
        routed = self._state()["routed"]
        return {i: routed[i] for i in event_ids if i in routed}

    async def pattern_rows(self, people: Sequence[str]) -> list[PatternRow]:
        return [r for r in self._state()["patterns"] if r["person_id"] in people]

    def writes_deferred(self) -> Any:
        return contextlib.nullcontext()

    async def write(self, state: GroupState) -> None:
        working = self._state()
        for event_id, position in self.elsewhere.items():  # the other router's, committed
            self.routed[event_id] = working["routed"][event_id] = position
        self.elsewhere = {}
        for row in state.routed_rows:
            if row["event_id"] in working["routed"]:
                raise AlreadyRecorded("another transaction routed this event first")
            working["routed"][row["event_id"]] = row["position"]
        recorded = {r["event_id"] for r in working["patterns"]}
        working["patterns"] += [r for r in state.patterns.new if r["event_id"] not in recorded]
        working["chronology"] += [dict(row) for row in state.chronology]
        for event_id in state.parked:
            if event_id in working["queue"]:
                raise AlreadyRecorded("this event is in the matching queue already")
        for event_id, entry in state.queue.items():
            working["queue"][event_id] = deepcopy(entry)
        state.routed_rows, state.chronology, state.parked = [], [], []
        state.patterns.new = []

    async def fresh_receipts(self, receipts: Sequence[tuple[str, datetime]]) -> set[str]:
        known = self._state()["receipts"]
        fresh = {event_id for event_id, _ in receipts if event_id not in known}
        known |= fresh
        return fresh

    async def append_audit(self, state: GroupState) -> None:
        pending, state.audit = state.audit, []
        for at, record in pending:
            await self._audit.append(record, at)

    def end(self, committed: bool) -> None:
        if committed and self._working is not None:
            for name, value in self._working.items():
                setattr(self, name, value)
        self._working = None


class FakeProposalStore(SnapshotStore):
    async def hold(self, proposal: HeldProposal) -> None:
        if proposal.event_id in self.rows:
            raise AlreadyRecorded("a proposal of this event is held already")
        self.rows[proposal.event_id] = proposal

    async def get_for_update(self, event_id: str) -> HeldProposal | None:
        found = self.rows.get(event_id)
        return found if isinstance(found, HeldProposal) else None

    async def mark_decided(self, event_id: str, status: str, actor: str, at: datetime) -> None:
        found = self.rows.get(event_id)
        if isinstance(found, HeldProposal):
            self.rows[event_id] = replace(found, status=status, decided_at=at, decided_by=actor)

    async def with_status(
        self, status: str, *, front_door: str | None = None, limit: int | None = None
    ) -> list[HeldProposal]:
        found = [p for p in self.rows.values() if isinstance(p, HeldProposal)
                 and p.status == status and front_door in (None, p.front_door)]  # fmt: skip
        found.sort(key=lambda p: (p.decided_at or p.proposed_at, p.proposed_at))
        return found[:limit]


class FakeAlertChannels:
    """Contacts' alert channels, ids given in the order they were added; a rolled-back
    unit of work leaves them as they were."""

    def __init__(self) -> None:
        self.rows: dict[int, AlertChannelRow] = {}
        self.saved: dict[int, AlertChannelRow] = {}
        self.last_id = 0

    async def of_contacts(self, contact_ids: Sequence[str]) -> list[AlertChannelRow]:
        rows = [r for r in self.rows.values() if r.contact_id in set(contact_ids)]
        return sorted(rows, key=lambda r: (r.contact_id, r.id))

    async def replace(self, contact_id: str, channels: Sequence[tuple[str, str]]) -> bool:
        existing = {(r.kind, r.address): r.id for r in await self.of_contacts([contact_id])}
        wanted = list(dict.fromkeys(channels))
        gone = [i for pair, i in existing.items() if pair not in wanted]
        for i in gone:
            del self.rows[i]
        new = [(kind, address) for kind, address in wanted if (kind, address) not in existing]
        for kind, address in new:
            self.last_id += 1
            self.rows[self.last_id] = AlertChannelRow(self.last_id, contact_id, kind, address)
        return bool(gone or new)

    def end(self, committed: bool) -> None:
        if committed:
            self.saved = dict(self.rows)
        self.rows = dict(self.saved)

    def _all(self) -> dict[int, AlertChannelRow]:
        return self.rows


class FakeAlertQueue(InMemoryRetryRows[AlertDue]):
    """Alerts as the SQL queue keeps them, the contact's organisation and role read from
    ``directory``'s rows, the notice's answer from ``records``."""

    def __init__(
        self,
        channels: FakeAlertChannels,
        records: FakeNoticeRecords,
        directory: "FakeDirectoryRows",
    ) -> None:
        super().__init__()
        self.channels, self.records, self.directory = channels, records, directory

    async def enqueue(self, alerts: Sequence[AlertQueued]) -> int:
        keys, added = {row["key"] for row in self._all().values()}, 0
        for a in alerts:
            if a.key not in keys:
                keys.add(a.key)
                added += 1
                self._add({
                    "key": a.key, "notice_id": a.notice_id, "trigger": a.trigger,
                    "channel_id": a.channel_id, "contact_id": a.contact_id,
                    "deadline": a.deadline, "next_attempt_at": a.due_at,
                })  # fmt: skip
        return added

    async def due(self, now: datetime, limit: int) -> list[AlertDue]:
        rows = [(r["next_attempt_at"], s) for s, r in self._all().items()
                if r["state"] == "pending" and r["next_attempt_at"] <= now]  # fmt: skip
        return [self._due(s) for _, s in sorted(rows)[:limit]]

    async def failing(self, since: datetime) -> list[AlertFailures]:
        counts: dict[tuple[str, str], list[Any]] = {}
        for r in self._all().values():
            failed = r["first_failed_at"]
            if failed is None or failed < since or r["state"] not in ("dead", "pending"):
                continue
            channel = self.channels._all().get(r["channel_id"])
            entry = counts.setdefault((r["contact_id"], channel.kind if channel else "removed"),
                                      [0, 0, None, None])  # fmt: skip
            entry[0 if r["state"] == "dead" else 1] += 1
            entry[2] = max(filter(None, [entry[2], r["last_error"]]), default=None)
            entry[3] = max(filter(None, [entry[3], failed]), default=None)
        found = [AlertFailures(c, k, *v) for (c, k), v in counts.items()]
        return sorted(found, key=lambda f: (-f.dead, f.contact_id))

    def row(self, notice_id: str, trigger: str) -> dict[str, Any]:
        """An alert as it stands, for tests' assertions."""
        return next(r for r in self._all().values()
                    if r["notice_id"] == notice_id and r["trigger"] == trigger)  # fmt: skip

    def _due(self, sequence: int) -> AlertDue:
        r = self._all()[sequence]
        channel = self.channels._all().get(r["channel_id"])
        contact = self.directory.table("contacts")[(r["contact_id"],)]
        org = self.directory.table("organisations")[(contact["org_id"],)]
        record = self.records._all().get(r["notice_id"])
        answered = record is not None and bool(
            record.acknowledged_at or record.rejected_at or record.closed_at
        )
        return AlertDue(sequence, r["notice_id"], r["trigger"], r["contact_id"],
                        channel.kind if channel else None, channel.address if channel else None,
                        org["name"], contact["role"], org["session_start"], r["deadline"],
                        r["attempts"], r["next_attempt_at"], r["first_failed_at"],
                        answered)  # fmt: skip


class FakeWebSessions:
    """Sign-in links and sessions; a contact exists when the directory's rows hold it. A
    rolled-back unit of work leaves them as they were."""

    def __init__(self, directory_rows: FakeDirectoryRows) -> None:
        self.directory_rows = directory_rows
        self.links: dict[str, SignInLink] = {}
        self.used: dict[str, datetime] = {}
        self.sessions: dict[str, WebSessionRecord] = {}
        self.saved: tuple[dict[str, SignInLink], dict[str, datetime],
                          dict[str, WebSessionRecord]] = ({}, {}, {})  # fmt: skip

    async def contact_exists(self, contact_id: str) -> bool:
        return (contact_id,) in self.directory_rows.table("contacts")

    async def add_link(self, link: SignInLink) -> None:
        self.links[link.token_hash] = link

    async def use_link(self, token_hash: str, issued_after: datetime, now: datetime) -> str | None:
        link = self.links.get(token_hash)
        if link is None or token_hash in self.used or not issued_after < link.issued_at <= now:
            return None
        self.used[token_hash] = now
        return link.contact_id

    async def start(self, session: WebSessionRecord) -> None:
        self.sessions[session.id_hash] = session

    async def touch(
        self, id_hash: str, now: datetime, seen_after: datetime, started_after: datetime
    ) -> WebSessionRecord | None:
        found = self.sessions.get(id_hash)
        if found is None or found.ended_at is not None:
            return None
        if found.last_seen_at <= seen_after or found.started_at <= started_after:
            return None
        self.sessions[id_hash] = replace(found, last_seen_at=now)
        return self.sessions[id_hash]

    async def get(self, id_hash: str) -> WebSessionRecord | None:
        return self.sessions.get(id_hash)

    async def end(self, id_hash: str, now: datetime) -> bool:
        found = self.sessions.get(id_hash)
        if found is None or found.ended_at is not None:
            return False
        self.sessions[id_hash] = replace(found, ended_at=now)
        return True

    async def end_all_of(self, contact_id: str, now: datetime) -> int:
        for token_hash, link in self.links.items():
            if link.contact_id == contact_id:
                self.used.setdefault(token_hash, now)
        live = [s for s in self.sessions.values()
                if s.contact_id == contact_id and s.ended_at is None]  # fmt: skip
        for found in live:
            self.sessions[found.id_hash] = replace(found, ended_at=now)
        return len(live)

    async def end_sessions_opened_by(self, contact_id: str, credential_id: str,
                                     now: datetime) -> int:  # fmt: skip
        opened = {credential_id, None}  # None: a passkey session from before they recorded it
        live = [s for s in self.sessions.values() if s.contact_id == contact_id
                and s.ended_at is None and s.signed_in_with == "passkey"
                and s.credential_id in opened]  # fmt: skip
        for found in live:
            self.sessions[found.id_hash] = replace(found, ended_at=now)
        return len(live)

    def end_unit(self, committed: bool) -> None:
        if committed:
            self.saved = (dict(self.links), dict(self.used), dict(self.sessions))
        self.links, self.used, self.sessions = (dict(kept) for kept in self.saved)  # type: ignore[assignment]


class FakePasskeys:
    """People, passkeys and ceremonies; a rolled-back unit of work leaves them as they were."""

    def __init__(self) -> None:
        self.ceremonies: dict[str, tuple[Ceremony, datetime | None]] = {}
        self.people: dict[str, PasskeyPerson] = {}
        self.keys: dict[str, Passkey] = {}
        self.saved: tuple[dict[str, Any], dict[str, Any], dict[str, Any]] = ({}, {}, {})

    async def add_ceremony(self, ceremony: Ceremony) -> None:
        self.ceremonies[ceremony.challenge] = (ceremony, None)

    async def use_ceremony(
        self, challenge: str, kind: str, issued_after: datetime, now: datetime
    ) -> Ceremony | None:
        ceremony, used_at = self.ceremonies.get(challenge, (None, None))
        if ceremony is None or used_at is not None or ceremony.kind != kind:
            return None
        if not issued_after < ceremony.issued_at <= now:
            return None
        self.ceremonies[challenge] = (ceremony, now)
        return ceremony

    async def forget_ceremonies(self, issued_before: datetime) -> int:
        gone = [
            c for c, (ceremony, _) in self.ceremonies.items() if ceremony.issued_at < issued_before
        ]
        for challenge in gone:
            del self.ceremonies[challenge]
        return len(gone)

    async def contact_has_passkeys(self, contact_id: str) -> bool:
        return any(key.contact_id == contact_id for key in self.keys.values())

    async def add_person(self, person: PasskeyPerson) -> None:
        self.people[person.person_id] = person

    async def person_by_recovery(self, recovery_lookup: str) -> PasskeyPerson | None:
        return next((p for p in self.people.values() if p.recovery_lookup == recovery_lookup), None)

    async def renew_recovery(
        self, person_id: str, replaces: str, recovery_lookup: str, recovery_wrapped_key: str
    ) -> bool:
        person = self.people.get(person_id)
        if person is None or person.recovery_lookup != replaces:
            return False
        self.people[person_id] = replace(person, recovery_lookup=recovery_lookup,
                                         recovery_wrapped_key=recovery_wrapped_key)  # fmt: skip
        return True

    async def holds_recovery(self, person_id: str, recovery_lookup: str) -> bool:
        person = self.people.get(person_id)
        return person is not None and person.recovery_lookup == recovery_lookup

    async def add_passkey(self, passkey: Passkey) -> None:
        self.keys[passkey.credential_id] = passkey

    async def passkey(self, credential_id: str) -> Passkey | None:
        return self.keys.get(credential_id)

    async def count_use(
        self, credential_id: str, stored: int, reported: int, now: datetime
    ) -> bool:
        found = self.keys.get(credential_id)
        if found is None or found.sign_count != stored:
            return False
        self.keys[credential_id] = replace(found, sign_count=reported, last_used_at=now)
        return True

    async def remove_passkeys(self, person_id: str, keep: str) -> list[str]:
        going = sorted(c for c, k in self.keys.items() if k.person_id == person_id and c != keep)
        for credential_id in going:
            del self.keys[credential_id]
        return going

    async def passkeys_of(self, contact_id: str) -> list[Passkey]:
        found = [k for k in self.keys.values() if k.contact_id == contact_id]
        return sorted(found, key=lambda k: (k.created_at, k.credential_id))

    async def remove_passkey(self, credential_id: str) -> bool:
        return self.keys.pop(credential_id, None) is not None

    async def hold(self, credential_ids: Sequence[str]) -> set[str]:
        return {c for c in credential_ids if c in self.keys}

    def end_unit(self, committed: bool) -> None:
        if committed:
            self.saved = (dict(self.ceremonies), dict(self.people), dict(self.keys))
        self.ceremonies, self.people, self.keys = (dict(kept) for kept in self.saved)


class FakeFamilyLocks:
    """One process, one unit of work at a time: nothing to wait for; keeps what was held,
    in order, for a test to read."""

    def __init__(self) -> None:
        self.held: list[FamiliesNamed] = []

    async def hold(self, families: FamiliesNamed) -> None:
        self.held.append(families)


class FakeUnitOfWork:
    """Keeps what a unit of work wrote only if it exits cleanly, like a transaction."""

    def __init__(self) -> None:
        self.audit = FakeAuditLog()
        self.commits = 0
        # Timer side
        self.matched_events = FakeMatchedEvents()
        # Front door side: the same queue
        self.matching_queue = self.matched_events
        # Directory writes
        self.directory_rows = FakeDirectoryRows()

        # Recipient side.
        self.inbox = FakeInboxStore()
        self.notice_records = FakeNoticeRecords()
        self.recipients = FakeRecipientDirectory()
        self.webhooks = FakeWebhookQueue(self.recipients)
        self.mesh = InMemoryMeshQueue(self.directory_rows)
        self.chronologies = FakeChronologies()
        self.retention = FakeRetentionStore()
        self.steps_owed = FakeStepsOwed(self.notice_records)
        self.full_views = FakeFullViews()
        self.peer_receipts = FakeReceiptsOwed(self.notice_records)
        # Key changes (key_changes)
        self.key_changes = FakeKeyChanges()
        # Follow-ups
        self.data_quality = FakeDataQualityLog()
        # Plan reminders
        self.plan_reminders = FakePlanReminders()
        # The outbox, for services/outbox.py
        self.outbox = FakeNoticeOutbox()
        # Routing: the stores of routing, sealing and proposals
        self.directory = FakeDirectory(organisations_of([]))
        self.routed_events = FakeRoutedEvents(self.audit)
        self.proposals = FakeProposalStore()
        self.family_locks = FakeFamilyLocks()
        # Alerts
        self.alert_channels = FakeAlertChannels()
        self.alerts = FakeAlertQueue(self.alert_channels, self.notice_records,
                                     self.directory_rows)  # fmt: skip
        self.recipients.mesh, self.recipients.alert_channels = self.mesh, self.alert_channels
        # The web inbox's sign-in
        self.web_sessions = FakeWebSessions(self.directory_rows)
        self.passkeys = FakePasskeys()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> Literal[False]:
        if exc is None:
            self.audit.committed += self.audit.pending
            self.commits += 1
        self.audit.pending = []
        for store in (self.matched_events, self.directory_rows):  # timer side, directory
            store.end(commit=exc is None)

        # Recipient side.
        self.inbox.end(committed=exc is None)
        self.notice_records.end(committed=exc is None)
        self.outbox.end(committed=exc is None)
        self.webhooks.end(committed=exc is None)
        self.mesh.end(committed=exc is None)
        self.retention.end(committed=exc is None)
        self.steps_owed.end(committed=exc is None)
        self.full_views.end(committed=exc is None)
        self.peer_receipts.end(committed=exc is None)
        # Key changes (key_changes)
        self.key_changes.end(commit=exc is None)
        # Follow-ups
        self.chronologies.end(committed=exc is None)
        self.data_quality.end(committed=exc is None)
        # Plan reminders
        self.plan_reminders.end(committed=exc is None)
        # Routing: the stores of routing, sealing and proposals
        for store in (self.directory, self.routed_events):
            store.end(committed=exc is None)
        self.proposals.end(commit=exc is None)
        # Alerts
        self.alert_channels.end(committed=exc is None)
        self.alerts.end(committed=exc is None)
        self.web_sessions.end_unit(committed=exc is None)
        self.passkeys.end_unit(committed=exc is None)
        return False


class FakePublisher:
    def __init__(self) -> None:
        self.published: list[Message] = []

    async def publish(self, messages: Sequence[Message]) -> None:
        self.published += messages


# Peer brokers' transfers (broker.services.peer_transfers): the gateway's and the intake's.
@dataclass
class InMemoryPeerTransfers:
    """Peer brokers' signing keys by (org, key id), and the transfers kept by id."""

    peer_keys: dict[tuple[str, str], Any] = field(default_factory=dict)
    other_orgs: set[str] = field(default_factory=set)  # organisations of another kind
    kept: dict[str, dict[str, Any]] = field(default_factory=dict)
    audited: list[tuple[str, str]] = field(default_factory=list)  # (action, transfer id)

    async def peer_key(self, org_id: str, key_id: str, at: datetime) -> Any:
        if org_id in self.other_orgs or not any(o == org_id for o, _ in self.peer_keys):
            raise EventNotPermitted("only a peer broker may push transfers here")
        if (org_id, key_id) not in self.peer_keys:
            raise UnknownSigningKey("the producing organisation has no key with this id")
        return self.peer_keys[(org_id, key_id)]

    async def kept_digest(self, transfer_id: str) -> str | None:
        found = self.kept.get(transfer_id)
        return found["digest"] if found else None

    async def keep(
        self, transfer_id: str, peer_org: str, digest: str, sealed: str, at: datetime
    ) -> bool:
        if transfer_id in self.kept:
            return False
        self.kept[transfer_id] = {"peer_org": peer_org, "digest": digest, "sealed": sealed,
                                  "received_at": at, "applied_at": None}  # fmt: skip
        self.audited.append(("peer_transfer_received", transfer_id))
        return True

    async def pending(self, limit: int) -> list[Any]:
        from broker.services.peer_transfers import Pending

        waiting = sorted((t for t in self.kept.items() if t[1]["applied_at"] is None),
                         key=lambda t: t[1]["received_at"])  # fmt: skip
        return [Pending(i, t["peer_org"], t["sealed"]) for i, t in waiting[:limit]]

    async def applied(
        self, transfer_id: str, peer_org: str, at: datetime, refused: str | None = None
    ) -> None:
        kept = self.kept[transfer_id]
        if kept["applied_at"] is None:
            kept["applied_at"] = at
            self.audited.append(
                ("peer_transfer_refused" if refused else "peer_transfer_applied", transfer_id)
            )
