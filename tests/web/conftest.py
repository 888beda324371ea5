"""The web inbox through the real inbox app (its lifespan: the real database and Kafka),
spoken to over ASGI as a browser on loopback would: cookies kept, no token."""

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI

from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.bootstrap import Runtime
from broker.config import Settings
from broker.entrypoints.inbox_api import create_inbox_api
from broker.services import web_sign_in

BASE_URL = "http://127.0.0.1:8000"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test's settings, the inbox reached over http on loopback, where (and only where)
    the session cookie may go without ``Secure``."""
    return settings.model_copy(update={"inbox_base_url": BASE_URL, "web_insecure_loopback": True})


@pytest.fixture
async def web_app(settings: Settings, directory: None) -> AsyncIterator[FastAPI]:
    app = create_inbox_api(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
def browser(web_app: FastAPI) -> httpx.AsyncClient:
    """A browser with no session yet (a new one per call of ``new_browser``)."""
    return new_browser(web_app)


def new_browser(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL)


async def issue_link(app: FastAPI, contact_id: str, now: datetime | None = None) -> str:
    """A sign-in link's token, as an administrator has it issued (the service, at ``now``)."""
    rt: Runtime = app.state.rt
    async with SqlUnitOfWork(rt.sessions) as uow:
        issued = await web_sign_in.issue_link(
            uow, contact_id, "test-admin", now or datetime.now(UTC)
        )
    return issued.token


def form_token(page: httpx.Response) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


async def follow_link(browser: httpx.AsyncClient, token: str) -> httpx.Response:
    """Opens the sign-in link and presses its button."""
    page = await browser.get(f"/inbox/sign-in/{token}")
    assert page.status_code == 200
    return await browser.post(
        "/inbox/sign-in", data={"token": token, "csrf_token": form_token(page)}
    )


async def sign_in(app: FastAPI, browser: httpx.AsyncClient, contact_id: str) -> None:
    answer = await follow_link(browser, await issue_link(app, contact_id))
    assert answer.status_code == 303, answer.text
