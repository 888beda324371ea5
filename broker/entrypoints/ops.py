"""Liveness, readiness and metrics for every long-running process.

``/health`` answers whether the process loop is alive (restart it if not); ``/ready`` whether
it can do its work now: the database answers a trivial query, the Kafka producer is started,
a consumer is in its group and not retrying a failed batch. Not ready is a 503 naming the
reasons (error classes only, never data). ``/metrics`` is Prometheus' text format.

Every process serves these on an ops port of its own (``ops_host``/``ops_port``), never on an
API's public port: the router and the delivery worker beside their consume loop
(``consumer_ops_app``), the HTTP APIs beside their app (``api_ops_app``, whose readiness
checks ``create_app`` names with ``readiness_checks``: the runtime's, once its lifespan has
opened it); both as a small Starlette app through ``serving``, in the same event loop.
An API keeps only ``/health`` (it says nothing but "ok") for its load balancer. The ops app
has no rate limit: a scrape or a probe is never refused because agencies are busy.

``instrument_http`` counts an API's requests by route template (``/v1/notices/{notice_id}``,
never the path itself: ids would make a series per person) and status class.
"""

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING

import uvicorn
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from broker.adapters import metrics
from broker.adapters.kafka import ConsumerHealth, KafkaPublisher
from broker.bootstrap import Foundation, Runtime

# Types only: the ops app is plain Starlette, and the router and delivery worker, which serve
# nothing else, never import FastAPI (its import costs each of them 0.4 s of CPU).
if TYPE_CHECKING:
    from fastapi import FastAPI

Check = Callable[[], Awaitable[str | None]]  # None when fine, else the reason
CHECK_TIMEOUT_S = 2.0
# Longer than any batch takes, retries included (each wait is capped well below this).
STALE_AFTER_S = 300.0


async def database_problem(engine: AsyncEngine) -> str | None:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        return f"database unavailable: {type(exc).__name__}"
    return None


async def publisher_problem(publisher: KafkaPublisher) -> str | None:
    return None if publisher.started else "Kafka producer not started"


async def consumer_problem(health: ConsumerHealth) -> str | None:
    return health.problem()


def runtime_checks(rt: Foundation, health: ConsumerHealth | None = None) -> list[Check]:
    """The database always; the broker's producer where the process has one (a process
    opened on the foundation alone publishes nothing through it)."""
    checks: list[Check] = [lambda: database_problem(rt.engine)]
    if isinstance(rt, Runtime):
        checks.append(lambda: publisher_problem(rt.publisher))
    if health is not None:
        checks.append(lambda: consumer_problem(health))
    return checks


Endpoint = Callable[[], Awaitable[Response]]


def ops_app(alive: Endpoint, checks: Callable[[], Sequence[Check]]) -> Starlette:
    """``/health`` as ``alive`` says; ``/ready`` runs ``checks``, read when asked (from the
    started API or process); ``/metrics``. GET only; anything else is Starlette's 404 or 405."""

    async def health(_request: Request) -> Response:
        return await alive()

    async def ready(_request: Request) -> Response:
        return await readiness(checks())

    async def metrics_text(_request: Request) -> Response:
        return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE)

    return Starlette(routes=[Route("/health", health, methods=["GET"]),
                             Route("/ready", ready, methods=["GET"]),
                             Route("/metrics", metrics_text, methods=["GET"])])  # fmt: skip


async def readiness(checks: Sequence[Check]) -> JSONResponse:
    problems = [p for p in await asyncio.gather(*(check() for check in checks)) if p]
    if problems:
        return JSONResponse({"status": "not ready", "reasons": problems}, status_code=503)
    return JSONResponse({"status": "ready"})


async def _ok() -> Response:
    return JSONResponse({"status": "ok"})


ApiChecks = Callable[["FastAPI"], Sequence[Check]]


def readiness_checks(api: "FastAPI", checks: ApiChecks) -> None:
    """What ``/ready`` on the API's ops port checks, read from the API once it has started."""
    api.state.readiness_checks = checks


def api_ops_app(api: "FastAPI", listening: Callable[[], bool] = lambda: True) -> Starlette:
    """An HTTP API's ops endpoints: not ready until its lifespan has started and its server
    ``listening`` (uvicorn binds the API's port only after the lifespan: a client told
    "ready" before then would find nothing there)."""

    def checks() -> Sequence[Check]:
        started: ApiChecks | None = getattr(api.state, "readiness_checks", None)
        if not listening():
            return [_not_started]
        try:
            return list(started(api)) if started else [_not_started]
        except AttributeError:  # what the checks read is set by the lifespan, not yet run
            return [_not_started]

    return ops_app(_ok, checks)


async def _not_started() -> str:
    return "not started"


def consumer_ops_app(rt: Runtime, health: ConsumerHealth) -> Starlette:
    """The router's or delivery worker's ops endpoints."""

    async def alive() -> Response:
        quiet_for = time.monotonic() - health.beat
        if quiet_for > STALE_AFTER_S:
            reason = f"consume loop silent for {quiet_for:.0f}s"
            return JSONResponse({"status": "stuck", "reason": reason}, status_code=503)
        return await _ok()

    return ops_app(alive, lambda: runtime_checks(rt, health))


UNMATCHED = "unmatched"  # no route matched (a 404 or 405): one series for all such paths


class HttpMetrics:
    """Counts and times every HTTP request of the app it wraps. Pure ASGI rather than
    ``BaseHTTPMiddleware``: nothing buffered, streamed answers unchanged."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers when the app raised before starting a response

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            # The router writes the matched route into the shared scope on its way in.
            route = getattr(scope.get("route"), "path", None) or UNMATCHED
            method = scope["method"]
            metrics.HTTP_REQUESTS.labels(method, route, metrics.status_class(status)).inc()
            metrics.HTTP_SECONDS.labels(method, route).observe(time.perf_counter() - started)


def instrument_http(app: "FastAPI") -> None:
    """Outermost of the app's middleware when added last: answers of the limits count too."""
    app.add_middleware(HttpMetrics)


class _OpsServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)  # a port already taken ends the process here
        self.listening.set()

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        # SIGTERM belongs to the process: it drains the consumer first, then stops this server,
        # so /health keeps answering while the batch in hand finishes.
        yield


@asynccontextmanager
async def serving(app: Starlette, host: str, port: int) -> AsyncIterator[None]:
    """Serves ``app`` in this event loop, listening before the block starts and until it ends;
    port 0 serves nothing."""
    if not port:
        yield
        return
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False,
                            lifespan="off")  # fmt: skip
    server = _OpsServer(config)
    task = asyncio.create_task(server.serve())
    try:
        listening = asyncio.create_task(server.listening.wait())
        await asyncio.wait([task, listening], return_when=asyncio.FIRST_COMPLETED)
        listening.cancel()
        yield
    finally:
        server.should_exit = True
        await task
