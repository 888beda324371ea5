"""Tables as the bulk import sees them: the rows it touches, read in a few statements, changed
in memory one record at a time (so that every record is judged as the per-record path would
judge it, a record named twice included), then written in a few statements.

``Rows`` keeps a table's rows by primary key (what ``directory_writes.put_row`` does row by
row); ``Children`` keeps a table's rows by owner, each owner's rows replaced whole (what
``directory_writes.replace_rows`` does). Both read and write through ``DirectoryRows``
(broker/ports.py).
"""

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from broker.ports import DirectoryRows, DirectoryTable, TableRow, TableShape
from broker.services.directory_changes import Delta

Key = tuple[Any, ...]
T = TypeVar("T")


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def complete(shape: TableShape, row: Mapping[str, Any]) -> TableRow:
    """Every column of the table, defaults filled, as the ORM would insert the row (one
    multi-row insert needs the same columns in each row)."""
    return dict(shape.defaults) | dict(row)


async def existing_ids(store: DirectoryRows, table: DirectoryTable, ids: Iterable[str]) -> set[str]:
    return {row["id"] for row in await store.select_in(table, "id", ids)}


class Rows:
    """One table's rows under the keys the import names: as read, and as the import leaves them."""

    def __init__(self, table: DirectoryTable, shape: TableShape) -> None:
        self.table = table
        self.shape = shape
        self.key = shape.key
        self.before: dict[Key, TableRow] = {}
        self.after: dict[Key, TableRow] = {}

    @classmethod
    def of(cls, store: DirectoryRows, table: DirectoryTable) -> "Rows":
        return cls(table, store.shape(table))

    async def load(self, store: DirectoryRows, keys: Iterable[Key]) -> None:
        wanted = set(keys)
        for row in await store.select_in(self.table, self.key[0], (k[0] for k in wanted)):
            key = tuple(row[name] for name in self.key)
            if key in wanted:
                self.before[key] = row
                self.after[key] = dict(row)

    def get(self, key: Key) -> TableRow | None:
        return self.after.get(key)

    def put(self, key: Key, values: Mapping[str, Any]) -> Delta:
        """Creates the row under ``key`` or updates it to ``values`` (as ``put_row``)."""
        row = self.after.get(key)
        if row is None:
            self.after[key] = complete(self.shape, {**dict(zip(self.key, key, strict=True)),
                                                    **values})  # fmt: skip
            return Delta(created=True, fields=[n for n, v in values.items() if v is not None])
        changed = [name for name, value in values.items() if row[name] != value]
        row.update({name: values[name] for name in changed})
        return Delta(created=False, fields=changed)

    async def write(self, store: DirectoryRows) -> None:
        """One multi-row insert for the new rows, one executemany update for the changed."""
        new = [row for key, row in self.after.items() if key not in self.before]
        changed = [row for key, row in self.after.items()
                   if key in self.before and row != self.before[key]]  # fmt: skip
        await store.insert(self.table, new)
        await store.update(self.table, changed)


class Children:
    """One table's rows by owner (an organisation's terms, a household's members...)."""

    def __init__(self, table: DirectoryTable, shape: TableShape, owner: str) -> None:
        self.table = table
        self.shape = shape
        self.owner = owner
        self.columns = tuple(shape.defaults)
        self.before: dict[Any, set[Key]] = {}
        self.after: dict[Any, list[TableRow]] = {}

    @classmethod
    def of(cls, store: DirectoryRows, table: DirectoryTable, owner: str) -> "Children":
        return cls(table, store.shape(table), owner)

    async def load(self, store: DirectoryRows, owners: Iterable[Any]) -> None:
        wanted = set(owners)
        self.before = {owner: set() for owner in wanted}
        for row in await store.select_in(self.table, self.owner, wanted):
            self.before[row[self.owner]].add(self._tuple(row))

    def replace(self, owner: Any, rows: Sequence[Mapping[str, Any]]) -> bool:
        """Makes ``rows`` the owner's only rows; True when that changed any (as
        ``replace_rows``)."""
        current = (
            {self._tuple(r) for r in self.after[owner]}
            if owner in self.after
            else self.before[owner]
        )
        if current == {self._tuple(row) for row in rows}:
            return False
        self.after[owner] = [complete(self.shape, row) for row in rows]
        return True

    async def write(self, store: DirectoryRows) -> None:
        """Deletes the changed owners' rows and inserts their new ones, a statement for each."""
        changed = [owner for owner, rows in self.after.items()
                   if {self._tuple(r) for r in rows} != self.before[owner]]  # fmt: skip
        if changed:
            await store.delete_in(self.table, self.owner, changed)
        await store.insert(self.table, [row for owner in changed for row in self.after[owner]])

    def _tuple(self, row: Mapping[str, Any]) -> Key:
        return tuple(row.get(column) for column in self.columns)
