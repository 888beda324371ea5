"""The database's schema history: Alembic migrations, configured in code (no alembic.ini).

Every process brings its database to the newest revision when it starts (:func:`upgrade`,
called by ``db.create_schema``), and ``sgb db-upgrade`` does the same on its own, for a
deployment that migrates before it rolls out. Concurrent starters are serialised by a lock
taken in the migration's own transaction (an advisory lock on PostgreSQL, SQLite's write lock),
so the first one migrates and the others find the database already at head.

A change to the models in ``broker/adapters/db.py`` needs a revision: ``make migration
m="what changed"`` autogenerates one (review it before committing). The drift test in
``tests/integration/test_migrations.py`` fails while models and migrations disagree.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, MetaData, text
from sqlalchemy.ext.asyncio import AsyncEngine

HERE = Path(__file__).parent
# Any fixed 64-bit number will do: every migrating process takes the same one.
ADVISORY_LOCK_KEY = 0x5367_624D_6967_7261  # "SgbMigra"


def config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("path_separator", "os")
    if url is not None:
        # ConfigParser treats % as interpolation; a password may hold one.
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


@cache
def head() -> str | None:
    """The newest revision's id (None before the first)."""
    return ScriptDirectory.from_config(config()).get_current_head()


def metadata() -> MetaData:
    """The models' metadata, with every module that declares a table imported."""
    from broker.adapters import audit, db  # audit registers audit_log on db.Base

    del audit
    return db.Base.metadata


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Brings the database to ``revision`` in one transaction, holding the migration lock."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade, revision)


async def current(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or None before any."""
    async with engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )


async def differences(engine: AsyncEngine, target: MetaData | None = None) -> list[Any]:
    """What autogenerate finds between the database and the models (or ``target``): empty
    when they agree."""
    async with engine.connect() as connection:
        return await connection.run_sync(_differences, target or metadata())


def _upgrade(connection: Connection, revision: str) -> None:
    _take_lock(connection)
    if revision == "head" and _at(connection) == head():
        return  # the common case, a restart: no need to load the scripts
    cfg = config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)


def _at(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _take_lock(connection: Connection) -> None:
    """Holds every other migrating process back until this transaction ends."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    elif connection.dialect.name == "sqlite":
        # BEGIN IMMEDIATE takes SQLite's one write lock before reading anything, waiting out
        # the busy timeout. (A deferred transaction that reads first cannot wait: once another
        # process has committed, its snapshot is stale and SQLite refuses it at once.) The
        # migration's DDL then runs inside this transaction; pysqlite starts none of its own.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _differences(connection: Connection, target: MetaData) -> list[Any]:
    context = MigrationContext.configure(connection, opts=comparison_options())
    return list(compare_metadata(context, target))


def comparison_options() -> dict[str, Any]:
    """How autogenerate compares, the same for revisions and for the drift test."""
    return {"compare_type": True, "render_item": render_item}


def render_item(kind: str, obj: Any, autogen_context: Any) -> str | bool:
    """Renders our column types as plain SQLAlchemy ones, so that a revision never imports
    the models (which go on changing after it)."""
    from broker.adapters.db import UtcDateTime

    if kind == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False
