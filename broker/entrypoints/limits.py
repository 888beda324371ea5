"""Request limits and headers for the broker's HTTP APIs.

Pure ASGI middleware, so a request refused here costs no parsing: a body-size cap, and a rate
limit per peer address (``rate_limit``) before anything is known of the caller. Who the peer is
comes from the connection; ``X-Forwarded-For`` counts only when it arrives from a proxy named
in ``forwarded_allow_ips`` (uvicorn rewrites the peer then; see ``serving.server_config``), so
a client cannot pick a fresh address per request. Once a token holds, the organisation has a
rate of its own (``organisation_rate_limit``, ``check_organisation``): organisations behind one
proxy do not share it. The ops endpoints are never limited: a platform probing readiness must
not be told to slow down by a flood it did not send. Every answer carries
``Cache-Control: no-store``: these APIs answer with personal data, sealed or not, and nothing
of it belongs in a cache. The limiters are the ``limits`` library's moving windows, in memory,
per process.
"""

import json
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from broker.adapters import refusals
from broker.config import Settings

OPS_PATHS = frozenset({"/health", "/ready", "/metrics"})
RATE_LIMITED_ROUTE = "(rate limit, before authentication)"


class TooManyRequests(Exception):
    """An organisation past its own rate: a 429."""


class RequestLimits:
    def __init__(self, app: ASGIApp, max_body_bytes: int, rate: str) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.rate: RateLimitItem = parse(rate)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.reported_window: datetime | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = _no_store(send)
        if scope["path"] in OPS_PATHS:
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown", 0))[0]
        if not await self.limiter.hit(self.rate, client):
            await self._report(scope)
            await _refuse(send, 429, "too many requests: slow down and retry", retry_after=True)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and int(declared) > self.max_body_bytes:
            await _refuse(send, 413, f"the body is larger than {self.max_body_bytes} bytes")
            return
        if declared is None:
            body = await _read_at_most(receive, self.max_body_bytes)
            if body is None:
                await _refuse(send, 413, f"the body is larger than {self.max_body_bytes} bytes")
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send)

    async def _report(self, scope: Scope) -> None:
        """The first refusal of a window, per process, is counted and audited: a flood is
        one record, not one write per request it sends."""
        now = datetime.now(UTC)
        if self.reported_window == refusals.window_of(now):
            return
        self.reported_window = refusals.window_of(now)
        auth = getattr(scope["app"].state, "auth", None)
        if auth is not None:
            await refusals.record(auth.sessions, RATE_LIMITED_ROUTE, scope["method"], 429,
                                  refusals.ANONYMOUS, now)  # fmt: skip


class OrganisationLimits:
    def __init__(self, rate: str) -> None:
        self.rate: RateLimitItem = parse(rate)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    async def admit(self, org_id: str) -> bool:
        return await self.limiter.hit(self.rate, org_id)


async def check_organisation(request: Request, org_id: str) -> None:
    """Counts the authenticated organisation's request; raises TooManyRequests past its rate."""
    limits: OrganisationLimits | None = getattr(request.app.state, "organisation_limits", None)
    if limits is not None and not await limits.admit(org_id):
        raise TooManyRequests


def _no_store(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [(k, v) for k, v in message.get("headers", []) if k != b"cache-control"]
            message = {**message, "headers": [*headers, (b"cache-control", b"no-store")]}
        await send(message)

    return sending


async def _read_at_most(receive: Receive, limit: int) -> bytes | None:
    """A body sent with no declared length (chunked), read only up to the limit."""
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


def _replay(body: bytes, then: Receive) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            # The client's own: a disconnect only when it happens (a streamed answer, a
            # static file, listens for one, and would stop at a made-up one).
            return await then()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _refuse(send: Send, status: int, detail: str, retry_after: bool = False) -> None:
    headers: list[Any] = [(b"content-type", b"application/problem+json")]
    if retry_after:
        headers.append((b"retry-after", b"1"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    # RFC 9457, as http_errors.problem writes it (no import of it: this runs before FastAPI)
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status,
            "detail": detail}  # fmt: skip
    await send({"type": "http.response.body", "body": json.dumps(body).encode()})


def protect(app: FastAPI, settings: Settings) -> None:
    """The limits, the per-organisation rate and ``no-store``, on every answer of ``app``."""
    app.add_middleware(RequestLimits, max_body_bytes=settings.max_body_bytes,
                       rate=settings.rate_limit)  # fmt: skip
    app.state.organisation_limits = OrganisationLimits(settings.organisation_rate_limit)
