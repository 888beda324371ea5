"""Passkeys in a real Chromium, shared by the browser tests that sign a person in with one:
Chromium's virtual authenticator over the DevTools protocol (CTAP2, internal transport,
resident keys, user verification, PRF), the enrolment from an invitation link, and the
recipient's key file as an administrator hands it over."""

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

AUTHENTICATOR = {
    "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
    "hasUserVerification": True, "isUserVerified": True, "hasPrf": True,
    "automaticPresenceSimulation": True,
}  # fmt: skip


@dataclass(frozen=True)
class Invitation:
    link_token: str
    notice_id: str
    words: list[str]  # what the notice says about the child: shown in the page, never sent
    key_file: Path
    key_secret: bytes


def chromium_executable() -> Any:
    """Debian's chromium; without it the test is skipped (failed under CI)."""
    executable = shutil.which("chromium")
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail("no chromium on the PATH (apt-get install chromium)")
        pytest.skip("no chromium on the PATH (apt-get install chromium)")
    return executable


def chromium_args() -> list[str]:
    # Chromium refuses to run its sandbox as root (CI containers run as root).
    return ["--no-sandbox"] if os.geteuid() == 0 else []


def add_authenticator(page: Page) -> None:
    """Gives the page's browser context a virtual authenticator with PRF."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})


def write_key_file(key: X25519PrivateKey, folder: Path) -> tuple[Path, bytes]:
    """The classic key as its PEM file, and its raw secret (to look for on the wire)."""
    key_file = folder / "school-key.pem"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    secret = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                               serialization.NoEncryption())  # fmt: skip
    return key_file, secret


def enrol(
    page: Page, url: str, invitation: Invitation, screenshot: Callable[[Page, str], Path]
) -> str:
    """Follows the invitation, creates a passkey with the key file; answers the recovery key
    the page showed once."""
    page.goto(f"{url}/inbox/sign-in/{invitation.link_token}")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}/inbox/passkeys/enrol")
    page.set_input_files("#enrol-key-file", str(invitation.key_file))
    page.get_by_role("button", name="Create a passkey").click()
    expect(page.locator("#recovery-shown")).to_be_visible(timeout=20_000)
    recovery_key = page.locator("#recovery-key").inner_text()
    assert len(recovery_key.replace("-", "")) == 32
    screenshot(page, "passkey-enrolled")
    page.get_by_role("link", name="I have kept my recovery key: go to the inbox").click()
    page.wait_for_url(f"{url}/inbox")
    return recovery_key


def arrives(page: Page, url: str) -> None:
    """At the URL, or failing with what the passkey page said instead."""
    try:
        page.wait_for_url(url, timeout=20_000)
    except PlaywrightTimeout:
        said = page.locator("#passkey-status").all_inner_texts()
        raise AssertionError(f"did not reach {url}: the page says {said}") from None
