"""A group of events routed as one unit of work, in SQL: what is read for the whole group
before any of its events is decided, and what is written for all of them after.

Read up front, one query each: which events were routed before (and from which Kafka
record), which the gateway accepted, their matching-queue entries, and which have pattern
records. Each person's pattern records are read once, when first needed. Written at the
end, one statement per table: routed events, pattern records, chronology lines, receipts
and audit entries, the audit chain's lock taken once, last, so that it is held only for
the commit. The group's own earlier events count for its later ones as if written at once:
``routed``, ``queue``, ``patterns`` and ``chronology`` hold them.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.adapters import audit as audit_log
from broker.adapters import bulk, chronology, db
from broker.adapters.bulk import Row
from broker.adapters.patterns import GroupPatterns


@dataclass
class GroupState:
    routed: dict[str, str | None]  # event id -> the Kafka record it was routed from
    accepted: set[str]  # event ids the gateway accepted (and audited)
    queue: dict[str, db.MatchingQueueEntry]  # loaded into the session: changes are kept
    patterns: GroupPatterns
    chronology: list[Row] = field(default_factory=list)
    routed_rows: list[Row] = field(default_factory=list)
    audit: list[tuple[datetime, audit_log.Entry]] = field(default_factory=list)  # to append

    @classmethod
    async def load(cls, session: AsyncSession, event_ids: Iterable[str]) -> "GroupState":
        ids = list(dict.fromkeys(event_ids))
        routed = (await session.execute(
            select(db.RoutedEvent.event_id, db.RoutedEvent.position)
            .where(db.RoutedEvent.event_id.in_(ids))
        )).all()  # fmt: skip
        accepted = await session.scalars(
            select(db.AcceptedEvent.event_id).where(db.AcceptedEvent.event_id.in_(ids))
        )
        queue = await session.scalars(
            select(db.MatchingQueueEntry).where(db.MatchingQueueEntry.event_id.in_(ids))
        )
        return cls(
            routed={r.event_id: r.position for r in routed},
            accepted=set(accepted),
            queue={e.event_id: e for e in queue},
            patterns=await GroupPatterns.load(session, ids),
        )

    def mark_routed(self, event_id: str, at: datetime, notices: int, position: str | None) -> None:
        self.routed[event_id] = position
        self.routed_rows.append({"event_id": event_id, "routed_at": at, "notices": notices,
                                 "position": position})  # fmt: skip

    def park(self, entry: db.MatchingQueueEntry, session: AsyncSession) -> None:
        self.queue[entry.event_id] = entry
        session.add(entry)

    async def append_audit(self, session: AsyncSession) -> None:
        """Appends the entries kept so far, in order, under the chain's lock (taken now if
        not yet held): one statement for each run of entries made at the same time."""
        pending, self.audit = self.audit, []
        start = 0
        for end in range(1, len(pending) + 1):
            if end == len(pending) or pending[end][0] != pending[start][0]:
                entries = [entry for _, entry in pending[start:end]]
                await audit_log.append_many(session, entries, pending[start][0])
                start = end

    async def write(self, session: AsyncSession) -> None:
        """Everything but the audit entries, before the chain's lock is taken: a write that
        must wait for another transaction's row (two routers on one event) waits unlocked.
        A routed event another router committed first fails the whole group here."""
        await bulk.insert_all(session, db.RoutedEvent, self.routed_rows)
        await self.patterns.write(session)
        await chronology.record_all(session, self.chronology)
        await session.flush()  # the notices and the rest of the session's rows

    async def fresh_receipts(
        self, session: AsyncSession, receipts: Sequence[tuple[str, datetime]]
    ) -> set[str]:
        """The receipts nobody recorded yet (the gateway may have, meanwhile), recorded now:
        under the chain's lock, which makes any other appender's row visible first. Whoever
        records an event's receipt writes its one ``event_received`` entry (as
        adapters/event_receipts.py does one event at a time)."""
        await audit_log.hold_lock(session)
        rows = [{"event_id": event_id, "path": "kafka", "received_at": at}
                for event_id, at in receipts]  # fmt: skip
        return await bulk.insert_new(session, db.EventReceipt, "event_id", rows)
