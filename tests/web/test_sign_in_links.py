"""Issuing sign-in links: the admin API's route (an administrator's token), ``sgb contact
sign-in-link``, the link each answers signing its contact in at the web inbox."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from support import OrgTokens
from typer.testing import CliRunner

from broker.config import Settings
from broker.entrypoints import cli
from broker.entrypoints.admin_api import create_admin_api
from tests.web.conftest import BASE_URL, follow_link

pytestmark = pytest.mark.integration
ADMIN = "la-front-door"  # the demo partnership's administrator, for these tests
KEY_ADULT = "school-oakfield:key_adult"
URL = f"/v1/admin/contacts/{KEY_ADULT}/sign-in-links"


@pytest.fixture
async def admin(
    settings: Settings, directory: None, producer_keys: dict[str, Ed25519PrivateKey]
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_admin_api(settings.model_copy(update={"administrators": [ADMIN]}))
    auth = OrgTokens({ADMIN: producer_keys[ADMIN]}, lambda _request: ADMIN)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL, auth=auth) as client:
            yield client


def token_of(url: str) -> str:
    prefix = f"{BASE_URL}/inbox/sign-in/"
    assert url.startswith(prefix)
    return url.removeprefix(prefix)


class TestAdminRoute:
    async def test_issues_a_link_that_signs_the_contact_in(
        self, admin: httpx.AsyncClient, web_app: FastAPI, browser: httpx.AsyncClient
    ) -> None:
        """201 with the link under the inbox's base URL, good for 15 minutes; it signs in."""
        answer = await admin.post(URL)
        assert answer.status_code == 201
        issued = answer.json()
        expires = datetime.fromisoformat(issued["expires_at"]) - datetime.now(UTC)
        assert timedelta(minutes=14) < expires <= timedelta(minutes=15)
        assert answer.headers["cache-control"] == "no-store"
        assert (await follow_link(browser, token_of(issued["url"]))).status_code == 303

    async def test_unknown_contact_is_not_found(self, admin: httpx.AsyncClient) -> None:
        """No such contact: 404, nothing issued."""
        answer = await admin.post("/v1/admin/contacts/school-oakfield:nobody/sign-in-links")
        assert answer.status_code == 404

    async def test_needs_an_administrator(
        self, settings: Settings, directory: None, producer_keys: dict[str, Ed25519PrivateKey]
    ) -> None:
        """A school's own token may not issue links: 403."""
        app = create_admin_api(settings.model_copy(update={"administrators": [ADMIN]}))
        school = "school-oakfield"
        auth = OrgTokens({school: producer_keys[school]}, lambda _request: school)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=BASE_URL,
                                         auth=auth) as client:  # fmt: skip
                assert (await client.post(URL)).status_code == 403


class TestCommand:
    async def test_prints_a_link_that_signs_the_contact_in(
        self, settings: Settings, web_app: FastAPI, browser: httpx.AsyncClient,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:  # fmt: skip
        """``sgb contact sign-in-link`` prints the link; it signs the key adult in."""
        for name, value in {"SGB_DATABASE_URL": settings.database_url,
                            "SGB_KEYS_DIR": str(settings.keys_dir),
                            "SGB_INBOX_BASE_URL": BASE_URL}.items():  # fmt: skip
            monkeypatch.setenv(name, value)
        # A command runs its own event loop: in a thread, beside the test's.
        result = await asyncio.to_thread(CliRunner().invoke, cli.app, [
            "contact", "sign-in-link", KEY_ADULT, "--operator", "duty-admin"])  # fmt: skip
        assert result.exit_code == 0, result.output
        assert (await follow_link(browser, token_of(result.output.strip()))).status_code == 303

    def test_unknown_contact_is_refused(
        self, settings: Settings, directory: None, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An unknown contact: exit 1, said plainly."""
        monkeypatch.setenv("SGB_DATABASE_URL", settings.database_url)
        monkeypatch.setenv("SGB_KEYS_DIR", str(settings.keys_dir))
        result = CliRunner().invoke(cli.app, ["contact", "sign-in-link", "school-oakfield:nobody",
                                              "--operator", "duty-admin"])  # fmt: skip
        assert result.exit_code == 1
        assert "no such contact" in result.output
