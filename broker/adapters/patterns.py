"""The pattern records of a group of events in SQL: each person's ED attendances, crises
and appointment outcomes, for the rolling-window patterns (rules/history.py).

Read once per person for the group, with the records of the group's earlier events kept in
memory on top, and written together at the group's end: a later event of the group sees an
earlier one in its history exactly as if it had been written first.
"""

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.adapters import bulk, db
from broker.adapters.bulk import Row
from broker.rules.history import Outcome, PersonHistory


class GroupPatterns:
    """What the group's events add to the pattern records, and each person's records read."""

    def __init__(self, recorded: set[str]) -> None:
        self._recorded = recorded  # events with a record, written or about to be
        self._new: list[Row] = []
        self._read: dict[str, list[Row]] = {}  # by person, as read, then with the group's

    @classmethod
    async def load(cls, session: AsyncSession, event_ids: Iterable[str]) -> "GroupPatterns":
        """Which of the group's events have a record already (an event routed again after
        its people were matched keeps the record its first routing made)."""
        table = db.PatternRecord
        found = await session.scalars(
            select(table.event_id).where(table.event_id.in_(list(event_ids)))
        )
        return cls(set(found))

    def record(
        self, event_id: str, person_id: str, kind: str, at: datetime, outcome: str | None
    ) -> None:
        """The event's record, unless it has one: the first record of an event stands."""
        if event_id in self._recorded:
            return
        self._recorded.add(event_id)
        row = {"event_id": event_id, "person_id": person_id, "kind": kind, "at": at,
               "outcome": outcome}  # fmt: skip
        self._new.append(row)
        if person_id in self._read:
            self._read[person_id].append(row)

    async def histories(
        self, session: AsyncSession, people: Iterable[str]
    ) -> dict[str, PersonHistory]:
        """Each person's history: one query for those not read yet in this group."""
        wanted = list(dict.fromkeys(people))
        unread = [p for p in wanted if p not in self._read]
        if unread:
            await self._read_records(session, unread)
        return {person_id: _history(self._read[person_id]) for person_id in wanted}

    async def write(self, session: AsyncSession) -> None:
        """The group's new records, in one statement; one another router wrote meanwhile for
        the same event stands (that router's routed-event record then stops this group)."""
        await bulk.insert_new(session, db.PatternRecord, "event_id", self._new)

    async def _read_records(self, session: AsyncSession, people: list[str]) -> None:
        table = db.PatternRecord
        found = await session.execute(
            select(table.event_id, table.person_id, table.kind, table.at, table.outcome)
            .where(table.person_id.in_(people))
        )  # fmt: skip
        rows = [dict(row) for row in found.mappings()]
        for person_id in people:
            self._read[person_id] = [r for r in rows if r["person_id"] == person_id]
        for row in self._new:  # the group's own, not yet written
            if row["person_id"] in people:
                self._read[row["person_id"]].append(row)


def _history(records: list[Row]) -> PersonHistory:
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
