"""Request limits for the broker's HTTP APIs: a body-size cap and a rate limit per client.

Pure ASGI middleware, so a request refused here costs no parsing. The rate limit uses the
``limits`` library's moving window, kept in memory per process; clients are told by their
address until every API authenticates organisations, then by organisation.
"""

import json
from typing import Any

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class RequestLimits:
    def __init__(self, app: ASGIApp, max_body_bytes: int, rate: str) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.rate: RateLimitItem = parse(rate)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown", 0))[0]
        if not await self.limiter.hit(self.rate, client):
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
            receive = _replay(body)
        await self.app(scope, receive, send)


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


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _refuse(send: Send, status: int, detail: str, retry_after: bool = False) -> None:
    headers: list[Any] = [(b"content-type", b"application/json")]
    if retry_after:
        headers.append((b"retry-after", b"1"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": json.dumps({"detail": detail}).encode()})


def protect(app: Any, max_body_bytes: int, rate: str) -> None:
    app.add_middleware(RequestLimits, max_body_bytes=max_body_bytes, rate=rate)
