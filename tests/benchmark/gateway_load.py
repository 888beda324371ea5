"""The HTTP gateway alone, under a bounded local load.

``sgb gateway`` runs as its own process on the benchmark's directory. Each agency gets its
access token (private_key_jwt) and every request body and signature is made before the clock
starts, so what is timed is the gateway: authenticating, checking the signature and the
sender, sealing the event and waiting for Kafka's acknowledgement before answering 202.
A fixed number of clients post one event each at a time, as fast as answers come back.
"""

import asyncio
import contextlib
import os
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from broker.adapters.kafka import Topics, ensure_topics
from broker.config import TopicSettings
from broker.keys import KeyStore
from deploy.ports import free_port
from producers.auth import token_request
from producers.sdk import signature_header
from schemas.events import Event, EventAdapter
from tests.benchmark import population
from tests.benchmark.measure import Processes, percentiles
from tests.faults.processes import Service

READY_TIMEOUT_S = 60.0
UNLIMITED = "100000000/minute"  # the per-client rate limit, out of the way of the load


async def run_gateway(
    bootstrap: str,
    workdir: Path,
    pop: population.Population,
    database_url: str,
    events: Sequence[tuple[str, Event]],
    concurrency: int,
    partitions: int,
) -> dict[str, Any]:
    prefix = f"bench-{os.urandom(4).hex()}."
    KeyStore.create(workdir / "keys")
    await ensure_topics(bootstrap, Topics.with_prefix(prefix), TopicSettings(partitions=partitions))
    port, ops_port = free_port(), free_port()
    env = {**os.environ, "SGB_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
           "SGB_DATABASE_URL": database_url, "SGB_KEYS_DIR": str(workdir / "keys"),
           "SGB_TOPIC_PREFIX": prefix, "SGB_RATE_LIMIT": UNLIMITED,
           "SGB_ORGANISATION_RATE_LIMIT": UNLIMITED, "SGB_OPS_PORT": str(ops_port),
           "SGB_LOG_JSON": "true"}  # fmt: skip
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    (workdir / "logs").mkdir(parents=True, exist_ok=True)
    gateway = Service("gateway", "gateway", env, workdir / "logs", args=("--port", str(port)))
    gateway.start()
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", timeout=30,
            limits=httpx.Limits(max_connections=concurrency),
        ) as client:  # fmt: skip
            await _ready(f"http://127.0.0.1:{ops_port}", gateway)
            requests = await _prepared(client, pop, events)
            assert gateway.proc is not None
            processes = Processes()
            processes.watch("gateway", gateway.proc.pid)
            stop = asyncio.Event()
            sampler = asyncio.create_task(processes.sample_every(0.5, stop))
            started = time.perf_counter()
            latencies, statuses = await _drive(client, requests, concurrency)
            seconds = time.perf_counter() - started
            stop.set()
            await sampler
    finally:
        gateway.terminate()
    accepted = statuses.get(202, 0)
    settings = {"concurrency": concurrency, "partitions": partitions,
                "people": len(pop.spec.people), "rate_limit": UNLIMITED,
                "database": database_url.split(":", 1)[0]}  # fmt: skip
    return {
        "mode": "gateway",
        "requests": len(requests),
        "accepted": accepted,
        "answers": {str(code): n for code, n in sorted(statuses.items())},
        "seconds": round(seconds, 2),
        "events_per_s": round(accepted / seconds, 1),
        "latency_ms": percentiles(latencies),
        **processes.report(len(requests)),
        "settings": settings,
    }


async def _ready(ops_url: str, gateway: Service) -> None:
    """The gateway's readiness, on its ops port (never on the API's)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    async with httpx.AsyncClient(base_url=ops_url) as ops:
        while time.monotonic() < deadline:
            if (code := gateway.exited()) is not None:
                raise RuntimeError(f"the gateway exited with {code}")
            with contextlib.suppress(httpx.HTTPError):
                if (await ops.get("/ready")).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise RuntimeError("the gateway did not become ready")


async def _prepared(
    client: httpx.AsyncClient, pop: population.Population, events: Sequence[tuple[str, Event]]
) -> list[tuple[bytes, dict[str, str]]]:
    """Each request's body and headers: the event's exact bytes, signed, with a bearer
    token of its agency's (five minutes is ample for a run of this size)."""
    tokens: dict[str, str] = {}
    for org in {org for org, _ in events}:
        request = token_request(client.base_url.join("/v1/oauth/token"), org,
                                pop.producer_keys[org])  # fmt: skip
        answer = await client.send(request)
        answer.raise_for_status()
        tokens[org] = answer.json()["access_token"]
    prepared = []
    for org, event in events:
        body = EventAdapter.dump_json(event)
        prepared.append((body, {
            "content-type": "application/json",
            "authorization": f"Bearer {tokens[org]}",
            "sgb-signature": signature_header(body, pop.producer_keys[org]),
        }))  # fmt: skip
    return prepared


async def _drive(
    client: httpx.AsyncClient, requests: Sequence[tuple[bytes, dict[str, str]]], concurrency: int
) -> tuple[list[float], Counter[int]]:
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    queue = iter(requests)

    async def agency() -> None:
        for body, headers in queue:
            began = time.perf_counter()
            try:
                answer = await client.post("/v1/events", content=body, headers=headers)
                statuses[answer.status_code] += 1
            except httpx.HTTPError:
                statuses[0] += 1  # no answer at all
            latencies.append((time.perf_counter() - began) * 1000)

    async with asyncio.TaskGroup() as tasks:
        for _ in range(concurrency):
            tasks.create_task(agency())
    return latencies, statuses
