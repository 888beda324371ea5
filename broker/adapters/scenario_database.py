"""The throwaway broker a scenario file runs on (services/scenario.py): a SQLite database in
a temporary directory, its schema created and its sessions keyed to chain the audit log, with
the broker's keys and the households' data keys beside it. All of it goes when the run ends.

A process replaying many scenarios migrates one database and makes one set of broker keys,
and each run starts from copies of them: the migrations took about a second a scenario and
the keys' files are synced to disk, where a copy takes milliseconds. The copies start each
run from the same state a fresh schema and fresh keys would (the template is never written
to after it is made).
"""

import shutil
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

DATABASE, KEYS = "scenario.db", "keys"


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
    template = await _template()
    with TemporaryDirectory(prefix="sgb-scenario-") as work:
        shutil.copyfile(template / DATABASE, Path(work) / DATABASE)
        shutil.copytree(template / KEYS, Path(work) / KEYS)
        engine = db.make_engine(f"sqlite+aiosqlite:///{Path(work) / DATABASE}")
        try:
            await db.create_schema(engine)  # at the newest migration already: a check
            keys = KeyStore.load(Path(work) / KEYS)
            sessions = db.sessions(engine, audit_key(Path(work) / KEYS))
            yield ScenarioDatabase(keys, FileDataKeys(Path(work) / "households"), sessions)
        finally:
            await engine.dispose()


_made: list[TemporaryDirectory[str]] = []  # the process's template, removed when it exits


async def _template() -> Path:
    """A migrated, empty database and a set of broker keys, made once a process."""
    if not _made:
        folder = TemporaryDirectory(prefix="sgb-scenario-template-")
        engine = db.make_engine(f"sqlite+aiosqlite:///{Path(folder.name) / DATABASE}")
        try:
            await db.create_schema(engine)
        finally:
            await engine.dispose()  # the last connection closing folds the WAL into the file
        KeyStore.create(Path(folder.name) / KEYS)
        _made.append(folder)
    return Path(_made[0].name)
