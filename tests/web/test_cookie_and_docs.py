"""The session cookie's ``Secure`` flag off loopback, and the APIs' /docs served from the
vendored swagger-ui assets (no CDN)."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import Response

from broker.config import Settings
from broker.entrypoints.admin_api import create_admin_api
from broker.entrypoints.web import sessions
from broker.keys import KeyStore


class TestSessionCookie:
    @pytest.mark.parametrize(
        ("base_url", "allowed", "name", "secure"),
        [
            ("https://inbox.example.org", False, "__Host-sgb-session", True),
            ("http://inbox.example.org", True, "__Host-sgb-session", True),
            ("http://127.0.0.1:8000", False, "__Host-sgb-session", True),
            ("http://127.0.0.1:8000", True, "sgb-session", False),
            ("http://localhost:8000", True, "sgb-session", False),
        ],
    )
    def test_secure_unless_loopback_over_http_and_allowed(
        self, base_url: str, allowed: bool, name: str, secure: bool
    ) -> None:
        """``Secure`` (with the ``__Host-`` prefix) everywhere but loopback over http with the
        setting on; HttpOnly and SameSite=Strict always."""
        settings = Settings(inbox_base_url=base_url, web_insecure_loopback=allowed)
        response = Response()
        sessions.set_session_cookie(response, settings, "id")
        cookie = response.headers["set-cookie"]
        flags = {f.strip().lower() for f in cookie.split(";")[1:]}
        assert cookie.startswith(f"{name}=id;")
        assert ("secure" in flags) is secure
        assert {"httponly", "samesite=strict", "path=/"} <= flags


@pytest.fixture
async def docs_app(tmp_path: Path, database_url: str) -> AsyncIterator[FastAPI]:
    KeyStore.create(tmp_path / "keys")
    settings = Settings(database_url=database_url, keys_dir=tmp_path / "keys", api_docs=True)
    app = create_admin_api(settings)
    async with app.router.lifespan_context(app):
        yield app


class TestDocs:
    @pytest.mark.integration
    async def test_served_from_this_site(self, docs_app: FastAPI) -> None:
        """/docs loads swagger-ui from /docs-assets, which serves it; ReDoc (CDN only) is
        off."""
        transport = httpx.ASGITransport(app=docs_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            page = await client.get("/docs")
            assert page.status_code == 200
            assert "/docs-assets/swagger-ui-bundle.js" in page.text
            assert "cdn" not in page.text.lower()
            for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
                assert (await client.get(f"/docs-assets/{asset}")).status_code == 200
            assert (await client.get("/redoc")).status_code == 404
