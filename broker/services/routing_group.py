"""A group of events routed as one unit of work, in memory: what was read for the whole group
before any of its events is decided, and what its events add until it is written at the end
(the store, ``RoutedEvents`` in broker/ports.py, reads and writes it).

The group's own earlier events count for its later ones as if written at once: ``routed``,
``queue``, ``patterns`` and ``chronology`` hold them.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from broker.ports import AuditRecord, QueuedForMatching
from broker.rules.history import Outcome, PersonHistory

# One row as a table's columns name it (a pattern record, a chronology line, a routed event).
Row = Mapping[str, Any]
# A pattern record: event_id, person_id, kind ("ed", "crisis", "appointment"), at, outcome.
PatternRow = Row


class PatternReader(Protocol):
    async def pattern_rows(self, people: list[str]) -> list[PatternRow]: ...


class GroupPatterns:
    """What the group's events add to the pattern records, and each person's records read:
    read once per person for the group, the group's own records kept on top."""

    def __init__(self, recorded: set[str]) -> None:
        self._recorded = recorded  # events with a record, written or about to be
        self.new: list[PatternRow] = []
        self._read: dict[str, list[PatternRow]] = {}  # by person, as read, then with the group's

    def record(
        self, event_id: str, person_id: str, kind: str, at: datetime, outcome: str | None
    ) -> None:
        """The event's record, unless it has one: the first record of an event stands (an
        event routed again after its people were matched keeps the one its first routing
        made)."""
        if event_id in self._recorded:
            return
        self._recorded.add(event_id)
        row = {"event_id": event_id, "person_id": person_id, "kind": kind, "at": at,
               "outcome": outcome}  # fmt: skip
        self.new.append(row)
        if person_id in self._read:
            self._read[person_id].append(row)

    async def histories(
        self, store: PatternReader, people: Iterable[str]
    ) -> dict[str, PersonHistory]:
        """Each person's history: one read for those not read yet in this group."""
        wanted = list(dict.fromkeys(people))
        await self.read(store, wanted)
        return {person_id: _history(self._read[person_id]) for person_id in wanted}

    async def read(self, store: PatternReader, people: Iterable[str]) -> None:
        """Reads the records of those of ``people`` not read yet in this group, in one read
        (the whole group's people at once, before its first event: one query, not one per
        event)."""
        unread = [p for p in dict.fromkeys(people) if p not in self._read]
        if not unread:
            return
        found: dict[str, list[PatternRow]] = {person_id: [] for person_id in unread}
        for row in await store.pattern_rows(unread):
            found[row["person_id"]].append(row)
        for row in self.new:  # the group's own, not yet written
            if row["person_id"] in found:
                found[row["person_id"]].append(row)
        self._read.update(found)


@dataclass
class GroupState:
    routed: dict[str, str | None]  # event id -> the Kafka record it was routed from
    accepted: set[str]  # event ids the gateway accepted (and audited)
    queue: dict[str, QueuedForMatching]  # matching-queue entries: changes are written
    patterns: GroupPatterns
    chronology: list[Row] = field(default_factory=list)
    routed_rows: list[Row] = field(default_factory=list)
    parked: list[str] = field(default_factory=list)  # queue entries new in this group
    audit: list[tuple[datetime, AuditRecord]] = field(default_factory=list)  # to append
    # The queue's entries as read, to tell which the group changed.
    queue_as_read: dict[str, tuple[str, str, str | None]] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        routed: dict[str, str | None],
        accepted: set[str],
        queue: Iterable[QueuedForMatching],
        patterns_recorded: set[str],
    ) -> "GroupState":
        entries = {e.event_id: e for e in queue}
        return cls(routed, accepted, entries, GroupPatterns(patterns_recorded),
                   queue_as_read={i: _queue_fields(e) for i, e in entries.items()})  # fmt: skip

    @classmethod
    def empty(cls) -> "GroupState":
        return cls.of({}, set(), [], set())

    def mark_routed(self, event_id: str, at: datetime, notices: int, position: str | None) -> None:
        self.routed[event_id] = position
        self.routed_rows.append({"event_id": event_id, "routed_at": at, "notices": notices,
                                 "position": position})  # fmt: skip

    def park(self, entry: QueuedForMatching) -> None:
        self.queue[entry.event_id] = entry
        self.parked.append(entry.event_id)

    def queue_changed(self) -> list[QueuedForMatching]:
        """The entries read that the group's events moved on (matched, or waiting again)."""
        return [entry for event_id, entry in self.queue.items()
                if event_id in self.queue_as_read
                and _queue_fields(entry) != self.queue_as_read[event_id]]  # fmt: skip


def _queue_fields(entry: QueuedForMatching) -> tuple[str, str, str | None]:
    return entry.status, entry.sealed_event, entry.people


def _history(records: list[PatternRow]) -> PersonHistory:
    return PersonHistory(
        ed_attendances=tuple(sorted(r["at"] for r in records if r["kind"] == "ed")),
        # A crisis event, or an ED attendance recorded as a parent's crisis presentation.
        crises=tuple(sorted(r["at"] for r in records if "crisis" in (r["kind"], r["outcome"]))),
        appointments=tuple(
            sorted((r["at"], _outcome(r["outcome"])) for r in records if r["kind"] == "appointment")
        ),
    )


def _outcome(value: str | None) -> Outcome:
    if value in ("attended", "cancelled_by_parent"):
        return value  # type: ignore[return-value]
    return "was_not_brought"
