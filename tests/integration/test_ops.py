"""Health, readiness and metrics: the HTTP apps and the consumers' ops server, against the real
Kafka broker and database. Not ready is a 503 that says why; metrics carry no personal data."""

import asyncio
import socket
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from broker.adapters import db, metrics
from broker.adapters.kafka import ConsumerHealth
from broker.bootstrap import runtime
from broker.config import Settings
from broker.demo import family
from broker.entrypoints import ops
from consumers.delivery import run_delivery

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TestHttpApps:
    async def test_gateway_is_ready_and_serves_metrics(self, gateway: httpx.AsyncClient) -> None:
        assert (await gateway.get("/health")).json() == {"status": "ok"}
        assert (await gateway.get("/ready")).json() == {"status": "ready"}
        answer = await gateway.get("/metrics")
        assert answer.headers["content-type"].startswith("text/plain")
        assert "# TYPE sgb_notices_out_total counter" in answer.text

    async def test_inbox_is_ready_and_serves_metrics(self, inbox: httpx.AsyncClient) -> None:
        assert (await inbox.get("/ready")).json() == {"status": "ready"}
        assert "sgb_events_in" in (await inbox.get("/metrics")).text

    async def test_ops_routes_stay_out_of_the_api_documents(
        self, gateway: httpx.AsyncClient, inbox: httpx.AsyncClient
    ) -> None:
        for client in (gateway, inbox):
            paths = (await client.get("/openapi.json")).json()["paths"]
            assert "/ready" not in paths
            assert "/metrics" not in paths


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
