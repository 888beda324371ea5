"""notice-crypto.js in a real Chromium opens what the producers sealed, and nothing else."""

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from playwright.sync_api import Page

from browser import vectors
from browser.wire import assert_never_on_the_wire, record_wire
from producers import crypto, envelopes, recipient_keys

Screenshot = Callable[[Page, str], Path]


def open_harness(page: Page, site: str, name: str = "notices") -> None:
    page.goto(f"{site}/pages/{name}.html")
    page.wait_for_selector("html[data-ready=yes]", state="attached")


def open_vector(page: Page, name: str, keys: dict[str, str]) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate(
        "([name, keys]) => window.openVector(name, keys)", [name, keys]
    )
    return result


def personal_strings(body: Any) -> list[str]:
    """Every string in a body worth hiding: names, numbers, the summary (not short codes)."""
    if isinstance(body, dict):
        return [s for value in body.values() for s in personal_strings(value)]
    if isinstance(body, list):
        return [s for value in body for s in personal_strings(value)]
    return [body] if isinstance(body, str) and len(body) >= 4 else []


class TestOpensEveryVector:
    def test_each_vector_as_python_expects(
        self, page: Page, site: str, notice_vectors: dict[str, Any], screenshot: Screenshot
    ) -> None:
        """Every good vector opens to Python's plaintext; every tampered one throws its code."""
        open_harness(page, site)
        outcomes = {
            v["name"]: open_vector(page, v["name"], notice_vectors["keys"])
            for v in notice_vectors["vectors"]
        }
        expected = {v["name"]: v["expect"] for v in notice_vectors["vectors"]}
        assert {n: o.get("body", o.get("error")) for n, o in outcomes.items()} == {
            n: e.get("body", e.get("error")) for n, e in expected.items()
        }
        screenshot(page, "last-vector")

    def test_errors_are_notice_open_errors_without_content(
        self, page: Page, site: str, notice_vectors: dict[str, Any]
    ) -> None:
        """A refused notice throws a NoticeOpenError whose message holds no personal data."""
        open_harness(page, site)
        good = next(v for v in notice_vectors["vectors"] if v["name"] == "x25519")
        secrets = personal_strings(good["expect"]["body"])
        for vector in notice_vectors["vectors"]:
            if "error" in vector["expect"]:
                outcome = open_vector(page, vector["name"], notice_vectors["keys"])
                assert outcome["name"] == "NoticeOpenError"
                assert not [s for s in secrets if s in outcome["message"]]


class TestBadInput:
    @pytest.mark.parametrize(
        ("sealed", "code"),
        [
            ("not json", "bad-input"),
            ({"header": "{}", "ciphertext": "AAAA"}, "bad-input"),
            ({"header": "{}", "ciphertext": "not base64!", "signature": "AAAA"}, "bad-input"),
            ({"header": "{", "ciphertext": "AAAA", "signature": "AAAA"}, "bad-input"),
            ({"header": "5", "ciphertext": "AAAA", "signature": "AAAA"}, "bad-input"),
            ({"header": '{"signing_key_id": 1}', "ciphertext": "", "signature": ""}, "bad-input"),
        ],
    )
    def test_malformed_notice(
        self, page: Page, site: str, notice_vectors: dict[str, Any], sealed: Any, code: str
    ) -> None:
        """What is not a sealed notice is refused as bad input, not opened."""
        open_harness(page, site)
        outcome = page.evaluate(
            """async ([sealed, keys, brokerPublic]) => {
                const key = await noticeCrypto.importRecipientKey(keys.classic);
                try { await noticeCrypto.openNotice(sealed, key, brokerPublic); return "opened"; }
                catch (error) { return error.code; }
            }""",
            [sealed, notice_vectors["keys"], notice_vectors["broker_public"]],
        )
        assert outcome == code

    @pytest.mark.parametrize(
        "key", ["", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"]
    )
    def test_malformed_key(self, page: Page, site: str, key: str) -> None:
        """A key that is not a recipient key is refused with a clear error."""
        open_harness(page, site)
        outcome = page.evaluate(
            """async (text) => {
                try { await noticeCrypto.importRecipientKey(text); return "imported"; }
                catch (error) { return error.code; }
            }""",
            key,
        )
        assert outcome == "bad-input"


class TestRawSecrets:
    def test_a_classic_key_from_its_32_secret_bytes(
        self, page: Page, site: str, notice_vectors: dict[str, Any]
    ) -> None:
        """importX25519Secret gives the same key (same id) as the key's PEM file."""
        open_harness(page, site)
        key = vectors.private_key(notice_vectors, "classic")
        assert isinstance(key, X25519PrivateKey)
        ids = page.evaluate(
            """async ([pem, raw]) => [
                (await noticeCrypto.importRecipientKey(pem)).keyId,
                (await noticeCrypto.importX25519Secret(
                    Uint8Array.from(atob(raw), (c) => c.charCodeAt(0)))).keyId,
            ]""",
            [notice_vectors["keys"]["classic"], base64.b64encode(key.private_bytes_raw()).decode()],
        )
        assert ids == [crypto.key_id(key.public_key())] * 2


class TestIntegrity:
    def test_a_bundle_whose_hash_differs_is_not_run(self, page: Page, site: str) -> None:
        """The import map's sha384 is enforced: a mismatched bundle stops the module loading."""
        errors: list[str] = []
        page.on("console", lambda message: errors.append(message.text))
        page.goto(f"{site}/pages/tampered-bundle.html")
        page.wait_for_load_state("networkidle")
        assert page.evaluate("() => typeof window.noticeCrypto") == "undefined"
        assert any("integrity" in error.lower() for error in errors)


class TestPlaintextNeverOnTheWire:
    def test_opening_notices_sends_no_plaintext_or_key(
        self, page: Page, site: str, notice_vectors: dict[str, Any], screenshot: Screenshot
    ) -> None:
        """With both suites' notices shown in the page, no plaintext or private key crossed
        the page's HTTP traffic (nor would in a WebSocket or server-sent event)."""
        wire = record_wire(page)
        open_harness(page, site)
        secrets: list[str] = []
        for name in ("x25519", "hybrid"):
            outcome = open_vector(page, name, notice_vectors["keys"])
            shown = page.inner_text("#notice")
            body = outcome["body"]
            assert body["summary"] in shown
            secrets += personal_strings(body)
        screenshot(page, "hybrid-notice-shown")
        keys = notice_vectors["keys"]
        pem_body = "".join(keys["classic"].splitlines()[1:-1])
        secrets += [pem_body, keys["hybrid"]]
        assert_never_on_the_wire(wire, secrets)

    def test_the_scan_finds_what_does_cross(
        self, page: Page, site: str, notice_vectors: dict[str, Any]
    ) -> None:
        """The scan is not vacuous: text the page does send is found, in any of its encodings."""
        wire = record_wire(page)
        open_harness(page, site)
        page.evaluate(
            "() => fetch('/vectors.json?who=' + encodeURIComponent('Siân Ó')).then((r) => r.text())"
        )
        with pytest.raises(AssertionError, match="crossed the wire"):
            assert_never_on_the_wire(wire, ["Siân Ó"])

    def test_the_scan_reads_server_sent_events(self, page: Page, site: str) -> None:
        """An event pushed down an open stream (the inbox's live updates) is scanned too."""
        wire = record_wire(page)
        open_harness(page, site)
        page.evaluate(
            """() => new Promise((resolve) => {
                const source = new EventSource("/events?backwards=terces-dehsup");
                source.onmessage = () => { source.close(); resolve(); };
            })"""
        )
        with pytest.raises(AssertionError, match="crossed the wire in the frame"):
            assert_never_on_the_wire(wire, ["pushed-secret"])


# The schemas refuse NUL, and say so; pydantic refuses lone surrogates (no UTF-8 holds them).
TEXT = st.characters(codec="utf-8", exclude_characters="\x00")


class TestAnyBodyRoundTrips:
    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],  # one page serves all
    )
    @given(
        summary=st.text(TEXT, min_size=1, max_size=400),
        given_name=st.text(TEXT, min_size=1, max_size=40),
        hybrid=st.booleans(),
    )
    def test_what_python_seals_the_browser_opens_unchanged(
        self, page: Page, site: str, summary: str, given_name: str, hybrid: bool
    ) -> None:
        """Any text, in either suite, sealed by the producers opens to the same JSON."""
        if page.url == "about:blank":
            open_harness(page, site)
        keys = vectors.Keys() if not KEYS else KEYS[0]
        KEYS[:] = [keys]
        notice_body = vectors.body(given_name).model_copy(update={"summary": summary})
        recipient = (
            recipient_keys.public_from_text(keys.hybrid_public_text)
            if hybrid
            else keys.classic.public_key()
        )
        sealed = envelopes.seal_notice(
            vectors.header(keys, hybrid=hybrid), notice_body, recipient, keys.signing
        )
        opened = page.evaluate(
            """async ([sealed, pem, hybridFile, hybrid, brokerPublic]) => {
                const key = await noticeCrypto.importRecipientKey(
                    hybrid ? Uint8Array.from(atob(hybridFile), (c) => c.charCodeAt(0)) : pem);
                return await noticeCrypto.openNotice(sealed, key, brokerPublic);
            }""",
            [
                sealed.model_dump_json(),
                vectors.pem(keys.classic),
                base64.b64encode(vectors.hybrid_file(keys.hybrid_secret)).decode(),
                hybrid,
                keys.broker_public().to_text(),
            ],
        )
        assert opened == json.loads(notice_body.model_dump_json())


KEYS: list[vectors.Keys] = []  # one set of keys for every example (ML-KEM keygen is slow)
