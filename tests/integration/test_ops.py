"""Health, readiness and metrics: the ops apps of the HTTP APIs and of the consumers, against
the real Kafka broker and database. Not ready is a 503 that says why; metrics carry no
personal data; none of it (nor the API documents) is on an API's public port."""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from broker.adapters import db, metrics
from broker.adapters.kafka import ConsumerHealth
from broker.bootstrap import runtime
from broker.config import Settings
from broker.demo import family
from broker.entrypoints import ops
from broker.entrypoints.gateway import create_gateway
from broker.entrypoints.inbox_api import create_inbox_api
from consumers.delivery import run_delivery
from deploy.ports import free_port

pytestmark = pytest.mark.integration


class TestHttpApps:
    async def test_gateway_is_ready_and_serves_metrics_on_its_ops_app(
        self, settings: Settings, directory: None
    ) -> None:
        """Readiness and metrics come from the ops app beside the API, not the API's port."""
        api = create_gateway(settings)
        async with api.router.lifespan_context(api), ops_client(api) as client:
            assert (await client.get("/health")).json() == {"status": "ok"}
            assert (await client.get("/ready")).json() == {"status": "ready"}
            answer = await client.get("/metrics")
        assert answer.headers["content-type"].startswith("text/plain")
        assert "# TYPE sgb_notices_out_total counter" in answer.text

    async def test_inbox_is_ready_and_serves_metrics_on_its_ops_app(
        self, settings: Settings, directory: None
    ) -> None:
        api = create_inbox_api(settings)
        async with api.router.lifespan_context(api), ops_client(api) as client:
            assert (await client.get("/ready")).json() == {"status": "ready"}
            assert "sgb_events_in" in (await client.get("/metrics")).text

    async def test_an_api_not_started_is_not_ready(self, settings: Settings) -> None:
        async with ops_client(create_inbox_api(settings)) as client:
            answer = await client.get("/ready")
        assert (answer.status_code, answer.json()["reasons"]) == (503, ["not started"])

    async def test_the_public_ports_serve_no_ops_and_no_documents(
        self, gateway: httpx.AsyncClient, inbox: httpx.AsyncClient
    ) -> None:
        """Readiness, metrics and the API documents are not on an API's public port."""
        for client in (gateway, inbox):
            for path in ("/ready", "/metrics", "/openapi.json", "/docs", "/redoc"):
                assert (await client.get(path)).status_code == 404, path

    async def test_documents_when_asked_for_keep_ops_routes_out(self, settings: Settings) -> None:
        app = create_gateway(settings.model_copy(update={"api_docs": True}))
        paths = app.openapi()["paths"]
        assert "/ready" not in paths
        assert "/metrics" not in paths


@asynccontextmanager
async def ops_client(api: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=ops.api_ops_app(api))
    async with httpx.AsyncClient(transport=transport, base_url="http://ops") as client:
        yield client


class TestReadiness:
    async def test_a_database_that_cannot_be_reached_is_named(self, tmp_path: Path) -> None:
        engine = db.make_engine(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'broker.db'}")
        try:
            assert await ops.database_problem(engine) == "database unavailable: OperationalError"
        finally:
            await engine.dispose()

    async def test_not_ready_is_a_503_with_the_reasons(self, settings: Settings) -> None:
        async with runtime(settings, configure_logs=False) as rt:
            app = ops.consumer_ops_app(rt, ConsumerHealth())
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                         base_url="http://ops") as client:  # fmt: skip
                answer = await client.get("/ready")
                assert (await client.get("/health")).status_code == 200
        assert answer.status_code == 503
        assert answer.json() == {"status": "not ready", "reasons": ["consumer not running"]}


class TestConsumerOpsServer:
    async def test_delivery_worker_ready_once_in_its_group_with_lag_and_counts(
        self, settings: Settings, directory: None
    ) -> None:
        """The ops server runs beside the real delivery loop, on a loopback port."""
        port, health, stop = free_port(), ConsumerHealth(), asyncio.Event()
        async with runtime(settings, configure_logs=False) as rt:
            app = ops.consumer_ops_app(rt, health)
            async with ops.serving(app, "127.0.0.1", port):
                worker = asyncio.create_task(run_delivery(rt, stop, health))
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                    await _until_ok(client, "/ready")
                    before = _dead_letters("delivery")
                    await _send_unreadable(settings, rt.topics.notices)
                    await _until(lambda: _dead_letters("delivery") > before)
                    text = (await client.get("/metrics")).text
                    assert (await client.get("/health")).json() == {"status": "ok"}
                stop.set()
                await worker
        assert f'sgb_consumer_lag{{group="{settings.delivery_group}"' in text
        assert 'sgb_dead_letters_total{source="delivery"}' in text
        assert family.MOTHER not in text  # labels never carry people

    async def test_port_zero_serves_nothing(self, settings: Settings) -> None:
        async with runtime(settings, configure_logs=False) as rt:
            app = ops.consumer_ops_app(rt, ConsumerHealth())
            async with ops.serving(app, "127.0.0.1", 0):
                pass  # nothing listens, nothing to stop


async def _until_ok(client: httpx.AsyncClient, path: str, timeout: float = 60) -> None:
    async with asyncio.timeout(timeout):
        while (await client.get(path)).status_code != 200:
            await asyncio.sleep(0.2)


async def _until(condition: Callable[[], bool], timeout: float = 60) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.2)


def _dead_letters(source: str) -> float:
    value = metrics.REGISTRY.get_sample_value("sgb_dead_letters_total", {"source": source})
    return value or 0.0


async def _send_unreadable(settings: Settings, topic: str) -> None:
    async with AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers) as producer:
        await producer.send_and_wait(topic, b"not a notice", key=b"k")
