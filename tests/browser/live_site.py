"""The broker as a browser meets it: the inbox app served by uvicorn on a loopback port, the
gateway, the router and the delivery worker, all in one thread with its own event loop (the
Playwright sync API owns the test's thread). The test's database and Kafka are the fixtures'.
"""

import asyncio
import os
import shutil
import threading
import uuid
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from playwright.sync_api import Page, sync_playwright
from support import OrgTokens, event_source, post_signed

from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.bootstrap import Runtime, runtime
from broker.config import Settings
from broker.demo import family
from broker.entrypoints.gateway import create_gateway
from broker.entrypoints.inbox_api import create_inbox_api
from broker.services import web_sign_in
from consumers.delivery import run_delivery
from consumers.router import run_router
from deploy.ports import free_port

T = TypeVar("T")
POLL_SECONDS = 0.5  # the live stream's poll, shortened for the tests


def loopback(settings: Settings, port: int, host: str = "127.0.0.1") -> Settings:
    """The inbox on plain http on loopback, where the session cookie may go without Secure
    (as ``localhost``, a name WebAuthn accepts, for passkeys)."""
    return settings.model_copy(update={"inbox_base_url": f"http://{host}:{port}",
                                       "web_insecure_loopback": True})  # fmt: skip


def crisis() -> dict[str, Any]:
    """The mother's crisis: her GP and the children's school are told."""
    return {"event_type": "parent_mental_health_crisis", "event_id": str(uuid.uuid4()),
            "source_org": "mh-demo", "occurred_at": datetime.now(UTC).isoformat(),
            "subject": {"nhs_number": family.MOTHER}, "suicidal_ideation": True}  # fmt: skip


class LiveSite:
    def __init__(self, settings: Settings, producer_keys: dict[str, Ed25519PrivateKey]) -> None:
        self.settings = settings
        self.base_url = settings.inbox_base_url
        self.producer_keys = producer_keys
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.stop: asyncio.Event | None = None
        self.failure: BaseException | None = None
        self.rt: Runtime | None = None
        self.gateway: httpx.AsyncClient | None = None

    def call(self, work: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        """Runs ``work`` on the site's loop and answers its result."""
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout)

    def publish(self, event: dict[str, Any]) -> None:
        assert self.gateway is not None
        answer = self.call(post_signed(self.gateway, event, self.producer_keys))
        assert answer.status_code == 202, answer.text

    def sign_in_link(self, contact_id: str) -> str:
        assert self.rt is not None
        rt = self.rt

        async def issue() -> str:
            async with SqlUnitOfWork(rt.sessions) as uow:
                issued = await web_sign_in.issue_link(uow, contact_id, "test-admin",
                                                      datetime.now(UTC))  # fmt: skip
            return f"{self.base_url}/inbox/sign-in/{issued.token}"

        return self.call(issue())

    def inbox_of(self, contact_id: str) -> list[str]:
        """The ids of the contact's released notices, as stored."""
        assert self.rt is not None
        rt = self.rt

        async def read() -> list[str]:
            async with SqlUnitOfWork(rt.sessions) as uow:
                return sorted(await uow.inbox.released_ids(contact_id, datetime.now(UTC)))

        return self.call(read())

    def run(self) -> None:
        try:
            self.loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to the test by ``started``
            self.failure = exc
            self.ready.set()

    async def _serve(self) -> None:
        self.stop = asyncio.Event()
        inbox_app = create_inbox_api(self.settings)
        inbox_app.state.live_poll_seconds = POLL_SECONDS
        port = int(self.base_url.rsplit(":", 1)[1])
        server = uvicorn.Server(uvicorn.Config(inbox_app, host="127.0.0.1", port=port,
                                               log_config=None, access_log=False))  # fmt: skip
        gateway_app = create_gateway(self.settings)
        async with (
            runtime(self.settings, configure_logs=False) as rt,
            gateway_app.router.lifespan_context(gateway_app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway_app),
                              base_url="http://gateway",
                              auth=OrgTokens(self.producer_keys, event_source)) as gateway,
        ):  # fmt: skip
            self.rt, self.gateway = rt, gateway
            workers = [asyncio.create_task(run_router(rt, self.stop)),
                       asyncio.create_task(run_delivery(rt, self.stop))]  # fmt: skip
            serving = asyncio.create_task(server.serve())
            while not server.started:
                await asyncio.sleep(0.05)
            self.ready.set()
            await self.stop.wait()
            server.should_exit = True
            await asyncio.gather(serving, *workers)

    def shut(self) -> None:
        if self.stop is not None:
            self.loop.call_soon_threadsafe(self.stop.set)


@contextmanager
def live_site(
    settings: Settings, producer_keys: dict[str, Ed25519PrivateKey], host: str = "127.0.0.1"
) -> Iterator[LiveSite]:
    site = LiveSite(loopback(settings, free_port(), host), producer_keys)
    thread = threading.Thread(target=site.run, daemon=True)
    thread.start()
    site.ready.wait(120)
    try:
        if site.failure is not None:  # the loop is closed below all the same
            raise site.failure
        yield site
    finally:
        site.shut()
        thread.join(60)
        site.loop.close()


@pytest.fixture
def site(
    settings: Settings, directory: None, producer_keys: dict[str, Ed25519PrivateKey]
) -> Iterator[LiveSite]:
    with live_site(settings, producer_keys) as running:
        yield running


@pytest.fixture
def page(site: LiveSite) -> Iterator[Page]:
    """A fresh Chromium page, opened after the site (the site's loop is another thread's)."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("no chromium on the PATH (apt-get install chromium)")
    # Chromium refuses to run its sandbox as root (CI containers run as root).
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=args)
        yield browser.new_context().new_page()
        browser.close()


def sign_in(page: Page, site: LiveSite, contact_id: str) -> None:
    page.goto(site.sign_in_link(contact_id))
    page.get_by_role("button", name="Sign in").click()
    # A link first invites the person to set up a passkey; until they have one, the link's
    # session opens the inbox too.
    page.wait_for_url("**/inbox/passkeys/enrol")
    page.goto(f"{site.base_url}/inbox")
