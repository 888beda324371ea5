"""Request limits on the HTTP APIs: bodies too large are refused, and so are clients that send
too many requests."""

from collections.abc import AsyncIterator

import httpx
import pytest

from broker.config import Settings
from broker.entrypoints.gateway import create_gateway

pytestmark = pytest.mark.integration


@pytest.fixture
async def limited(settings: Settings, directory: None) -> AsyncIterator[httpx.AsyncClient]:
    app = create_gateway(settings.model_copy(update={"max_body_bytes": 2048,
                                                     "rate_limit": "5/minute"}))  # fmt: skip
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


class TestLimits:
    async def test_declared_large_body_is_refused(self, limited: httpx.AsyncClient) -> None:
        """A body whose length passes the limit is refused before it is read."""
        answer = await limited.post("/v1/events", content=b"x" * 4096,
                                    headers={"content-type": "application/json"})  # fmt: skip
        assert answer.status_code == 413

    async def test_streamed_large_body_is_refused(self, limited: httpx.AsyncClient) -> None:
        """A body sent in chunks, with no declared length, is stopped at the limit."""

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(8):
                yield b"x" * 1024

        answer = await limited.post("/v1/events", content=chunks(),
                                    headers={"content-type": "application/json"})  # fmt: skip
        assert answer.status_code == 413

    async def test_too_many_requests_are_refused(self, limited: httpx.AsyncClient) -> None:
        """Past its rate, a client is told to slow down and when to retry."""
        form = {"grant_type": "password"}
        answers = [await limited.post("/v1/oauth/token", data=form) for _ in range(7)]
        assert [a.status_code for a in answers[:5]] == [400] * 5
        assert answers[5].status_code == 429
        assert answers[5].headers["retry-after"] == "1"

    async def test_ops_endpoints_are_never_limited(self, limited: httpx.AsyncClient) -> None:
        """A platform probing the process is not told to slow down by others' traffic."""
        answers = [await limited.get("/health") for _ in range(7)]
        assert [a.status_code for a in answers] == [200] * 7
