"""The throwaway broker a scenario file runs on (services/scenario.py): a SQLite database in
a temporary directory, its schema created and its sessions keyed to chain the audit log, with
the broker's keys and the households' data keys beside it. All of it goes when the run ends.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.adapters import db
from broker.adapters.data_keys import FileDataKeys
from broker.adapters.directory_projection import DirectoryProjection
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.keys import KeyStore, audit_key


@dataclass(frozen=True)
class ScenarioDatabase:
    keys: KeyStore
    data_keys: FileDataKeys
    sessions: async_sessionmaker[AsyncSession]

    def unit_of_work(self, projection: "DirectoryProjection | None" = None) -> SqlUnitOfWork:
        """A unit of work on the scenario's database (a router's: over its projection)."""
        return SqlUnitOfWork(self.sessions, projection)


@asynccontextmanager
async def scenario_database() -> AsyncIterator[ScenarioDatabase]:
    with TemporaryDirectory(prefix="sgb-scenario-") as work:
        engine = db.make_engine(f"sqlite+aiosqlite:///{Path(work) / 'scenario.db'}")
        try:
            await db.create_schema(engine)
            keys = KeyStore.create(Path(work) / "keys")
            sessions = db.sessions(engine, audit_key(Path(work) / "keys"))
            yield ScenarioDatabase(keys, FileDataKeys(Path(work) / "households"), sessions)
        finally:
            await engine.dispose()
