"""Where a reader of the directory's change log stands: the last id it has seen, and the ids
below that it has not (gaps), each with when it was first missed. Pure: the time comes in.

On PostgreSQL a change log id is allocated when a transaction inserts its row, and
transactions commit in any order (two administrators, an import and an edit): an id below
the newest committed may still appear (its transaction still open) or never (rolled back).
A gap is looked for again until it appears or ``GAP_PATIENCE`` has passed. Used by the
router's projection (directory_projection.py) and each process's copy of the organisations
(``SqlDirectory.organisations``).
"""

from collections.abc import Collection, Mapping

from sqlalchemy import ColumnElement, false, or_

from broker.adapters import db

GAP_PATIENCE = 300.0  # seconds an unseen change log id is looked for again
# Ids below the newest that a reader starting from nothing (a load) looks for, as gaps: a
# change whose transaction was open while it read commits later, under a lower id.
RECENT_IDS = 1_000

Gaps = dict[int, float]  # change log id: when first missed (a monotonic clock's seconds)


def advanced(
    seen: int, gaps: Mapping[int, float], read: Collection[int], now: float
) -> tuple[int, Gaps]:
    """The position once ``read`` (the ids after ``seen``, and the gaps that appeared) have
    been read: the ids skipped between ``seen`` and the newest read are gaps from ``now``;
    those read are no longer, and those missed longer than GAP_PATIENCE are forgotten."""
    present = set(read)
    top = max(present, default=seen)
    still = {i: since for i, since in gaps.items() if i not in present}
    skipped = {i: now for i in range(seen + 1, top) if i not in present}
    return max(seen, top), unexpired(still | skipped, now)


def missing_recently(top: int, present: Collection[int], now: float) -> Gaps:
    """The ids among the RECENT_IDS below ``top`` not in ``present``, as gaps from ``now``
    (older ones are taken to have rolled back, as gaps are after GAP_PATIENCE)."""
    found = set(present)
    return {i: now for i in range(max(top - RECENT_IDS, 0) + 1, top) if i not in found}


def recent(top: int) -> ColumnElement[bool]:
    """The change log rows among the RECENT_IDS below ``top``, and any after it."""
    newer: ColumnElement[bool] = db.DirectoryChange.id > top - RECENT_IDS
    return newer


def unexpired(gaps: Mapping[int, float], now: float) -> Gaps:
    """The gaps missed for less than GAP_PATIENCE (a transaction open that long is taken to
    have rolled back: its id will never appear)."""
    cutoff = now - GAP_PATIENCE
    return {i: since for i, since in gaps.items() if since > cutoff}


def unseen(seen: int, gaps: Collection[int]) -> ColumnElement[bool]:
    """The change log rows not yet read: after ``seen``, or one of the gaps. Without gaps,
    the first alone: an ``OR`` with a bound ``false`` kept PostgreSQL's generic plan for the
    statement from the index's bound, and every read walked the whole log (2 ms for each
    routing group at 60,000 changes, growing with the log)."""
    newer: ColumnElement[bool] = db.DirectoryChange.id > seen
    return or_(newer, among(gaps)) if gaps else newer


def among(gaps: Collection[int]) -> ColumnElement[bool]:
    """The change log rows that are one of the gaps, asked as runs of consecutive ids: a
    rolled-back import leaves tens of thousands in one run, and one parameter per id would
    pass asyncpg's 32,767 and fail every read until the gaps expire."""
    change_id = db.DirectoryChange.id
    spans = [change_id.between(first, last) for first, last in runs(gaps)]
    return or_(*spans) if spans else false()


def runs(ids: Collection[int]) -> list[tuple[int, int]]:
    """The ids as runs of consecutive ids, each (first, last), in order."""
    found: list[tuple[int, int]] = []
    for i in sorted(ids):
        if found and found[-1][1] == i - 1:
            found[-1] = (found[-1][0], i)
        else:
            found.append((i, i))
    return found
