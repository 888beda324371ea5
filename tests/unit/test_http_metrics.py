"""HTTP metrics of every broker API (create_app) and the process collectors, read from
/metrics on the real ops app beside the real app. Built on the foundation alone (keys and a
SQLite database in the test's folder): no Kafka."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from prometheus_client.parser import text_string_to_metric_families

from broker.bootstrap import foundation
from broker.config import Settings
from broker.entrypoints import ops
from broker.entrypoints.app import Process, create_app
from broker.keys import PROCESS_KEYS, KeyStore

router = APIRouter()


@router.get("/things/{thing_id}")
async def thing(thing_id: str) -> dict[str, str]:
    return {"thing": "found"}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    KeyStore.create(tmp_path / "keys")
    return Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'broker.db'}",
                    keys_dir=tmp_path / "keys", rate_limit="3/minute")  # fmt: skip


def _app(settings: Settings) -> FastAPI:
    process = Process(PROCESS_KEYS["admin"], foundation, None)
    return create_app("metrics test API", settings, process, routers=[router])


@asynccontextmanager
async def _client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def _samples(ops_client: httpx.AsyncClient) -> dict[tuple[str, frozenset[object]], float]:
    """Every sample /metrics serves, by name and labels."""
    answer = await ops_client.get("/metrics")
    assert answer.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def _requests(
    samples: dict[tuple[str, frozenset[object]], float], route: str, status: str
) -> float:
    labels = frozenset({"method": "GET", "route": route, "status": status}.items())
    return samples.get(("sgb_http_requests_total", labels), 0.0)


class TestHttpMetrics:
    async def test_requests_counted_by_route_template_and_status_class(
        self, settings: Settings
    ) -> None:
        """Two requests to two ids are one series, labelled with the template, never an id."""
        app = _app(settings)
        async with _client(app) as client, _client(ops.api_ops_app(app)) as ops_client:
            before = await _samples(ops_client)
            await client.get("/things/a-person-id")
            await client.get("/things/another-id")
            after = await _samples(ops_client)
        route = "/things/{thing_id}"
        assert _requests(after, route, "2xx") - _requests(before, route, "2xx") == 2
        text = "".join(str(labels) for _, labels in after)
        assert "a-person-id" not in text

    async def test_request_durations_are_observed(self, settings: Settings) -> None:
        """The latency histogram's count moves with each request."""
        app = _app(settings)
        key = ("sgb_http_request_seconds_count",
               frozenset({"method": "GET", "route": "/health"}.items()))  # fmt: skip
        async with _client(app) as client, _client(ops.api_ops_app(app)) as ops_client:
            before = (await _samples(ops_client)).get(key, 0.0)
            await client.get("/health")
            assert (await _samples(ops_client))[key] == before + 1

    async def test_an_unknown_path_is_one_unmatched_series(self, settings: Settings) -> None:
        """A scan of random paths cannot make a series per path."""
        app = _app(settings)
        async with _client(app) as client, _client(ops.api_ops_app(app)) as ops_client:
            before = _requests(await _samples(ops_client), ops.UNMATCHED, "4xx")
            await client.get("/no/such/path-1")
            await client.get("/no/such/path-2")
            after = await _samples(ops_client)
        assert _requests(after, ops.UNMATCHED, "4xx") == before + 2
        assert not any("path-1" in str(labels) for _, labels in after)

    async def test_rate_limited_answers_are_counted_and_metrics_stay_open(
        self, settings: Settings
    ) -> None:
        """The API's rate limit refuses the fourth request (a 4xx counted); /metrics, on the
        ops app, is outside it and keeps answering."""
        app = _app(settings)
        route = "/things/{thing_id}"
        async with _client(app) as client, _client(ops.api_ops_app(app)) as ops_client:
            before = await _samples(ops_client)
            statuses = [(await client.get("/things/x")).status_code for _ in range(4)]
            for _ in range(5):
                after = await _samples(ops_client)
        assert statuses[-1] == 429
        refused = _requests(after, route, "4xx") + _requests(after, ops.UNMATCHED, "4xx")
        refused_before = _requests(before, route, "4xx") + _requests(before, ops.UNMATCHED, "4xx")
        assert refused - refused_before == 1


class TestProcessMetrics:
    async def test_process_collectors_are_served(self, settings: Settings) -> None:
        """CPU, memory and the Python version, as Prometheus' own collectors report them."""
        async with _client(ops.api_ops_app(_app(settings))) as ops_client:
            names = {name for name, _ in await _samples(ops_client)}
        assert {"process_cpu_seconds_total", "process_resident_memory_bytes",
                "python_info"} <= names  # fmt: skip
