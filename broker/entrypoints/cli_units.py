"""What the directory commands of ``sgb`` share: a unit of work on the configured database,
and a refusal printed as one line (exit 1), never a traceback."""

import asyncio
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from pydantic import ValidationError

from broker.errors import BrokerError

# The database's modules only where a unit is opened: ``sgb``'s start-up imports this module
# (for ``make_sqlite_folder``) in every command, those that never touch the database too.
if TYPE_CHECKING:
    from broker.adapters.unit_of_work import SqlUnitOfWork
    from broker.config import Settings

T = TypeVar("T")


@asynccontextmanager
async def unit(settings: "Settings") -> AsyncIterator["SqlUnitOfWork"]:
    """One transaction on SGB_DATABASE_URL (its schema made on first use), audited."""
    from broker.adapters import db
    from broker.adapters.unit_of_work import SqlUnitOfWork
    from broker.keys import audit_key

    engine = db.make_engine(settings.database_url)
    try:
        await db.create_schema(engine)
        async with SqlUnitOfWork(db.sessions(engine, audit_key(settings.keys_dir))) as uow:
            yield uow
    finally:
        await engine.dispose()


def run(work: Coroutine[Any, Any, T]) -> T:
    """Runs it; a refusal (an unknown record, a key on record) is its message, exit 1."""
    try:
        return asyncio.run(work)
    except BrokerError as exc:
        typer.echo(f"not changed: {exc}", err=True)
        raise typer.Exit(1) from None


def invalid(exc: ValidationError) -> typer.Exit:
    """Names the fields refused, never the values (a cell may hold personal data)."""
    fields = sorted({".".join(str(p) for p in e["loc"]) or "value" for e in exc.errors()})
    typer.echo(f"not changed: invalid {', '.join(fields)}", err=True)
    return typer.Exit(1)


def make_sqlite_folder(database_url: str) -> None:
    """A SQLite database's folder made on first use (``var/`` in a fresh clone), for its
    owner alone: SQLite makes the file, never the folders above it."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        Path(str(url.database)).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
