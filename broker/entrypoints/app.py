"""One shape for every HTTP API of the broker: ``create_app``.

Each API gets the same request limits and ``no-store`` (limits.py), the token endpoint and
the authentication errors (auth.py), every refusal as RFC 9457 problem details, a 422 naming
fields and never echoing their values (http_errors.py), JSON bodies read as strictly as their
published schemas (json_bodies.py), an OpenAPI document with every status each operation
answers (openapi.py), ``/health`` for its load balancer, readiness for its ops app (ops.py), and a
lifespan that opens the process's runtime once (bootstrap.py) and keeps it in
``app.state.rt``. What differs between APIs is passed in: the title, the ``Process`` (the
keys it may hold, what it opens, and what it opens beside that: the gateway's own event
publisher), its routers and its error table (exception class -> handler, one place per API).
"""

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from broker.bootstrap import Foundation, runtime
from broker.config import Settings
from broker.entrypoints import auth, http_errors, json_bodies, openapi, ops, serving
from broker.entrypoints.limits import protect
from broker.entrypoints.web import docs
from broker.errors import Unrecordable
from broker.keys import Purpose

ErrorHandler = Callable[[Request, Any], Awaitable[Response]]
ErrorTable = Mapping[type[Exception], ErrorHandler]
# Opens what the process runs on: ``bootstrap.runtime`` (Kafka too) or ``bootstrap.foundation``.
Opener = Callable[..., AbstractAsyncContextManager[Foundation]]
# What an API opens beside its runtime, for as long as it serves.
Extra = Callable[[FastAPI, Foundation], AbstractAsyncContextManager[None]]

COMMON_ERRORS: ErrorTable = {
    # A 422 names the fields at fault and never echoes their input (it may name people).
    RequestValidationError: http_errors.field_errors,
    Unrecordable: http_errors.unrecordable,
    # Starlette's own (no such route, a method not taken) and a route's HTTPException.
    HTTPException: http_errors.http_exception,
    json_bodies.UnsupportedMediaType: http_errors.unsupported_media_type,
}


@dataclass(frozen=True)
class Process:
    """What the process behind an API opens in its lifespan: the keys it may hold, its
    runtime (``bootstrap.runtime``, Kafka too, or ``bootstrap.foundation``), and what it
    needs beside that runtime (the gateway's own event publisher)."""

    key_purposes: frozenset[Purpose]
    opener: Opener = runtime
    beside: Extra | None = None


def create_app(
    title: str,
    settings: Settings,
    process: Process,
    *,
    routers: Sequence[APIRouter] = (),
    errors: ErrorTable | None = None,
    description: str = "",
) -> FastAPI:
    """An API with everything the broker's APIs share; its own routes are added to it (or
    come in ``routers``). Ready, on its ops app, once its lifespan has opened the runtime."""
    lifespan = _lifespan(settings, process)
    app = FastAPI(title=title, version="1", description=description, lifespan=lifespan,
                  **serving.docs_urls(settings))  # fmt: skip
    openapi.install(app)
    protect(app, settings)
    if settings.api_docs:
        docs.install(app)  # from self-hosted assets
    auth.install(app)
    for exc_type, handler in {**COMMON_ERRORS, **(errors or {})}.items():
        app.add_exception_handler(exc_type, handler)
    for router in routers:
        app.include_router(router)
    app.add_api_route("/health", health, methods=["GET"])
    ops.readiness_checks(app, lambda api: ops.runtime_checks(api.state.rt))
    ops.instrument_http(app)
    return app


async def health() -> dict[str, str]:
    """For the load balancer: the process answers. Readiness is on the ops port."""
    return {"status": "ok"}


def _lifespan(
    settings: Settings, process: Process
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            opened = process.opener(settings, key_purposes=process.key_purposes)
            rt = await stack.enter_async_context(opened)
            app.state.rt = rt
            app.state.auth = auth.context_for(rt.sessions, rt.keys.token,
                                              settings.administrators,
                                              settings.token_audiences)  # fmt: skip
            if process.beside is not None:
                await stack.enter_async_context(process.beside(app, rt))
            yield

    return lifespan
