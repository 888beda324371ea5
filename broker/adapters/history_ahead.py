"""Household histories read ahead for a group of events: one query for the chronology of every
household the group's families live in, one for the areas they moved out of, instead of two
per event (14 % of routing, issue 14).

The lines read stay right for the whole group: its own lines are written at its end (the
routing service adds them on top, ``chronology.with_lines``). A move the group records
changes its households' areas: ``forget`` them, and their history is read afresh.
"""

from collections.abc import Collection
from datetime import date
from itertools import chain

from sqlalchemy.ext.asyncio import AsyncSession

from broker.adapters import chronology
from broker.rules.family import HouseholdHistory

IN_CHUNK = 900  # households per IN list (SQLite's bound-parameter limit, with room to spare)


class HistoriesAhead:
    """The chronology lines and the areas left of the households read, by household."""

    def __init__(self) -> None:
        self._lines: dict[str, list[chronology.Line]] = {}
        self._left: dict[str, list[tuple[str, date | None]]] = {}  # (area, moved out)

    async def read(self, session: AsyncSession, households: Collection[str]) -> None:
        unread = sorted(set(households) - self._lines.keys())
        for start in range(0, len(unread), IN_CHUNK):
            await self._read(session, unread[start : start + IN_CHUNK])

    async def _read(self, session: AsyncSession, households: list[str]) -> None:
        # Rows of the columns a history reads, not ORM objects: no identity map to keep,
        # and no facts (the longest column) to carry.
        lines = await session.execute(chronology.HISTORY_LINES, {"households": households})
        areas = await session.execute(chronology.AREAS_LEFT, {"households": households})
        self._lines.update((h, []) for h in households)
        self._left.update((h, []) for h in households)
        for line in lines:
            self._lines[line.household_id].append(line)
        for household_id, area, moved_out in areas:
            self._left[household_id].append((area, moved_out))

    def history(self, households: Collection[str]) -> HouseholdHistory | None:
        """The households' history as ``chronology.household_history`` reads it (lines in the
        order of (at, id), areas left in the order they were left); None unless every one of
        them was read."""
        if not households or any(h not in self._lines for h in households):
            return None
        lines = sorted(chain.from_iterable(self._lines[h] for h in households),
                       key=lambda line: (line.at, line.id))  # fmt: skip
        left = sorted(chain.from_iterable(self._left[h] for h in households),
                      key=lambda gone: gone[1] or date.min)  # fmt: skip
        return chronology.history_of(lines, tuple(dict.fromkeys(area for area, _ in left)))

    def forget(self, households: Collection[str]) -> None:
        for household_id in households:
            self._lines.pop(household_id, None)
            self._left.pop(household_id, None)
