"""A group of events routed as one unit of work, in SQL (the ``RoutedEvents`` port): what is
read for the whole group before any of its events is decided, and what is written for all of
them after.

Read up front, in two queries: which events were routed before (and from which Kafka
record), which the gateway accepted and which have pattern records; and their matching-queue
entries. Each person's pattern records are read once, when first needed. Written at the end,
one statement per table: routed events, pattern records, chronology lines, receipts and audit
entries, the audit chain's lock taken once, last, so that it is held only for the commit.
"""

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    String,
    bindparam,
    literal,
    null,
    select,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute

from broker.adapters import audit as audit_log
from broker.adapters import bulk, db, held_rows
from broker.adapters.bulk import Row
from broker.ports import QueuedForMatching
from broker.services.routing_group import GroupState, PatternRow

IN_CHUNK = 900  # people per IN list (SQLite's bound-parameter limit, with room to spare)


class SqlRoutedEvents:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def load(self, event_ids: Sequence[str]) -> GroupState:
        session, ids = self._session, list(dict.fromkeys(event_ids))
        routed: dict[str, str | None] = {}
        seen: dict[str, set[str]] = {ACCEPTED: set(), PATTERNS: set(), QUEUED: set()}
        for row in await session.execute(_SEEN_BEFORE, {"ids": ids}):
            if row.found == ROUTED:
                routed[row.event_id] = row.position
            else:
                seen[row.found].add(row.event_id)
        queue: list[db.MatchingQueueEntry] = []
        if seen[QUEUED]:  # their whole entries, for the few events that wait for a match
            entry = db.MatchingQueueEntry
            found = select(entry).where(entry.event_id.in_(sorted(seen[QUEUED])))
            queue = list(await session.scalars(found))
        return GroupState.of(routed, seen[ACCEPTED], [_queued(e) for e in queue],
                             seen[PATTERNS])  # fmt: skip

    async def routed_from(self, event_ids: Sequence[str]) -> dict[str, str | None]:
        # Asked only when another router committed an event first: the group's own read,
        # its routed branch kept.
        seen = await self._session.execute(_SEEN_BEFORE, {"ids": list(dict.fromkeys(event_ids))})
        return {row.event_id: row.position for row in seen if row.found == ROUTED}

    async def pattern_rows(self, people: Sequence[str]) -> list[PatternRow]:
        rows = list[PatternRow]()
        for start in range(0, len(people), IN_CHUNK):
            chunk = list(people[start : start + IN_CHUNK])
            found = await self._session.execute(_PATTERN_ROWS, {"people": chunk})
            rows += [dict(row) for row in found.mappings()]
        return rows

    def writes_deferred(self) -> AbstractContextManager[None]:
        # The notices' rows are held as plain rows (held_rows.py) and the session's own
        # (their companions) go in once, at ``write``; the directory writes a few events
        # make (a move, a step-down, a plan) flush themselves.
        held_rows.hold(self._session)
        deferred: AbstractContextManager[None] = self._session.no_autoflush
        return deferred

    async def write(self, state: GroupState) -> None:
        """Everything but the audit entries, before the chain's lock is taken: a write that
        must wait for another transaction's row (two routers on one event) waits unlocked.
        A routed event another router committed first fails the whole group here."""
        session = self._session
        parked = [vars(state.queue[event_id]) | {"matched_by": None} for event_id in state.parked]
        # One another router wrote meanwhile for the same event stands (that router's
        # routed-event record then stops this group); the rest, and the notices' rows held
        # meanwhile, in one statement.
        rows_of: dict[type[db.Base], Sequence[Row]] = {
            db.RoutedEvent: state.routed_rows, db.PatternRecord: state.patterns.new,
            db.ChronologyEntry: state.chronology, db.MatchingQueueEntry: parked,
        }  # fmt: skip
        await held_rows.write_all(session, rows_of, skip_taken=[db.PatternRecord])
        state.routed_rows, state.patterns.new, state.chronology, state.parked = [], [], [], []
        for entry in state.queue_changed():
            table = db.MatchingQueueEntry
            await session.execute(
                update(table).where(table.event_id == entry.event_id)
                .values(status=entry.status, sealed_event=entry.sealed_event, people=entry.people)
            )  # fmt: skip
        await session.flush()  # the rest of the session's rows

    async def fresh_receipts(self, receipts: Sequence[tuple[str, datetime]]) -> set[str]:
        """Under the chain's lock, which makes any other appender's row visible first.
        Whoever records an event's receipt writes its one ``event_received`` entry (as
        adapters/event_receipts.py does one event at a time)."""
        await audit_log.hold_lock(self._session)
        rows = [{"event_id": event_id, "path": "kafka", "received_at": at}
                for event_id, at in receipts]  # fmt: skip
        return await bulk.insert_new(self._session, db.EventReceipt, "event_id", rows)

    async def append_audit(self, state: GroupState) -> None:
        """Under the chain's lock (taken now if not yet held): one statement."""
        pending, state.audit = state.audit, []
        await audit_log.append_timed(self._session, pending)


ROUTED, ACCEPTED, PATTERNS, QUEUED = "routed", "accepted", "patterns", "queued"


def _seen_before() -> CompoundSelect[Any]:
    """Which of the events (``ids``) were routed (and from which record), accepted by the
    gateway, have pattern records, or wait in the matching queue: one statement, a round
    trip where four were made per group; built once."""
    routed, accepted, patterns = db.RoutedEvent, db.AcceptedEvent, db.PatternRecord
    queue, nothing = db.MatchingQueueEntry, null().cast(String).label("position")

    def of(column: QueryableAttribute[str]) -> ColumnElement[bool]:
        return column.in_(bindparam("ids", expanding=True))

    return union_all(
        select(literal(ROUTED).label("found"), routed.event_id, routed.position)
        .where(of(routed.event_id)),
        select(literal(ACCEPTED), accepted.event_id, nothing).where(of(accepted.event_id)),
        select(literal(PATTERNS), patterns.event_id, nothing).where(of(patterns.event_id)),
        select(literal(QUEUED), queue.event_id, nothing).where(of(queue.event_id)),
    )  # fmt: skip


_SEEN_BEFORE = _seen_before()
_p = db.PatternRecord
# Built once, as _SEEN_BEFORE is: building a statement costs more than sending it.
_PATTERN_ROWS = select(_p.event_id, _p.person_id, _p.kind, _p.at, _p.outcome).where(
    _p.person_id.in_(bindparam("people", expanding=True))
)


def _queued(entry: db.MatchingQueueEntry) -> QueuedForMatching:
    return QueuedForMatching(entry.event_id, entry.front_door, entry.event_type,
                             entry.received_at, entry.sealed_event, entry.status, entry.people,
                             entry.matched_at)  # fmt: skip
