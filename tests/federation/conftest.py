"""Two complete brokers side by side on one machine, for the cross-border tests (issue 16).

``federation`` (module scope) gives a ``Federation``: broker A, a Welsh partnership (Newport,
W06000022: the Morgan family, Owen on the child protection register, a history of a crisis
and missed appointments), and broker B, an English one (Bristol, E06000023: a front door, the
school and the GP the Morgans will join, and a family of its own). Each broker is complete and
its own (``harness.running_broker``): topic prefix and consumer groups on the one Kafka,
database (SQLite files; PostgreSQL, a database each, when ``SGB_TEST_POSTGRES_URL`` is set),
broker keys, agency and recipient keys, directory, and processes: router, delivery worker,
gateway, inbox API and admin API, the last three on ``http://127.0.0.1:<port>``. Each test
module gets a pair of its own, so a module may register peers and move the family; its tests
share the pair and tell their own events apart by event id (``started_federation`` starts
another pair, for a test that must own one).

Registering A and B as each other's peers (wt-fed-peer builds peers; as its branch stood at
07:40 UTC): each broker is an organisation of kind ``peer_broker`` in the other's directory,
with the other's broker keys (``Broker.hpke_public_key`` to seal transfers to it,
``Broker.signing_public_key`` to verify what it signs and its sign-in at the gateway) and its
gateway (``/v1/peers/transfers`` there). ``Broker.as_peer`` gives those fields as
``schemas.peers.PeerSpec`` names them; each side registers the other through its admin API,
as its front door, the directory's administrator here::

    async def register_peers(pair: Federation) -> None:
        for here, there in ((pair.a, pair.b), (pair.b, pair.a)):
            spec = there.as_peer(known_there_as=f"peer-{here.partnership.name.lower()}")
            answer = await here.admin.put(f"/v1/admin/peers/{spec['id']}", json=spec)
            assert answer.status_code in (200, 201), answer.text

A's delivery worker then pushes a transfer to B's gateway: webhooks to loopback are allowed in
these brokers' settings. ``partnerships.move(WALES, ENGLAND, moved_on)`` is the Morgans' move,
for A's front door to publish.
The set-up time of each pair is printed in the test report ("federation harness set-up").
"""

import asyncio
import os
import shutil
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from broker.config import WebhookSettings

from .harness import Broker, running_broker
from .partnerships import ENGLAND, WALES, history

POSTGRES_URL_VARIABLE = "SGB_TEST_POSTGRES_URL"
SETUP_KEY = pytest.StashKey[list[str]]()


@dataclass
class Federation:
    a: Broker  # Wales
    b: Broker  # England
    history: list[str]  # ids of the events A held about the Morgans before the tests began
    setup_seconds: float


class FederationDatabases:
    """A migrated, empty database per broker: a SQLite file copied from the session's
    template, or a copy of the PostgreSQL template (dropped in the background afterwards)."""

    def __init__(self, source: Any, folder: Path) -> None:
        self.source, self.folder = source, folder
        self.created: list[str] = []

    async def new(self) -> str:
        if isinstance(self.source, Path):
            path = self.folder / f"broker{len(self.created)}.db"
            shutil.copyfile(self.source, path)
            self.created.append(str(path))
            return f"sqlite+aiosqlite:///{path}"
        name = await self.source.create(migrated=True)
        self.created.append(name)
        url: str = self.source.url_of(name)
        return url

    def remove_all(self) -> None:
        if not isinstance(self.source, Path):
            for name in self.created:
                self.source.drop_later(name)


@pytest.fixture(scope="module")
def federation_database_source(request: pytest.FixtureRequest) -> Any:
    """PostgreSQL's server when SGB_TEST_POSTGRES_URL is set, else the SQLite template: one
    backend per run, not both (two brokers per backend would double the harness's set-up)."""
    name = "postgres_server" if os.environ.get(POSTGRES_URL_VARIABLE) else "sqlite_template"
    return request.getfixturevalue(name)


@pytest.fixture(scope="module")
async def federation_databases(
    federation_database_source: Any, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[FederationDatabases]:
    made = FederationDatabases(federation_database_source, tmp_path_factory.mktemp("fed-db"))
    yield made
    made.remove_all()


@asynccontextmanager
async def started_federation(
    kafka: str, urls: tuple[str, str], folder: Path, webhooks: WebhookSettings | None = None
) -> AsyncIterator[Federation]:
    """A and B started side by side (at once: their set-up waits are mostly Kafka's), A's
    history routed; both stopped on the way out. ``webhooks``: both brokers' pushing."""
    started = time.perf_counter()
    stacks = (AsyncExitStack(), AsyncExitStack())
    entered = await asyncio.gather(
        *(stack.enter_async_context(running_broker(p, kafka, url, folder / p.name, webhooks))
          for stack, p, url in zip(stacks, (WALES, ENGLAND), urls, strict=True)),
        return_exceptions=True,
    )  # fmt: skip
    try:
        for outcome in entered:
            if isinstance(outcome, BaseException):
                raise outcome
        a, b = entered
        assert isinstance(a, Broker)
        assert isinstance(b, Broker)
        held = await _with_history(a)
        yield Federation(a, b, held, time.perf_counter() - started)
    finally:
        await asyncio.gather(*(stack.aclose() for stack in stacks))


async def _with_history(a: Broker) -> list[str]:
    """Publishes A's history of the Morgans and waits until A's chronology holds all of it."""
    events = history(a.partnership, datetime.now(UTC))
    for event in events:
        await a.publish(event)
    ids = {str(event.event_id) for event in events}
    async with asyncio.timeout(60):
        while not ids <= {line["event_id"] for line in await a.chronology()}:
            await asyncio.sleep(0.2)
    return sorted(ids)


@pytest.fixture(scope="module")
async def federation(
    request: pytest.FixtureRequest,
    kafka_bootstrap: str,
    federation_databases: FederationDatabases,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Federation]:
    """Brokers A and B, shared by the module's tests: one set-up, one group join each."""
    urls = (await federation_databases.new(), await federation_databases.new())
    async with started_federation(
        kafka_bootstrap, urls, tmp_path_factory.mktemp("federation")
    ) as pair:
        report_setup(request.config, request.node.nodeid, pair.setup_seconds)
        yield pair


def report_setup(config: pytest.Config, where: str, seconds: float) -> None:
    """Prints a pair's set-up time now and in the run's summary (measured, never asserted)."""
    backend = "postgresql" if os.environ.get(POSTGRES_URL_VARIABLE) else "sqlite"
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    line = f"{where}: two brokers started in {seconds:.1f} s ({backend}; load average {load})"
    config.stash.setdefault(SETUP_KEY, []).append(line)
    print(f"\n{line}", flush=True)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = terminalreporter.config.stash.get(SETUP_KEY, [])
    if lines:
        terminalreporter.section("federation harness set-up")
        for line in lines:
            terminalreporter.write_line(line)
