"""create_app: what every HTTP API of the broker shares (broker/entrypoints/app.py).

Built on the foundation alone (keys and a SQLite database in the test's folder): no Kafka."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from broker.bootstrap import Foundation, foundation
from broker.config import Settings
from broker.entrypoints import ops
from broker.entrypoints.app import Extra, Process, create_app
from broker.errors import Unrecordable
from broker.keys import PROCESS_KEYS, KeyStore


class Refused(Exception):
    """A domain error of the API under test."""


async def _teapot(_request: Request, _exc: Refused) -> JSONResponse:
    return JSONResponse({"detail": "refused"}, status_code=418)


class Body(BaseModel):
    nhs_number: str


router = APIRouter()


@router.get("/refuse")
async def refuse() -> None:
    raise Refused


@router.get("/unrecordable")
async def unrecordable() -> None:
    raise Unrecordable("the database refused a value as it stands")


@router.post("/echo")
async def echo(body: Body) -> dict[str, str]:
    return {"ok": "yes"}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    KeyStore.create(tmp_path / "keys")
    return Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'broker.db'}",
                    keys_dir=tmp_path / "keys")  # fmt: skip


def _app(settings: Settings, extra: Extra | None = None) -> FastAPI:
    return create_app("test API", settings, Process(PROCESS_KEYS["admin"], foundation, extra),
                      routers=[router], errors={Refused: _teapot})  # fmt: skip


@asynccontextmanager
async def _client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


class TestCreateApp:
    async def test_health_answers_before_anything_is_open(self, settings: Settings) -> None:
        """/health says only that the process answers: it needs no runtime."""
        async with _client(_app(settings)) as client:
            answer = await client.get("/health")
        assert (answer.status_code, answer.json()) == (200, {"status": "ok"})

    async def test_an_error_in_the_table_gets_its_status(self, settings: Settings) -> None:
        async with _client(_app(settings)) as client:
            assert (await client.get("/refuse")).status_code == 418

    async def test_a_value_the_database_refuses_is_the_callers_422(
        self, settings: Settings
    ) -> None:
        """Every API shares it: a value no column could hold is never a 500."""
        async with _client(_app(settings)) as client:
            answer = await client.get("/unrecordable")
        assert answer.status_code == 422
        assert answer.json()["errors"][0]["type"] == "unrecordable"

    async def test_invalid_input_names_the_field_never_the_value(self, settings: Settings) -> None:
        """The shared 422: field, message and type, nothing of what was sent."""
        async with _client(_app(settings)) as client:
            answer = await client.post("/echo", json={"nhs_number": 9434765919})
        assert answer.status_code == 422
        assert answer.json()["errors"][0]["field"] == "body.nhs_number"
        assert "9434765919" not in answer.text

    async def test_the_token_endpoint_is_served(self, settings: Settings) -> None:
        """Authentication is installed: a token request without a grant is refused, not 404."""
        app = _app(settings)
        async with app.router.lifespan_context(app), _client(app) as client:
            answer = await client.post("/v1/oauth/token", content=b"grant_type=password")
        assert answer.status_code == 400

    async def test_not_ready_until_its_lifespan_has_opened_the_runtime(
        self, settings: Settings
    ) -> None:
        app = _app(settings)
        async with _client(ops.api_ops_app(app)) as opsclient:
            assert (await opsclient.get("/ready")).status_code == 503
            async with app.router.lifespan_context(app):
                assert (await opsclient.get("/ready")).json() == {"status": "ready"}

    async def test_not_ready_until_its_server_listens(self, settings: Settings) -> None:
        """The runtime open is not enough: uvicorn binds the API's port after the lifespan,
        and a client told "ready" before then finds nothing there."""
        app, listening = _app(settings), [False]
        ops_app = ops.api_ops_app(app, lambda: listening[0])
        async with _client(ops_app) as opsclient, app.router.lifespan_context(app):
            assert (await opsclient.get("/ready")).status_code == 503
            listening[0] = True
            assert (await opsclient.get("/ready")).json() == {"status": "ready"}

    async def test_the_lifespan_opens_the_runtime_once_and_then_the_extra(
        self, settings: Settings
    ) -> None:
        """What an API opens beside the runtime (the gateway's publisher) sees it open."""
        seen: list[Foundation] = []

        @asynccontextmanager
        async def extra(app: FastAPI, rt: Foundation) -> AsyncIterator[None]:
            seen.append(app.state.rt)
            assert rt is app.state.rt
            yield

        app = _app(settings, extra)
        async with app.router.lifespan_context(app):
            assert isinstance(app.state.rt, Foundation)
            assert app.state.auth.sessions is app.state.rt.sessions
        assert len(seen) == 1

    async def test_the_documents_are_off_unless_asked_for(self, settings: Settings) -> None:
        async with _client(_app(settings)) as client:
            assert (await client.get("/openapi.json")).status_code == 404
        documented = _app(settings.model_copy(update={"api_docs": True}))
        assert "/echo" in documented.openapi()["paths"]
