"""The row-level writes one directory record goes through, over the unit of work's
``directory_rows`` (broker/ports.py); each change they make is recorded by
``directory_changes.record``, which names fields, never their values.
"""

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from broker.ports import DirectoryTable, TableRow, UnitOfWork
from broker.services.directory_changes import Delta, MissingReference, Outcome, record

Logged = Literal["created", "updated", "deleted"]


async def find(uow: UnitOfWork, table: DirectoryTable, key: Mapping[str, Any]) -> TableRow | None:
    """The row under the whole primary ``key``, if any (read by the key's first column)."""
    first, *_ = uow.directory_rows.shape(table).key
    rows = await uow.directory_rows.select_in(table, first, [key[first]])
    return next((row for row in rows if all(row[n] == v for n, v in key.items())), None)


async def require(uow: UnitOfWork, table: DirectoryTable, kind: str, key: str) -> None:
    """Raises MissingReference unless a ``table`` row with id ``key`` exists."""
    if await find(uow, table, {"id": key}) is None:
        raise MissingReference(kind, key)


def whole(uow: UnitOfWork, table: DirectoryTable, row: Mapping[str, Any]) -> TableRow:
    """A new row with every column: those it leaves out take the table's defaults."""
    return dict(uow.directory_rows.shape(table).defaults) | dict(row)


async def put_row(
    uow: UnitOfWork, table: DirectoryTable, key: Mapping[str, Any], values: Mapping[str, Any]
) -> Delta:
    """Creates the row under ``key`` or updates it to ``values``."""
    row = await find(uow, table, key)
    if row is None:
        await uow.directory_rows.insert(table, [whole(uow, table, {**key, **values})])
        return Delta(created=True, fields=[n for n, v in values.items() if v is not None])
    changed = [name for name, value in values.items() if row[name] != value]
    if changed:
        await uow.directory_rows.update(table, [{**key, **{n: values[n] for n in changed}}])
    return Delta(created=False, fields=changed)


async def replace_rows(
    uow: UnitOfWork, table: DirectoryTable, column: str, owner: Any, rows: Sequence[TableRow]
) -> bool:
    """Makes ``rows`` the only ``table`` rows whose ``column`` is ``owner``; True when that
    changed any."""
    columns = list(uow.directory_rows.shape(table).defaults)
    existing = await uow.directory_rows.select_in(table, column, [owner])
    before = {tuple(old[name] for name in columns) for old in existing}
    if before == {tuple(row.get(name) for name in columns) for row in rows}:
        return False
    await uow.directory_rows.delete_in(table, column, [owner])
    await uow.directory_rows.insert(table, [whole(uow, table, row) for row in rows])
    return True


async def log(uow: UnitOfWork, actor: str, entity: str, entity_id: str, delta: Delta) -> Outcome:
    """Records what ``delta`` did to the record, unless it did nothing."""
    if not delta.created and not delta.fields:
        return "unchanged"
    action: Logged = "created" if delta.created else "updated"
    await record(uow, actor, entity, entity_id, action, delta.fields)
    return action
