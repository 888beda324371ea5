"""Shared pytest fixtures.

Infrastructure fixtures live here, one small section each; add new ones below the existing
sections. Kafka is found in this order: ``KAFKA_BOOTSTRAP_SERVERS`` from the environment, a
testcontainers Kafka when a Docker engine answers, else a local JVM broker
(``deploy.localkafka``, jars from Maven, no Docker needed). Under pytest-xdist (``make test``
runs two workers) the controller starts that broker once, for every worker.

Every test that touches the database runs twice, on SQLite and on PostgreSQL (ids ``sqlite``
and ``postgresql``), each time on a fresh database of its own. PostgreSQL is the server named
by ``SGB_TEST_POSTGRES_URL`` (``python -m deploy.localpostgres start`` runs one); without it
the postgresql variants are skipped, except under CI, where they fail. A test asking for
``directory`` gets a copy of a database the demo directory was loaded into once a session.
"""

from __future__ import annotations

import asyncio
import gc
import os
import shutil
import tempfile
import uuid
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from aiokafka.admin import AIOKafkaAdminClient
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from sqlalchemy import make_url, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from suite_order import SAME_WORKER_AS, SLOWEST_FIRST
from support import (
    OrgTokens,
    clear_of_the_front_doors_opening_or_closing,
    event_source,
    front_door_closed,
    inbox_owner,
    post_signed,
)

from broker import migrations
from broker.adapters import db
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.bootstrap import Runtime, runtime
from broker.config import Settings, TopicSettings
from broker.demo import family
from broker.entrypoints.gateway import create_gateway
from broker.entrypoints.inbox_api import create_inbox_api
from broker.keys import KeyStore, audit_key
from broker.services.directory_admin import load_directory
from consumers.delivery import run_delivery
from consumers.router import route_events, run_router

# Image for the Docker path; testcontainers' KafkaContainer drives Confluent's images.
KAFKA_TEST_IMAGE = os.environ.get("SGB_KAFKA_TEST_IMAGE", "confluentinc/cp-kafka:7.9.0")


# --------------------------------------------------------------------------- Kafka


def _docker_answers() -> bool:
    """True when a Docker engine responds to a ping (fails fast when there is none)."""
    if "DOCKER_HOST" not in os.environ and not Path("/var/run/docker.sock").exists():
        return False
    # docker-py leaks a socket when the engine does not answer; with warnings as errors that
    # ResourceWarning would fail the session, so collect it here with the warning ignored.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            import docker  # optional: only needed for this probe

            client = docker.from_env(timeout=3)
            try:
                return bool(client.ping())
            finally:
                client.close()
        except Exception:
            return False
        finally:
            gc.collect()


def _kafka_from_container() -> Iterator[str]:
    from testcontainers.community.kafka import KafkaContainer

    container = (
        KafkaContainer(KAFKA_TEST_IMAGE)
        .with_kraft()
        .with_env("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1")
        .with_env("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1")
        .with_env("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false")
    )
    with container:
        yield container.get_bootstrap_server()


_LOCAL_KAFKA_DATA: list[Path] = []
# Set by the xdist controller for its workers: the data directories of the broker it started.
KAFKA_DATA_VARIABLE = "SGB_TEST_KAFKA_DATA_DIRS"


def _kafka_from_jvm(workdir: Path) -> Iterator[str]:
    from deploy.localkafka import LocalKafkaCluster  # lazy: JVM path only

    with LocalKafkaCluster(workdir) as cluster:
        _LOCAL_KAFKA_DATA.extend(node.data_dir for node in cluster.nodes)
        yield cluster.bootstrap_servers


def _kafka_started(workdir: Path) -> Iterator[str]:
    """A broker of the tests' own: a container when Docker answers, else a local JVM."""
    if _docker_answers():
        yield from _kafka_from_container()
    else:
        yield from _kafka_from_jvm(workdir)


def _is_xdist_controller(config: pytest.Config) -> bool:
    return bool(getattr(config.option, "numprocesses", None)) and not hasattr(config, "workerinput")


def _uncached_structlog() -> None:
    """structlog's ``capture_logs`` cannot see a logger cached on first use: once any test
    (a CLI command, a process run in-process) configured logging with the production's
    caching, a later test's capture on the same worker read nothing. Tests never cache."""
    configure = structlog.configure

    def without_caching(**settings: Any) -> None:
        configure(**{**settings, "cache_logger_on_first_use": False})

    structlog.configure = without_caching


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist the controller starts the one broker every worker shares (one per
    worker would cost each its JVM's start and a gigabyte of heap): workers inherit its
    address, and its data directories for the tests that read the broker's disk."""
    _uncached_structlog()
    if not _is_xdist_controller(config):
        return
    # xdist's --dist loadfile hands out files most tests first (its --loadscope-reorder, on by
    # default), which undid SLOWEST_FIRST: the fuzzing file's two tests went out last and kept
    # one worker busy for minutes after the other had finished. Files go in collection order.
    config.option.loadscopereorder = False
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        return
    stack = ExitStack()
    config.add_cleanup(stack.close)
    workdir = Path(tempfile.mkdtemp(prefix="sgb-test-kafka-"))
    stack.callback(shutil.rmtree, workdir, ignore_errors=True)
    started = _kafka_started(workdir)
    stack.callback(started.close)  # leaves the broker's context: stops it
    os.environ["KAFKA_BOOTSTRAP_SERVERS"] = next(started)
    os.environ[KAFKA_DATA_VARIABLE] = os.pathsep.join(str(d) for d in _LOCAL_KAFKA_DATA)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """--dist loadfile, with the files of ``SAME_WORKER_AS`` handed out with their partner."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling  # only under xdist

    class TogetherScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            scope = super()._split_scope(nodeid)
            return SAME_WORKER_AS.get(scope, scope)

    return TogetherScheduling(config, log)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Moves the slowest files to the front, keeping every other order (a stable sort, after
    pytest has grouped the tests by database backend)."""
    rank = {path: index for index, path in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap servers of a Kafka broker shared by the whole session."""
    if env := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield env
    else:
        yield from _kafka_started(tmp_path_factory.mktemp("kafka"))


@pytest.fixture(scope="session")
def kafka_data_dirs(kafka_bootstrap: str) -> list[Path]:
    """The broker's log directories on disk, when the tests (or, under xdist, their
    controller) started the broker themselves."""
    shared = os.environ.get(KAFKA_DATA_VARIABLE, "")
    return list(_LOCAL_KAFKA_DATA) or [Path(d) for d in shared.split(os.pathsep) if d]


_PREFIXES_USED: set[str] = set()


def new_topic_prefix() -> str:
    """A unique topic/group prefix, so tests never see each other's messages; its topics are
    deleted at the session's end from a Kafka broker that outlives it (see below)."""
    prefix = f"t-{uuid.uuid4().hex[:10]}."
    _PREFIXES_USED.add(prefix)
    return prefix


@pytest.fixture
def topic_prefix() -> str:
    return new_topic_prefix()


@pytest.fixture(scope="session", autouse=True)
def _topics_deleted_at_the_end() -> Iterator[None]:
    """On a broker the tests did not start (``KAFKA_BOOTSTRAP_SERVERS`` given before the run, a
    developer's long-lived one), the session's topics go with it: each holds files open, and
    sessions that left theirs behind piled up towards the broker's open-file limit. A broker
    the tests started (the xdist controller names its data directories) goes whole."""
    yield
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if bootstrap and KAFKA_DATA_VARIABLE not in os.environ and not _LOCAL_KAFKA_DATA:
        asyncio.run(_delete_topics(bootstrap, tuple(_PREFIXES_USED)))


async def _delete_topics(bootstrap: str, prefixes: tuple[str, ...]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        await admin.start()
        made = [t for t in await admin.list_topics() if t.startswith(prefixes)]
        for start in range(0, len(made), 200):
            await admin.delete_topics(made[start : start + 200])
    except Exception as exc:  # a broker already gone: nothing to tidy
        warnings.warn(f"the session's topics were not deleted: {exc!r}", stacklevel=1)
    finally:
        await admin.close()


# --------------------------------------------------------------------------- databases

POSTGRES_URL_VARIABLE = "SGB_TEST_POSTGRES_URL"


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_backend(request: pytest.FixtureRequest) -> str:
    """Which database this variant of a database-backed test runs on."""
    backend: str = request.param
    if backend == "postgresql" and not os.environ.get(POSTGRES_URL_VARIABLE):
        message = f"{POSTGRES_URL_VARIABLE} is not set (python -m deploy.localpostgres start)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return backend


async def migrated_to_the_models(url: str) -> None:
    """Brings a template database to head; fails every database test, saying why, when the
    models have changed with no migration (they would fail anyway, less clearly)."""
    engine = db.make_engine(url)
    try:
        await db.create_schema(engine)
        drift = await migrations.differences(engine)
    finally:
        # No connection may stay: PostgreSQL copies a template only while nobody is connected
        # to it, and SQLite's last connection checkpoints the WAL into the file.
        await engine.dispose()
    if drift:
        pytest.fail(
            f"the models differ from the migrations: {drift}\n"
            'make a revision (make migration m="what changed") and review it'
        )


class PostgresServer:
    """Makes a database per test on the server named by ``SGB_TEST_POSTGRES_URL``: a copy of
    a template brought to head by the migrations once a session (a copy takes a tenth of a
    second, migrating each one twice that). The next copy of a template is made, and a test's
    databases dropped, in the background: the server works while the tests run, on the other
    core, rather than between them (0.1 s to over 1 s each on a busy machine)."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.admin = db.make_engine(url).execution_options(isolation_level="AUTOCOMMIT")
        self.template = f"sgb_template_{uuid.uuid4().hex[:12]}"
        self.other_templates: list[str] = []  # made during the session, dropped at its end
        self.spares: dict[str, asyncio.Task[str]] = {}  # the next copy of each template
        self.dropping: set[asyncio.Task[None]] = set()

    def url_of(self, database: str) -> str:
        return self.url.set(database=database).render_as_string(hide_password=False)

    async def execute(self, statement: str) -> None:
        async with self.admin.connect() as connection:
            await connection.execute(text(statement))

    async def create_template(self) -> None:
        await self.execute(f"CREATE DATABASE {self.template}")
        await migrated_to_the_models(self.url_of(self.template))

    async def create(self, *, migrated: bool, template: str | None = None) -> str:
        """A new database: a copy of ``template``, of the migrated template, or empty."""
        source = template or (self.template if migrated else "template0")
        spare = self.spares.pop(source, None)
        name = await spare if spare else await self._copy(source)
        if source != "template0":  # the empty database is asked for by a few tests only
            self.spares[source] = asyncio.ensure_future(self._copy(source))
        return name

    async def _copy(self, template: str) -> str:
        name = f"sgb_test_{uuid.uuid4().hex[:12]}"
        # FILE_COPY copies the template's files (checkpointing first, cheap with fsync off);
        # PostgreSQL 15's default, WAL_LOG, writes every page through the WAL: 47-79 ms a copy
        # against 19 on the tests' server, over two thousand copies a run.
        await self.execute(f"CREATE DATABASE {name} TEMPLATE {template} STRATEGY FILE_COPY")
        return name

    async def drop(self, name: str) -> None:
        await self.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def drop_later(self, name: str) -> None:
        task = asyncio.ensure_future(self.drop(name))
        self.dropping.add(task)
        task.add_done_callback(self.dropping.discard)

    async def close(self) -> None:
        spares = await asyncio.gather(*self.spares.values(), return_exceptions=True)
        await asyncio.gather(*self.dropping)
        for name in (*[s for s in spares if isinstance(s, str)], *self.other_templates):
            await self.drop(name)
        await self.drop(self.template)
        await self.admin.dispose()


@pytest.fixture(scope="session")
async def postgres_server() -> AsyncIterator[PostgresServer]:
    server = PostgresServer(os.environ[POSTGRES_URL_VARIABLE])
    await server.create_template()
    yield server
    await server.close()


@pytest.fixture(scope="session")
async def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file brought to head by the migrations once a session, copied per test."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    await migrated_to_the_models(f"sqlite+aiosqlite:///{path}")
    return path


class Databases:
    """Fresh databases for one test, on its variant's backend, removed after it."""

    def __init__(self, source: PostgresServer | Path, folder: Path) -> None:
        self.source, self.folder = source, folder
        self.created: list[str] = []

    async def new(self, *, migrated: bool = True, template: str | Path | None = None) -> str:
        """The URL of a database of its own: at the newest migration, or with no tables, or a
        copy of ``template`` (a database name on PostgreSQL, a file on SQLite)."""
        if isinstance(self.source, PostgresServer):
            assert template is None or isinstance(template, str)
            name = await self.source.create(migrated=migrated, template=template)
            self.created.append(name)
            return self.source.url_of(name)
        path = self.folder / f"db{len(self.created)}.db"
        if migrated or template is not None:
            shutil.copyfile(template or self.source, path)
        self.created.append(str(path))
        return f"sqlite+aiosqlite:///{path}"

    async def remove_all(self) -> None:
        if isinstance(self.source, PostgresServer):
            for name in self.created:
                self.source.drop_later(name)


@pytest.fixture
def database_source(request: pytest.FixtureRequest, database_backend: str) -> PostgresServer | Path:
    """The variant's template: the SQLite file, or the PostgreSQL server with its template.
    Only the backend in use is started (so a SQLite-only run needs no PostgreSQL)."""
    name = "postgres_server" if database_backend == "postgresql" else "sqlite_template"
    source: PostgresServer | Path = request.getfixturevalue(name)
    return source


@pytest.fixture
async def databases(
    database_source: PostgresServer | Path, tmp_path: Path
) -> AsyncIterator[Databases]:
    folder = tmp_path / "databases"
    folder.mkdir()
    made = Databases(database_source, folder)
    yield made
    await made.remove_all()


class DirectoryTemplates:
    """The demo partnership and the Carter family, loaded once a session (per backend, and per
    day: the directory is dated) into a database that each test asking for ``directory`` gets
    a copy of. Loading it per test cost 0.1-0.3 s on SQLite and 0.5-2.5 s on PostgreSQL, in
    about 300 tests. Its audit chain is made with the key in ``keys_dir``, so those tests get
    a copy of that folder as their broker keys."""

    def __init__(
        self,
        folder: Path,
        recipient_pairs: dict[str, family.RecipientKey],
        producer_keys: dict[str, Ed25519PrivateKey],
    ) -> None:
        self.folder, self.keys_dir = folder, folder / "keys"
        self.recipient_pairs, self.producer_keys = recipient_pairs, producer_keys
        KeyStore.create(self.keys_dir)
        audit_key(self.keys_dir)  # made now, so every copy of the folder holds the same one
        self.made: dict[tuple[str, date], str | Path] = {}
        self.copies: set[str] = set()  # the URLs of the tests' copies, for ``directory``

    async def template(self, source: PostgresServer | Path, today: date) -> str | Path:
        """The database holding the directory dated ``today`` on ``source``'s backend."""
        backend = "postgresql" if isinstance(source, PostgresServer) else "sqlite"
        if (backend, today) not in self.made:
            if isinstance(source, PostgresServer):
                self.made[backend, today] = await self._on_postgres(source, today)
            else:
                self.made[backend, today] = await self._on_sqlite(source, today)
        return self.made[backend, today]

    async def _on_postgres(self, server: PostgresServer, today: date) -> str:
        name = await server.create(migrated=True)
        server.other_templates.append(name)
        await self._load(server.url_of(name), today)
        return name

    async def _on_sqlite(self, migrated: Path, today: date) -> Path:
        path = self.folder / f"directory-{today}.db"
        shutil.copyfile(migrated, path)
        await self._load(f"sqlite+aiosqlite:///{path}", today)
        return path

    async def _load(self, url: str, today: date) -> None:
        engine = db.make_engine(url)
        try:
            await db.create_schema(engine)
            public = {cid: pair.public_text for cid, pair in self.recipient_pairs.items()}
            spec = family.directory(public, today, self.producer_keys)
            async with SqlUnitOfWork(db.sessions(engine, audit_key(self.keys_dir))) as uow:
                await load_directory(uow, spec)
        finally:
            await engine.dispose()  # nobody may stay connected to a template


@pytest.fixture(scope="session")
def demo_recipient_pairs() -> dict[str, family.RecipientKey]:
    return family.recipient_keys()


@pytest.fixture(scope="session")
def demo_producer_keys() -> dict[str, Ed25519PrivateKey]:
    return family.producer_keys()


@pytest.fixture(scope="session")
def directory_templates(
    tmp_path_factory: pytest.TempPathFactory,
    demo_recipient_pairs: dict[str, family.RecipientKey],
    demo_producer_keys: dict[str, Ed25519PrivateKey],
) -> DirectoryTemplates:
    folder = tmp_path_factory.mktemp("directory-templates")
    return DirectoryTemplates(folder, demo_recipient_pairs, demo_producer_keys)


def wants_directory(request: pytest.FixtureRequest) -> bool:
    """Whether the test asks for the demo directory, itself or through another fixture."""
    return "directory" in request.fixturenames


@pytest.fixture
async def database_url(
    request: pytest.FixtureRequest,
    databases: Databases,
    database_source: PostgresServer | Path,
    directory_templates: DirectoryTemplates,
    routed_templates: RoutedTemplates,
) -> str:
    """The test's own database, at the newest migration; holding the demo directory already
    when the test asks for ``directory``, and a ``Routed``'s results when it asks for
    ``already_routed``."""
    if "already_routed" in request.fixturenames:
        routed = request.getfixturevalue("already_routed")
        return await routed_templates.copy(routed, databases)
    if wants_directory(request):
        today = datetime.now(UTC).date()
        template = await directory_templates.template(database_source, today)
        url = await databases.new(template=template)
        directory_templates.copies.add(url)
        return url
    return await databases.new()


# --------------------------------------------------------------------------- the broker


@pytest.fixture(scope="session")
def broker_keys_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Broker keys made once a session, as ``KeyStore.create`` makes them, for the tests to
    copy: making them syncs each file to disk, 30-90 ms a test on the shared machine, where a
    copy takes under 10."""
    folder = tmp_path_factory.mktemp("broker-keys") / "keys"
    KeyStore.create(folder)
    return folder


@pytest.fixture
def settings(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    kafka_bootstrap: str,
    topic_prefix: str,
    database_url: str,
    directory_templates: DirectoryTemplates,
    broker_keys_template: Path,
    routed_templates: RoutedTemplates,
) -> Settings:
    """Settings for one test: its own database, keys (made as ``sgb keys-init`` makes them:
    no process makes its own; a copy of those the demo directory was loaded with, when the
    test asks for it, else of a set made once a session), topics and consumer groups."""
    if database_url in routed_templates.keys_of:  # the households' data keys with the rest
        shutil.copytree(routed_templates.keys_of[database_url], tmp_path / "keys")
    elif wants_directory(request):
        shutil.copytree(directory_templates.keys_dir, tmp_path / "keys")
    else:
        shutil.copytree(broker_keys_template, tmp_path / "keys")
    return Settings(
        kafka_bootstrap_servers=kafka_bootstrap,
        topic_prefix=topic_prefix,
        topics=TopicSettings(partitions=2),
        database_url=database_url,
        keys_dir=tmp_path / "keys",
        router_group=f"{topic_prefix}router",
        delivery_group=f"{topic_prefix}delivery",
        log_json=True,
    )


@pytest.fixture
def recipient_pairs(
    demo_recipient_pairs: dict[str, family.RecipientKey],
) -> dict[str, family.RecipientKey]:
    """Every demo recipient's key pair (the front door's post-quantum hybrid): made once a
    session, as the directory in the test's database holds their public halves."""
    return dict(demo_recipient_pairs)


@pytest.fixture
def recipient_keys(recipient_pairs: dict[str, family.RecipientKey]) -> dict[str, Any]:
    """Every demo recipient's own private key; the directory holds the public halves."""
    return {contact_id: pair.private for contact_id, pair in recipient_pairs.items()}


@pytest.fixture
def producer_keys(demo_producer_keys: dict[str, Ed25519PrivateKey]) -> dict[str, Ed25519PrivateKey]:
    """Each demo organisation's own key for signing the events it publishes (made once a
    session, as the directory in the test's database holds their public halves)."""
    return dict(demo_producer_keys)


@pytest.fixture
def directory(settings: Settings, directory_templates: DirectoryTemplates) -> None:
    """The demo partnership and the Carter family in the test's database, with the keys of
    ``recipient_pairs`` and ``producer_keys``: asking for this fixture makes the test's
    database a copy of one they were loaded into once a session (``DirectoryTemplates``)."""
    # Asked for in a test's signature or a fixture's, not by getfixturevalue once the
    # database was made: then it would be empty.
    assert settings.database_url in directory_templates.copies, "directory asked for too late"


@pytest.fixture
async def gateway(
    settings: Settings, directory: None, producer_keys: dict[str, Ed25519PrivateKey]
) -> AsyncIterator[httpx.AsyncClient]:
    """The HTTP gateway app, started with its lifespan, spoken to over ASGI, each request
    authenticated as the organisation whose event it carries."""
    async with _serve(create_gateway(settings), OrgTokens(producer_keys, event_source)) as client:
        yield client


@pytest.fixture
async def inbox(
    settings: Settings, directory: None, producer_keys: dict[str, Ed25519PrivateKey]
) -> AsyncIterator[httpx.AsyncClient]:
    """The inbox and front-door API, each request authenticated as the inbox's owner."""
    async with _serve(create_inbox_api(settings), OrgTokens(producer_keys, inbox_owner)) as client:
        yield client


@pytest.fixture
async def running_broker(settings: Settings, directory: None) -> AsyncIterator[Runtime]:
    """The router and the delivery worker consuming from the real Kafka broker."""
    async with broker_running(settings, run_router) as rt:
        yield rt


@pytest.fixture
async def untimed_broker(settings: Settings, directory: None) -> AsyncIterator[Runtime]:
    """The router without its timer, and the delivery worker: for a test that drives the timer
    itself with ``tick``. On the real clock the timer would act on its own, in the hour
    before a school day starts at once on a school's notice, and race the test."""
    async with broker_running(settings, route_events) as rt:
        yield rt


@asynccontextmanager
async def broker_running(
    settings: Settings, router: Callable[[Runtime, asyncio.Event], Awaitable[None]]
) -> AsyncIterator[Runtime]:
    """``router`` (``run_router``, or ``route_events`` without the timer) and the delivery
    worker, running until the block ends."""
    stop = asyncio.Event()
    async with runtime(settings, configure_logs=False) as rt:
        tasks = [asyncio.create_task(router(rt, stop)), asyncio.create_task(run_delivery(rt, stop))]
        try:
            yield rt
        finally:
            stop.set()
            await asyncio.gather(*tasks)


@asynccontextmanager
async def _serve(app: FastAPI, auth: httpx.Auth) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", auth=auth
        ) as client:
            yield client


@dataclass(frozen=True)
class Routed:
    """What a test needs routed before it starts: ``events`` published at the gateway, routed
    and delivered by the real router and delivery worker until ``ready`` (over the database)
    says they are through. A test asks for it with a fixture named ``already_routed``
    returning one; its database is then a copy of one they were routed into once a session
    (per backend and day), and its broker keys a copy of those they were routed with
    (``RoutedTemplates``)."""

    name: str
    events: Callable[[], list[dict[str, Any]]]
    ready: Callable[[async_sessionmaker[AsyncSession]], Awaitable[bool]]
    # What the directory needs besides the demo's before the events are published (a peer
    # registered, say), done on the template's settings.
    prepare: Callable[[Settings], Awaitable[None]] | None = None


async def every_notice_in_its_inbox(sessions: async_sessionmaker[AsyncSession]) -> bool:
    """A ``Routed``'s usual ``ready``: notices were routed, and each is published and in its
    recipient's inbox (none is left in flight on a topic the copies never read)."""
    async with sessions() as session:
        notices = set((await session.scalars(select(db.NoticeRecord.notice_id))).all())
        waiting = (await session.scalars(select(db.OutboxNotice.notice_id))).first()
        in_inboxes = set((await session.scalars(select(db.InboxNotice.notice_id))).all())
    return bool(notices) and waiting is None and notices <= in_inboxes


class RoutedTemplates:
    """Databases the demo directory and a ``Routed``'s events were routed into, once a
    session: a test that only reads or acts on what routing left (a notice in an inbox, an
    entry in the front door's queue) paid 0.5-1 s a test to run the gateway, the router and
    delivery for it. Each test gets a copy (``DirectoryTemplates`` copies the same way)."""

    def __init__(self, folder: Path, directory: DirectoryTemplates, kafka_bootstrap: str) -> None:
        self.folder, self.directory, self.kafka_bootstrap = folder, directory, kafka_bootstrap
        self.made: dict[tuple[str, str, date, bool], tuple[str | Path, Path]] = {}
        self.keys_of: dict[str, Path] = {}  # a test's database URL: the keys to copy for it

    async def copy(self, routed: Routed, databases: Databases) -> str:
        """The URL of the test's own copy of the database ``routed`` was routed into."""
        source, today = databases.source, datetime.now(UTC).date()
        backend = "postgresql" if isinstance(source, PostgresServer) else "sqlite"
        # Routing differs while the front door is closed (its emergency duty team is told too):
        # a template routed while it was open is not used once it has closed, nor the reverse.
        await clear_of_the_front_doors_opening_or_closing()
        made = (backend, routed.name, today, front_door_closed())
        if made not in self.made:
            self.made[made] = await self._route(routed, source, today)
        template, keys = self.made[made]
        url = await databases.new(template=template)
        self.directory.copies.add(url)  # it holds the directory too
        self.keys_of[url] = keys
        return url

    async def _route(
        self, routed: Routed, source: PostgresServer | Path, today: date
    ) -> tuple[str | Path, Path]:
        directory = await self.directory.template(source, today)
        made = f"routed-{routed.name}-{uuid.uuid4().hex[:8]}"
        keys = self.folder / made / "keys"
        shutil.copytree(self.directory.keys_dir, keys)
        if isinstance(source, PostgresServer):
            template, url = await self._on_postgres(source, directory)
        else:
            template, url = self._on_sqlite(directory, self.folder / made / "routed.db")
        prefix = new_topic_prefix()
        settings = Settings(
            kafka_bootstrap_servers=self.kafka_bootstrap, topic_prefix=prefix,
            topics=TopicSettings(partitions=2), database_url=url, keys_dir=keys,
            router_group=f"{prefix}router", delivery_group=f"{prefix}delivery", log_json=True,
        )  # fmt: skip
        if routed.prepare is not None:
            await routed.prepare(settings)
        await _route_through_the_broker(settings, routed, self.directory.producer_keys)
        return template, keys

    @staticmethod
    async def _on_postgres(server: PostgresServer, directory: str | Path) -> tuple[str, str]:
        name = await server.create(migrated=True, template=str(directory))
        server.other_templates.append(name)
        return name, server.url_of(name)

    @staticmethod
    def _on_sqlite(directory: str | Path, path: Path) -> tuple[Path, str]:
        shutil.copyfile(directory, path)
        return path, f"sqlite+aiosqlite:///{path}"


async def _route_through_the_broker(
    settings: Settings, routed: Routed, producer_keys: dict[str, Ed25519PrivateKey]
) -> None:
    """As the ``gateway`` and ``running_broker`` fixtures do for one test; everything stopped
    (and each engine disposed: a template may have nobody connected) once ``ready``. The
    router's timer does not run: a copy starts as routing left it, with no deadline acted on
    (in the hour before a school day starts, the timer would escalate the school's notice)."""
    async with broker_running(settings, route_events) as rt:
        auth = OrgTokens(producer_keys, event_source)
        async with _serve(create_gateway(settings), auth) as gateway:
            for event in routed.events():
                answer = await post_signed(gateway, event, producer_keys)
                assert answer.status_code == 202, answer.text
        async with asyncio.timeout(60):
            while not await routed.ready(rt.sessions):
                await asyncio.sleep(0.05)


@pytest.fixture(scope="session")
def routed_templates(
    tmp_path_factory: pytest.TempPathFactory,
    directory_templates: DirectoryTemplates,
    kafka_bootstrap: str,
) -> RoutedTemplates:
    folder = tmp_path_factory.mktemp("routed-templates")
    return RoutedTemplates(folder, directory_templates, kafka_bootstrap)
