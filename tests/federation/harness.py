"""One complete broker for the federation tests, run in this process on the tests' event loop.

``running_broker`` starts everything a partnership's broker runs, each the real thing: its keys
(made as ``sgb keys-init`` makes them), its database with its directory loaded, its topics
under a prefix of its own on the shared Kafka, the router (with its follow-up timer) and the
delivery worker (with its webhook dispatcher) consuming in consumer groups of its own, and the
gateway, the recipients' inbox API and the directory admin API served by uvicorn on loopback
ports, so that another broker reaches it over real HTTP. A ``Broker`` is what a test holds:
it publishes as the partnership's agencies, reads and opens recipients' notices with their
own keys, acknowledges, reads a household's chronology as the partnership's front door, and
administers the directory as its front door (``Broker.admin``).
"""

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from aiokafka import AIOKafkaConsumer, TopicPartition
from support import OrgTokens, event_source, fetch_sealed, post_signed

from broker.adapters.kafka import ConsumerHealth
from broker.bootstrap import Runtime, runtime
from broker.config import Settings, TopicSettings, WebhookSettings
from broker.entrypoints.admin_api import create_admin_api
from broker.entrypoints.gateway import create_gateway
from broker.entrypoints.inbox_api import create_inbox_api
from broker.keys import KeyStore, audit_key
from broker.services.directory_admin import load_directory
from consumers.delivery import run_delivery
from consumers.router import run_router
from producers import crypto
from producers.broker_keys import BrokerPublicKeys
from producers.receiver import NoticeReceiver
from schemas.events import Event
from schemas.notices import NoticeBody, NoticeHeader

from .partnerships import Keys, Partnership, directory

READY_WITHIN = 60.0  # seconds for a consumer to join its group, or a server to listen


def broker_settings(
    partnership: Partnership, kafka: str, database_url: str, keys_dir: Path,
    webhooks: WebhookSettings | None = None,
) -> Settings:  # fmt: skip
    """A broker's settings: its own topic prefix and consumer groups, webhooks allowed to
    loopback (where the other broker's gateway listens), and the partnership's front door as
    its directory's administrator. The timer turns every second, not five, so that what it
    relays (receipts, re-routed notices) shows within a test's wait. ``webhooks`` replaces
    the webhook settings (a fault test's quick retries); loopback stays allowed."""
    prefix = f"fed-{partnership.name.lower()}-{uuid.uuid4().hex[:8]}."
    loopback = [ip_network("127.0.0.0/8")]
    pushing = (webhooks or WebhookSettings(poll_seconds=0.2)).model_copy(
        update={"allowed_networks": loopback})  # fmt: skip
    return Settings(
        kafka_bootstrap_servers=kafka, topic_prefix=prefix, topics=TopicSettings(partitions=2),
        database_url=database_url, keys_dir=keys_dir, router_group=f"{prefix}router",
        delivery_group=f"{prefix}delivery", follow_up_interval_seconds=1.0,
        administrators=[partnership.front_door],
        webhooks=pushing, log_json=True,
    )  # fmt: skip


@dataclass
class Broker:
    """A running broker, as a test speaks to it: over HTTP, as its agencies and recipients."""

    partnership: Partnership
    keys: Keys  # the agencies' and recipients' own keys: the broker holds public halves only
    runtime: Runtime
    gateway_url: str
    inbox_url: str
    admin_url: str
    gateway: httpx.AsyncClient  # authenticated as each event's source organisation
    inbox: httpx.AsyncClient  # authenticated as each request's recipient or front door
    admin: httpx.AsyncClient  # authenticated as the front door, the directory's administrator
    gateway_server: "LoopbackServer"  # stopped and started again by a test whose peer goes down

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    @property
    def public_keys(self) -> BrokerPublicKeys:
        """The broker's own public keys: what a peer registers (HPKE to seal transfers to it,
        Ed25519 to verify what it signs)."""
        return self.runtime.keys.public

    @property
    def hpke_public_key(self) -> str:
        return crypto.encode_public(self.public_keys.hpke)

    @property
    def signing_public_key(self) -> str:
        return crypto.encode_public(self.public_keys.signing)

    def as_peer(self, known_there_as: str) -> dict[str, Any]:
        """This broker as the other registers it (``schemas.peers.PeerSpec``): its gateway
        and its recipient API (where receipts go) on ports of their own; ``known_there_as`` is
        the other broker's own organisation id here, which it signs in as at this gateway."""
        return {
            "id": f"peer-{self.partnership.name.lower()}", "name": self.partnership.title,
            "areas": [self.partnership.area], "gateway_url": self.gateway_url,
            "api_url": self.inbox_url,
            "broker_key": self.hpke_public_key,
            "signing_keys": [{"public_key": self.signing_public_key}],
            "known_there_as": known_there_as,
        }  # fmt: skip

    async def publish(self, event: Event) -> httpx.Response:
        """Posts the event to this broker's gateway, signed by its source organisation, which
        must be one of this partnership's agencies."""
        if event.source_org not in self.keys.producers:
            raise ValueError(f"{event.source_org} is not an agency of partnership "
                             f"{self.partnership.name}")  # fmt: skip
        answer = await post_signed(self.gateway, event, self.keys.producers)
        if answer.status_code not in (200, 202):
            raise AssertionError(f"gateway {self.partnership.name} answered {answer.status_code}")
        return answer

    async def notices(self, recipient: str) -> list[dict[str, Any]]:
        """The recipient's inbox listing (summaries: no content)."""
        answer = await self.inbox.get(f"/v1/recipients/{recipient}/notices")
        answer.raise_for_status()
        listed: list[dict[str, Any]] = answer.json()
        return listed

    async def wait_for_notice(
        self, recipient: str, event_id: object, timeout: float = 60
    ) -> dict[str, Any]:
        """The listed notice the recipient got about ``event_id``, once it is in the inbox."""
        async with asyncio.timeout(timeout):
            while True:
                for item in await self.notices(recipient):
                    if item["header"]["event_id"] == str(event_id):
                        return item
                await asyncio.sleep(0.2)

    async def open(self, recipient: str, notice_id: object) -> tuple[NoticeHeader, NoticeBody]:
        """Fetches the sealed notice and opens it with the recipient's own key, checking the
        broker's signature with this broker's public key."""
        sealed = await fetch_sealed(self.inbox, recipient, notice_id)
        return NoticeReceiver(self.keys.recipients[recipient], self.public_keys).open(sealed)

    async def acknowledge(self, recipient: str, notice_id: object) -> dict[str, Any]:
        answer = await self.inbox.post(
            f"/v1/recipients/{recipient}/notices/{notice_id}/acknowledgement"
        )
        answer.raise_for_status()
        acknowledged: dict[str, Any] = answer.json()
        return acknowledged

    async def chronology(self, household_id: str | None = None) -> list[dict[str, Any]]:
        """The household's chronology as this partnership's front door reads it."""
        household = household_id or self.partnership.household_id
        answer = await self.inbox.get(f"/v1/households/{household}/chronology")
        answer.raise_for_status()
        lines: list[dict[str, Any]] = answer.json()
        return lines

    async def event_ids_on_topic(self) -> set[str]:
        """The id of every event now on this broker's events topic (from each sealed event's
        header, which is in the clear; the event itself is not opened)."""
        topic = self.runtime.topics.events
        # No group: reading commits nothing and disturbs no consumer of the broker's own.
        consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap_servers,
                                    group_id=None, enable_auto_commit=False,
                                    auto_offset_reset="earliest")  # fmt: skip
        await consumer.start()
        try:
            partitions = [TopicPartition(topic, p) for p in range(self.settings.topics.partitions)]
            return {json.loads(json.loads(value)["header"])["event_id"]
                    for value in await _every_value(consumer, partitions)}  # fmt: skip
        finally:
            await consumer.stop()


async def _every_value(consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> list[bytes]:
    consumer.assign(partitions)
    ends = await consumer.end_offsets(partitions)
    values: list[bytes] = []
    while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
        batches = await consumer.getmany(*partitions, timeout_ms=1000)
        values += [record.value for records in batches.values() for record in records]
    return values


def owner_of(front_door: str) -> Callable[[httpx.Request], str | None]:
    """Whom an inbox request acts for: the recipient's organisation, from its path; the front
    door for a household's chronology."""

    def owner(request: httpx.Request) -> str | None:
        parts = request.url.path.strip("/").split("/")
        if len(parts) > 2 and parts[1] == "recipients":
            return parts[2].split(":")[0]
        if len(parts) > 2 and parts[1] == "front-doors":
            return parts[2]
        if len(parts) > 1 and parts[1] == "households":
            return front_door
        return None

    return owner


class LoopbackServer:
    """An app served by uvicorn (its lifespan too) on a loopback port of its own. A test may
    stop it, so that connections to the port are refused (the service is down, as a stopped
    container's would be), and start it again on the same port."""

    def __init__(self, app: Any) -> None:
        self.app = app
        # Bound before uvicorn starts, so no other process takes the port meanwhile.
        self._sock: socket.socket | None = _bound(0)
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        sock = self._sock = self._sock or _bound(self.port)
        config = uvicorn.Config(self.app, log_config=None, access_log=False, ws="none")
        self._server = server = uvicorn.Server(config)
        self._task = task = asyncio.create_task(server.serve(sockets=[sock]))
        await _until(lambda: server.started, task, "server")

    async def stop(self) -> None:
        """Stops serving and closes the port (uvicorn finishes the requests in flight)."""
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
        self._server = self._task = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _bound(port: int) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the port it had, at once
    sock.bind(("127.0.0.1", port))
    return sock


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[LoopbackServer]:
    """The app served on a loopback port of its own until the block ends."""
    server = LoopbackServer(app)
    try:
        await server.start()
        yield server
    finally:
        await server.stop()


async def _until(ready: Callable[[], bool], task: asyncio.Task[None], what: str) -> None:
    """Waits for ``ready``; fails at once, saying what, if the task ends first."""
    async with asyncio.timeout(READY_WITHIN):
        while not ready():
            if task.done():
                task.result()  # its exception, if it has one
                raise RuntimeError(f"the {what} stopped before it was ready")
            await asyncio.sleep(0.02)


@asynccontextmanager
async def consuming(rt: Runtime) -> AsyncIterator[None]:
    """The router and the delivery worker, started and waited for until each has joined its
    consumer group (so an event published next is routed without a rebalance's wait); told
    to stop, and awaited, on the way out."""
    stop = asyncio.Event()
    loops: list[tuple[Callable[..., Coroutine[Any, Any, None]], ConsumerHealth]] = [
        (run_router, ConsumerHealth()), (run_delivery, ConsumerHealth()),
    ]  # fmt: skip
    tasks = [asyncio.create_task(run(rt, stop, health)) for run, health in loops]
    try:
        for task, (_, health) in zip(tasks, loops, strict=True):
            await _until(lambda h=health: h.joined, task, "consumer")  # type: ignore[misc]
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks)


@asynccontextmanager
async def running_broker(
    partnership: Partnership, kafka: str, database_url: str, folder: Path,
    webhooks: WebhookSettings | None = None,
) -> AsyncIterator[Broker]:  # fmt: skip
    """A complete broker for ``partnership`` on a migrated, empty database: keys made, the
    directory loaded, every process running; all stopped on the way out."""
    keys_dir = folder / "keys"
    KeyStore.create(keys_dir)
    audit_key(keys_dir)  # made once here: every process of this broker chains with it
    settings = broker_settings(partnership, kafka, database_url, keys_dir, webhooks)
    keys = Keys.made_for(partnership)
    async with AsyncExitStack() as stack:
        rt = await stack.enter_async_context(runtime(settings, configure_logs=False))
        async with rt.unit_of_work() as uow:
            await load_directory(uow, directory(partnership, keys, datetime.now(UTC).date()))
        await stack.enter_async_context(consuming(rt))
        # Each API on a port of its own, as deploy/docker-compose.yml runs them: a peer
        # registers both URLs, and receipts reach the inbox API only if sent there.
        gateway_server = await stack.enter_async_context(serving(create_gateway(settings)))
        inbox_url = (await stack.enter_async_context(serving(create_inbox_api(settings)))).url
        admin_url = (await stack.enter_async_context(serving(create_admin_api(settings)))).url
        gateway_url = gateway_server.url
        gateway = await stack.enter_async_context(httpx.AsyncClient(
            base_url=gateway_url, auth=OrgTokens(keys.producers, event_source)))  # fmt: skip
        inbox = await stack.enter_async_context(httpx.AsyncClient(
            base_url=inbox_url, auth=OrgTokens(keys.producers, owner_of(partnership.front_door))
        ))  # fmt: skip
        admin = await stack.enter_async_context(httpx.AsyncClient(
            base_url=admin_url, auth=OrgTokens(keys.producers, lambda _: partnership.front_door)
        ))  # fmt: skip
        yield Broker(partnership, keys, rt, gateway_url, inbox_url, admin_url, gateway, inbox,
                     admin, gateway_server)  # fmt: skip
