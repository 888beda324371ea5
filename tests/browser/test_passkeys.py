"""A school's key adult signs in with a passkey in a real Chromium and opens a notice with the
key it unwrapped: the whole loop through the real inbox app (served on loopback), the router,
Kafka and a database. The passkey is Chromium's virtual authenticator over the DevTools
protocol (CTAP2, internal transport, resident keys, user verification, PRF).

Invited by a sign-in link, the key adult chooses the school's key file and creates a passkey;
the page shows the recovery key once. Signed out (the kept key goes with the session), they
sign in with the passkey: the page unwraps the school's key with the PRF output and opens the
notice in the page. Signed out again, the printed recovery key enrols a new passkey in place
of the first, the page shows a new recovery key once, and the notice opens again. On another
computer the new recovery key adds a passkey beside that one: the notice opens there, and the
first computer's passkey still signs in. Neither the key, either recovery key nor the notice's
plaintext crosses the wire (the PRF output is never anywhere but in the page).

Chromium is launched inside the test, not per module: the test's own fixtures (the database,
the router) run on pytest's event loop, which Playwright's sync API must not find running.
"""

import asyncio
import json
import os
import re
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from playwright.sync_api import Page, expect, sync_playwright
from sqlalchemy import select
from support import post_signed
from typer.testing import CliRunner

from broker.adapters import audit, db
from broker.bootstrap import Runtime
from broker.config import Settings
from broker.demo import family
from broker.entrypoints import cli
from broker.entrypoints.inbox_api import create_inbox_api
from broker.rules import wording
from broker.rules.school_notice import QUIET_SUPPORT
from broker.services import web_sign_in
from browser.axe import assert_no_axe_violations
from browser.passkeys import (
    AUTHENTICATOR,
    Invitation,
    add_authenticator,
    arrives,
    chromium_args,
    chromium_executable,
    enrol,
    write_key_file,
)
from browser.wire import assert_never_on_the_wire, record_wire

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
T = TypeVar("T")
SCHOOL = "school-oakfield:key_adult"


@pytest.fixture(scope="session")
def database_backend() -> str:
    """One database is enough to drive a browser through: the ceremonies' SQL runs on both
    in tests/web/test_passkeys.py and tests/contracts/test_passkeys.py."""
    return "sqlite"


@pytest.fixture
async def invitation(
    settings: Settings, gateway: httpx.AsyncClient, running_broker: Runtime,
    producer_keys: dict[str, Ed25519PrivateKey], recipient_keys: dict[str, Any], tmp_path: Path,
) -> Invitation:  # fmt: skip
    """A mother's crisis routed to the school's inbox, a sign-in link for its key adult, and
    the school's key file as the administrator handed it over."""
    event = {"event_type": "parent_mental_health_crisis", "event_id": str(uuid.uuid4()),
             "source_org": "mh-demo", "occurred_at": datetime.now(UTC).isoformat(),
             "subject": {"nhs_number": family.MOTHER}, "suicidal_ideation": True}  # fmt: skip
    assert (await post_signed(gateway, event, producer_keys)).status_code == 202
    notice = await _inbox_notice(running_broker, SCHOOL)
    async with running_broker.unit_of_work() as uow:
        issued = await web_sign_in.issue_link(uow, SCHOOL, "test-admin", datetime.now(UTC))
    key_file, secret = write_key_file(recipient_keys[SCHOOL], tmp_path)
    # The child's given name, as the notice names him (tests/web/test_pages.py opens it).
    return Invitation(issued.token, notice.notice_id, ["Leo"], key_file, secret)


async def _inbox_notice(rt: Runtime, recipient: str) -> db.InboxNotice:
    async with asyncio.timeout(60):
        while True:
            async with rt.sessions() as session:
                query = select(db.InboxNotice).where(db.InboxNotice.recipient_id == recipient)
                found = (await session.scalars(query)).first()
            if found is not None:
                return found
            await asyncio.sleep(0.2)


@pytest.fixture
def inbox_url(settings: Settings, invitation: Invitation) -> Iterator[str]:
    """The real inbox app served on loopback in a thread of its own (its own event loop and
    runtime), reached as http://localhost: a secure context, and a name WebAuthn accepts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://localhost:{port}"
    served = settings.model_copy(update={"inbox_base_url": url, "web_insecure_loopback": True})
    server = uvicorn.Server(uvicorn.Config(create_inbox_api(served), host="127.0.0.1",
                                           port=port, log_level="warning"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(300):
        if server.started:
            break
        threading.Event().wait(0.1)
    assert server.started, "the inbox app did not start"
    yield url
    server.should_exit = True
    thread.join(timeout=30)


def test_enrol_sign_out_sign_in_with_the_passkey_and_open_the_notice(
    inbox_url: str, invitation: Invitation, screenshot: Callable[[Page, str], Path]
) -> None:
    """The loop a key adult goes through, the notice opened with the passkey-unwrapped key,
    then with the key the recovery key unwrapped, then on a second computer added with it."""
    executable = chromium_executable()
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True, args=args)
        try:
            context = chromium.new_context()
            page = context.new_page()
            wire = record_wire(page)
            cdp = context.new_cdp_session(page)
            cdp.send("WebAuthn.enable")
            cdp.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})
            recovery_key = enrol(page, inbox_url, invitation, screenshot)
            _sign_out_and_in(page, inbox_url, screenshot)
            _open_notice(page, inbox_url, invitation, screenshot)
            used, recovery_key = recovery_key, _recover(page, inbox_url, recovery_key, screenshot)
            _open_notice(page, inbox_url, invitation, screenshot)
            # Another computer: its own authenticator, added with the recovery key beside the
            # first computer's passkey, which still signs in there and lists both.
            other = chromium.new_context().new_page()
            other_wire = record_wire(other)
            add_authenticator(other)
            _add_this_device(other, inbox_url, recovery_key, screenshot)
            _open_notice(other, inbox_url, invitation, screenshot)
            # Back on the first: its next sign-in shows the passkey added meanwhile, to check.
            _sign_out_and_in(page, inbox_url, screenshot, f"{inbox_url}/inbox/passkeys?added=1")
            expect(page.get_by_text("A passkey was added with your recovery key")).to_be_visible()
            expect(page.get_by_text("This device", exact=True)).to_have_count(1)
            expect(page.get_by_role("link", name=re.compile("^Remove passkey"))).to_have_count(1)
            screenshot(page, "passkeys-two-devices")
            assert_no_axe_violations(page)  # the banner too (no ceremony on this page after)
            _open_notice(page, inbox_url, invitation, screenshot)
            # The child's family name (long enough not to turn up by chance in base64, as
            # "Leo" alone did once in a sealed notice), the key, its file, the recovery key.
            _check_accessibility(page, inbox_url, invitation.notice_id)
            # The new recovery key's page, checked last (axe leaves a later ceremony pending),
            # on the other computer: replacing there works with the key renewed first.
            last = _recover(other, inbox_url, recovery_key, screenshot, axe=True)
            secrets = ["Carter", invitation.key_secret.hex(),
                       invitation.key_file.read_text().split("-----")[2].strip(),
                       *(k.replace("-", "") for k in (used, recovery_key, last))]  # fmt: skip
            assert_never_on_the_wire(wire, secrets)
            assert_never_on_the_wire(other_wire, secrets)
        finally:
            chromium.close()


def _sign_out_and_in(page: Page, url: str, screenshot: Callable[[Page, str], Path],
                     lands: str | None = None) -> None:  # fmt: skip
    """Signed out, the key goes; signed in with the passkey, it is kept again (unreadable to
    the page's script), and the page lands on ``lands`` (the inbox unless given)."""
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{url}/inbox/signed-out")
    assert page.evaluate(_KEPT) is None, "the key stayed in the browser after signing out"
    page.goto(f"{url}/inbox/passkeys/sign-in")
    screenshot(page, "passkey-sign-in")
    page.get_by_role("button", name="Sign in with a passkey").click()
    arrives(page, lands or f"{url}/inbox")
    kept = page.evaluate(_KEPT)
    assert kept == {
        "extractable": False,
        "suite": "DHKEM(X25519,HKDF-SHA256)/HKDF-SHA256/AES-256-GCM",
    }


def _recover(page: Page, url: str, recovery_key: str,
             screenshot: Callable[[Page, str], Path], axe: bool = False) -> str:  # fmt: skip
    """Signed out, the printed recovery key enrols a new passkey in place of the old and
    signs in again; answers the new recovery key the page showed once (checked by axe with
    ``axe``: no ceremony may follow on the page then)."""
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{url}/inbox/signed-out")
    page.goto(f"{url}/inbox/passkeys/recovery")
    page.get_by_label("Recovery key").fill(recovery_key.lower())  # as a person might type it
    screenshot(page, "passkey-recovery")
    page.get_by_role("button", name="Replace my passkeys").click()
    expect(page.locator("#recovery-shown")).to_be_visible(timeout=20_000)
    renewed = page.locator("#recovery-key").inner_text()
    assert len(renewed.replace("-", "")) == 32
    expect(page.locator("#recovery-form")).to_be_hidden()
    expect(page.get_by_label("Recovery key")).to_have_value("")
    screenshot(page, "passkey-recovery-renewed")
    if axe:
        assert_no_axe_violations(page)
    page.get_by_role("link", name="I have kept my new recovery key: go to the inbox").click()
    page.wait_for_url(f"{url}/inbox")
    return renewed


def _add_this_device(page: Page, url: str, recovery_key: str,
                     screenshot: Callable[[Page, str], Path]) -> None:  # fmt: skip
    """On another computer, the recovery key adds a passkey there beside the person's
    others, signs in, and shows them both."""
    page.goto(f"{url}/inbox/passkeys/recovery")
    page.get_by_label("Recovery key").fill(recovery_key)
    page.get_by_role("button", name="Add this device").click()
    arrives(page, f"{url}/inbox/passkeys")  # every passkey of theirs, to check
    expect(page.get_by_text("This device", exact=True)).to_have_count(1)
    expect(page.get_by_role("link", name=re.compile("^Remove passkey"))).to_have_count(1)
    screenshot(page, "passkey-added-device")


def _open_notice(page: Page, url: str, invitation: Invitation,
                 screenshot: Callable[[Page, str], Path]) -> None:  # fmt: skip
    page.goto(f"{url}/inbox/notices/{invitation.notice_id}")
    expect(page.locator("#notice-status")).to_have_text("Opened in this browser.", timeout=20_000)
    fields = page.locator("#notice-fields").inner_text()
    for word in invitation.words:
        assert word in fields
    # In plain words (broker.rules.wording): the sentence, never the key, in the main view;
    # the raw fields only in the collapsed technical details.
    assert wording.english()[QUIET_SUPPORT] in fields
    assert not re.search(r"school\.action\.|relation\.|Not given|Rule id", fields)
    expect(page.locator("#notice-technical")).to_be_visible()
    expect(page.locator("#notice-raw")).not_to_be_visible()
    screenshot(page, "notice-opened-with-passkey")


def _check_accessibility(page: Page, url: str, notice_id: str) -> None:
    # axe after the ceremonies: injected before one, it left Chromium's get() pending.
    page.goto(f"{url}/inbox/notices/{notice_id}")
    expect(page.locator("#notice-status")).to_have_text("Opened in this browser.", timeout=20_000)
    assert_no_axe_violations(page)
    for form in ("enrol", "sign-in", "recovery"):
        page.goto(f"{url}/inbox/passkeys/{form}")
        assert_no_axe_violations(page)


# The kept key as the notice page finds it: its kind, and whether its bytes could be read out.
_KEPT = """async () => {
  const { keptKey } = await import("/inbox/static/js/key-keeper.js");
  const key = await keptKey();
  return key ? { extractable: key.x25519.extractable, suite: key.suite } : null;
}"""


def test_a_failed_ceremony_is_audited_and_a_revoked_passkey_refused(
    inbox_url: str, invitation: Invitation, settings: Settings,
    screenshot: Callable[[Page, str], Path], monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """The device first fails to verify the person (as a wrong fingerprint or a cancelled PIN
    prompt would): the browser's rejection is reported, audited by kind and error, and the
    page says what to do. Verified, the passkey is set up; signed out, the person is told to
    sign in with it. An operator revokes it (``sgb contact passkeys``): the next sign-in
    with it is refused, audited as an unknown passkey."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=chromium_executable(), headless=True, args=chromium_args()
        )
        try:
            page = chromium.new_context().new_page()
            cdp = page.context.new_cdp_session(page)
            cdp.send("WebAuthn.enable")
            unverified = AUTHENTICATOR | {"isUserVerified": False}
            added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": unverified})
            page.goto(f"{inbox_url}/inbox/sign-in/{invitation.link_token}")
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{inbox_url}/inbox/passkeys/enrol")
            page.set_input_files("#enrol-key-file", str(invitation.key_file))
            page.get_by_role("button", name="Create a passkey").click()
            expect(page.locator("#passkey-status")).to_contain_text(
                "could not check it was you", timeout=20_000)  # fmt: skip
            screenshot(page, "passkey-enrol-failed")
            assert _audited(settings, "passkey_ceremony_failed") == [
                {"ceremony": "registration", "error": "NotAllowedError"}]  # fmt: skip

            # A device that does verify its person, in place of the one that did not.
            cdp.send("WebAuthn.removeVirtualAuthenticator", added)
            cdp.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})
            page.get_by_role("button", name="Create a passkey").click()
            try:
                expect(page.locator("#recovery-shown")).to_be_visible(timeout=20_000)
            except AssertionError:
                said = page.locator("#passkey-status").all_inner_texts()
                raise AssertionError(f"not enrolled: the page says {said}") from None
            page.get_by_role("link", name="I have kept my recovery key: go to the inbox").click()
            page.wait_for_url(f"{inbox_url}/inbox")
            page.get_by_role("button", name="Sign out").click()
            page.wait_for_url(f"{inbox_url}/inbox/signed-out")
            expect(page.get_by_role("link", name="Sign in with your passkey")).to_be_visible()
            screenshot(page, "signed-out-with-passkey")

            _revoke_every_passkey(settings, monkeypatch)
            page.get_by_role("link", name="Sign in with your passkey").click()
            page.wait_for_url(f"{inbox_url}/inbox/passkeys/sign-in")  # its script loaded
            page.get_by_role("button", name="Sign in with a passkey").click()
            expect(page.locator("#passkey-status")).to_have_text(
                re.compile("^This passkey could not be used. Try again. If it keeps happening, "
                           ".*use your recovery key"), timeout=20_000)  # fmt: skip
            assert page.url == f"{inbox_url}/inbox/passkeys/sign-in"
            screenshot(page, "passkey-revoked-refused")
            assert _audited(settings, "passkey_refused")[-1]["reason"] == "unknown_passkey"
            # axe after the ceremonies, as above (injected before one, it stalls the next).
            assert_no_axe_violations(page)
            page.goto(f"{inbox_url}/inbox/signed-out")
            assert_no_axe_violations(page)
        finally:
            chromium.close()


def _revoke_every_passkey(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """As an operator would, when no administrator can sign in."""
    monkeypatch.setenv("SGB_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SGB_KEYS_DIR", str(settings.keys_dir))
    listed = _in_a_thread(lambda: CliRunner().invoke(
        cli.app, ["contact", "passkeys", "list", SCHOOL, "--json"]))  # fmt: skip
    assert listed.exit_code == 0, listed.output
    for line in listed.output.splitlines():
        command = ["contact", "passkeys", "revoke", SCHOOL, json.loads(line)["reference"]]
        revoked = _in_a_thread(partial(CliRunner().invoke, cli.app, command))
        assert revoked.exit_code == 0, revoked.output


def _audited(settings: Settings, action: str) -> list[dict[str, Any]]:
    """The details of the audit log's entries of that action, oldest first."""

    async def read() -> list[dict[str, Any]]:
        engine = db.make_engine(settings.database_url)
        try:
            async with engine.connect() as connection:
                rows = await connection.execute(
                    select(audit.AuditEntry.details)
                    .where(audit.AuditEntry.action == action)
                    .order_by(audit.AuditEntry.seq)
                )
                return [json.loads(details) for (details,) in rows.all()]
        finally:
            await engine.dispose()

    return _in_a_thread(lambda: asyncio.run(read()))


def _in_a_thread(work: Callable[[], T]) -> T:
    """Away from Playwright's event loop, which runs in the test's thread."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(work).result()
