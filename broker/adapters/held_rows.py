"""Rows a group of events writes at its end, in one statement on PostgreSQL.

While a routing group defers its writes (``SqlRoutedEvents.writes_deferred``), a store adds
its rows here as plain dicts, held on the session, rather than as ORM objects: the ORM's
unit of work built, tracked and flushed one object per notice (a fifth of sealing in the
profile), where one multi-row insert per table at the group's write does the same. A read of
a held table in the group first writes what it holds, so the group reads its own rows as a
flush would have shown them. Outside a group, rows are written at once.
"""

from collections.abc import Collection, Mapping, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from broker.adapters import bulk, db
from broker.adapters.bulk import Row

_HELD = "sgb.held_rows"  # the session's ``info`` key: table model -> rows held


def hold(session: AsyncSession) -> None:
    """From now until ``write_all``, rows added through ``add`` are held."""
    session.info.setdefault(_HELD, {})


async def add(session: AsyncSession, model: type[db.Base], rows: Sequence[Row]) -> None:
    held: dict[type[db.Base], list[Row]] | None = session.info.get(_HELD)
    if held is None:
        await bulk.insert_all(session, model, rows)
    else:
        held.setdefault(model, []).extend(rows)


async def release(session: AsyncSession, model: type[db.Base]) -> None:
    """Writes the rows held for ``model``'s table, before a read of it sees the table."""
    held: dict[type[db.Base], list[Row]] | None = session.info.get(_HELD)
    if held and (rows := held.pop(model, None)):
        await bulk.insert_all(session, model, rows)


async def write_all(
    session: AsyncSession,
    also: Mapping[type[db.Base], Sequence[Row]] = {},
    skip_taken: Collection[type[db.Base]] = (),
) -> None:
    """Writes every held row, and the rows ``also`` given, in one statement on PostgreSQL
    (``bulk.insert_tables``, ``skip_taken`` as there), and holds nothing more."""
    held: dict[type[db.Base], list[Row]] = session.info.pop(_HELD, {})
    rows_of = dict(also)
    for model, rows in held.items():
        rows_of[model] = [*rows_of.get(model, ()), *rows]
    await bulk.insert_tables(session, rows_of, skip_taken)
