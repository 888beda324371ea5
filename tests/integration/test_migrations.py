"""The Alembic migrations, on SQLite and on PostgreSQL: they build exactly the models' schema
(the drift test: it fails whenever someone changes the models without a revision), they undo
cleanly, concurrent starters migrate once, and ``sgb db-upgrade`` and the runtime bring an
empty database to head."""

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest
from alembic import command
from conftest import Databases
from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    inspect,
    text,
)
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from broker import migrations
from broker.adapters import db
from broker.bootstrap import runtime
from broker.config import Settings
from broker.entrypoints.cli import app

pytestmark = pytest.mark.integration


async def tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))


async def version_rows(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as connection:
        return list(await connection.scalars(text("SELECT version_num FROM alembic_version")))


def downgrade_to_base(connection: Connection) -> None:
    cfg = migrations.config()
    cfg.attributes["connection"] = connection
    command.downgrade(cfg, "base")


@pytest.fixture
async def empty(databases: Databases) -> AsyncIterator[AsyncEngine]:
    """An engine on a database of the test's own with no tables at all."""
    engine = db.make_engine(await databases.new(migrated=False))
    yield engine
    await engine.dispose()


class TestSchema:
    async def test_the_migrations_build_exactly_the_models_schema(self, empty: AsyncEngine) -> None:
        """Every table, column, type, nullability, index and key of the models, and nothing
        else. If this fails, the models changed without a migration: make migration
        m="what changed", review the revision, and commit it with the models."""
        await migrations.upgrade(empty)
        assert await migrations.differences(empty) == []
        assert await tables(empty) == {*migrations.metadata().tables, "alembic_version"}

    async def test_a_model_changed_without_a_revision_is_found(self, empty: AsyncEngine) -> None:
        """The comparison sees a change: here a new column, a widened one and a new table."""
        await migrations.upgrade(empty)
        changed = MetaData()
        for table in migrations.metadata().tables.values():
            table.to_metadata(changed)
        changed.tables["households"].append_column(Column("nickname", String(20)))
        changed.tables["organisations"].c.phone.type = String(80)
        Table("webhooks", changed, Column("id", Integer, primary_key=True))
        found = await migrations.differences(empty, changed)
        kinds = sorted(diff[0][0] if isinstance(diff, list) else diff[0] for diff in found)
        assert kinds == ["add_column", "add_table", "modify_type"]

    async def test_the_database_records_the_head_revision(self, empty: AsyncEngine) -> None:
        await migrations.upgrade(empty)
        assert migrations.head() is not None
        assert await version_rows(empty) == [migrations.head()]

    async def test_downgrade_removes_everything_and_upgrade_rebuilds_it(
        self, empty: AsyncEngine
    ) -> None:
        await migrations.upgrade(empty)
        async with empty.begin() as connection:
            await connection.run_sync(downgrade_to_base)
        assert await tables(empty) == {"alembic_version"}
        assert await version_rows(empty) == []
        await migrations.upgrade(empty)
        assert await migrations.differences(empty) == []

    async def test_upgrading_a_database_at_head_changes_nothing(self, empty: AsyncEngine) -> None:
        await migrations.upgrade(empty)
        async with db.sessions(empty).begin() as session:
            session.add(db.Household(id="hh-1", area="E09000001"))
        await migrations.upgrade(empty)
        async with db.sessions(empty)() as session:
            assert await session.get(db.Household, "hh-1") is not None
        assert await version_rows(empty) == [migrations.head()]


class TestConcurrentStarts:
    async def test_processes_starting_together_migrate_once(self, databases: Databases) -> None:
        """Three engines (as three processes starting at once) upgrade one empty database:
        the lock lets one migrate, and the others find it at head."""
        url = await databases.new(migrated=False)
        engines = [db.make_engine(url) for _ in range(3)]
        try:
            await asyncio.gather(*(db.create_schema(engine) for engine in engines))
            assert await version_rows(engines[0]) == [migrations.head()]
            assert await migrations.differences(engines[0]) == []
        finally:
            for engine in engines:
                await engine.dispose()


class TestEntryPoints:
    async def test_sgb_db_upgrade_brings_an_empty_database_to_head(
        self, databases: Databases
    ) -> None:
        url = await databases.new(migrated=False)
        env = {"SGB_DATABASE_URL": url}
        # The command runs its own event loop: in a thread, away from the test's.
        result = await asyncio.to_thread(CliRunner().invoke, app, ["db-upgrade"], env=env)
        assert (result.exit_code, result.output) == (
            0,
            f"database at revision {migrations.head()}\n",
        )
        engine = db.make_engine(url)
        try:
            assert await migrations.differences(engine) == []
        finally:
            await engine.dispose()

    async def test_the_runtime_migrates_the_database_it_opens(
        self, settings: Settings, databases: Databases
    ) -> None:
        empty = settings.model_copy(update={"database_url": await databases.new(migrated=False)})
        async with runtime(empty, configure_logs=False) as rt:
            assert await migrations.current(rt.engine) == migrations.head()


class TestRelationshipsMigration:
    async def test_parents_become_parents_of_the_children_they_live_with(
        self, empty: AsyncEngine
    ) -> None:
        """A directory from before relationships keeps working: the migration that brings
        them in ties each parent or carer to every child of the same household, and nobody
        else (not adults to adults, not children to children, not across households)."""
        await migrations.upgrade(empty, "025f254dba5f")
        async with empty.begin() as connection:
            for person in ("mum", "dad", "kid", "twin", "lodger-kid", "other-adult"):
                await connection.execute(
                    text("INSERT INTO people (id) VALUES (:id)"), {"id": person}
                )
            for home in ("h1", "h2"):
                await connection.execute(
                    text("INSERT INTO households (id, area) VALUES (:id, 'E09000099')"),
                    {"id": home},
                )
            members = [
                ("h1", "mum", "parent_or_carer"), ("h1", "dad", "parent_or_carer"),
                ("h1", "kid", "child"), ("h1", "twin", "child"),
                ("h2", "other-adult", "parent_or_carer"), ("h2", "lodger-kid", "child"),
            ]  # fmt: skip
            for home, person, role in members:
                await connection.execute(
                    text("INSERT INTO household_members (household_id, person_id, role) "
                         "VALUES (:h, :p, :r)"),
                    {"h": home, "p": person, "r": role},
                )  # fmt: skip
        await migrations.upgrade(empty)
        async with empty.connect() as connection:
            rows = await connection.execute(
                text("SELECT person_id, kind, related_person_id, derived FROM relationships")
            )
            ties = {(r[0], r[1], r[2], bool(r[3])) for r in rows}
        assert ties == {
            ("mum", "parent_of", "kid", True), ("mum", "parent_of", "twin", True),
            ("dad", "parent_of", "kid", True), ("dad", "parent_of", "twin", True),
            ("other-adult", "parent_of", "lodger-kid", True),
        }  # fmt: skip


def downgrade_to(revision: str) -> Callable[[Connection], None]:
    def downgrade(connection: Connection) -> None:
        cfg = migrations.config()
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, revision)

    return downgrade


BEFORE_OUTBOX = "ad560c433e16"


class TestOutboxMigration:
    async def test_unpublished_notices_move_to_the_outbox_and_back(
        self, empty: AsyncEngine
    ) -> None:
        """A notice recorded but not yet on Kafka when the outbox table comes in is still
        relayed: its sealed copy moves there, and a published one's does not. Undone, the
        outbox's entries are unpublished records again and the rest published."""
        await migrations.upgrade(empty, BEFORE_OUTBOX)
        made = datetime(2026, 11, 30, 9, tzinfo=UTC)
        async with empty.begin() as connection:
            for notice_id, sealed, published in (("n-waiting", '{"n": 1}', None),
                                                  ("n-sent", "", made)):  # fmt: skip
                await connection.execute(
                    text("INSERT INTO notice_records (notice_id, chain_id, level, event_id, "
                         "household, recipient_id, recipient_org, notice_type, severity, "
                         "rule_id, created_at, deadline, escalate_to, body, sealed, "
                         "published_at) VALUES (:id, :id, 0, 'e-1', 'hh', 'school:key_adult', "
                         "'school', 'school_support', 'high', 'rule', :made, :made, '[]', "
                         "'wrapped', :sealed, :published)").bindparams(
                        bindparam("made", type_=DateTime(timezone=True)),
                        bindparam("published", type_=DateTime(timezone=True))),
                    {"id": notice_id, "made": made, "sealed": sealed, "published": published},
                )  # fmt: skip
        await migrations.upgrade(empty)
        async with empty.connect() as connection:
            query = text("SELECT notice_id, recipient_id, sealed FROM notice_outbox")
            waiting = (await connection.execute(query)).all()
            records = set(await connection.scalars(text("SELECT notice_id FROM notice_records")))
        assert [tuple(row) for row in waiting] == [("n-waiting", "school:key_adult", '{"n": 1}')]
        assert records == {"n-waiting", "n-sent"}
        async with empty.begin() as connection:
            await connection.run_sync(downgrade_to(BEFORE_OUTBOX))
        async with empty.connect() as connection:
            back = (await connection.execute(text(
                "SELECT notice_id, sealed, published_at IS NULL FROM notice_records "
                "ORDER BY notice_id"))).all()  # fmt: skip
        assert [tuple(row) for row in back] == [("n-sent", "", False),
                                                 ("n-waiting", '{"n": 1}', True)]  # fmt: skip
