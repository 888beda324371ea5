"""The guides under docs/ (onboarding an agency, integrating as a recipient): their shell
blocks marked ``<!-- tested: name -->`` run with the real openssl and are checked with the
broker's own code, and every ``sgb`` command line in them names a real command and options
it has (issue 18, section 4)."""

import asyncio
import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import typer.main
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from broker.adapters import tokens
from broker.entrypoints.cli import app
from producers import crypto, recipient_keys, webhook_signatures
from schemas.events import EventAdapter

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed"),
]

DOCS = Path(__file__).parents[2] / "docs"
GUIDES = [DOCS / "onboarding-an-agency.md", DOCS / "integrating-as-a-recipient.md"]
TOKEN_URL = "https://gateway.example.org/v1/oauth/token"


def block(name: str) -> str:
    """The shell block under ``<!-- tested: name -->``."""
    for guide in GUIDES:
        found = re.search(rf"<!-- tested: {name} -->\n```sh\n(.*?)```", guide.read_text(), re.S)
        if found:
            return found.group(1)
    raise AssertionError(f"no block tested: {name}")


def bash(folder: Path, script: str, **env: str) -> dict[str, str]:
    """Runs the script in ``folder``; answers the shell's variables afterwards."""
    names = "KEY_ID ASSERTION EVENT_SIG RECIPIENT_KEY"
    dump = f"\nfor v in {names}; do printf '%s=%s\\n' $v \"${{!v:-}}\"; done"
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script + dump], cwd=folder,
                          env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True,
                          check=False, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = [line.split("=", 1) for line in done.stdout.splitlines() if "=" in line]
    return dict(lines)


def public_of(folder: Path) -> str:
    """The agency's public key as the directory holds it (base64 of the raw key)."""
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    key = load_pem_public_key((folder / "elm.pub.pem").read_bytes())
    assert isinstance(key, crypto.Ed25519PublicKey)
    return crypto.encode_public(key)


class TestAgencyGuide:
    def test_the_key_id_is_the_broker_s(self, tmp_path: Path) -> None:
        """The openssl key id is the one the directory derives from the same key."""
        shell = bash(tmp_path, block("agency-keys"))
        assert shell["KEY_ID"] == crypto.key_id(
            crypto.signing_public_from_text(public_of(tmp_path))
        )

    def test_the_client_assertion_is_accepted_by_the_broker(self, tmp_path: Path) -> None:
        """The broker's assertion verifier takes it: its key, audience, lifetime, once."""
        shell = bash(tmp_path, block("agency-keys") + block("token"), TOKEN_URL=TOKEN_URL)
        key = crypto.signing_public_from_text(public_of(tmp_path))

        async def find_key(org_id: str, key_id: str) -> crypto.Ed25519PublicKey:
            assert (org_id, key_id) == ("gp-elm", shell["KEY_ID"])
            return key

        async def remember(_jti: str, _exp: int) -> bool:
            return True

        proved = asyncio.run(tokens.verify_assertion(shell["ASSERTION"], find_key, [TOKEN_URL],
                                                     remember))  # fmt: skip
        assert proved == "gp-elm"

    def test_the_event_signature_verifies_over_the_body(self, tmp_path: Path) -> None:
        """The label, a newline and the exact bytes of event.json, signed by the agency."""
        shell = bash(tmp_path, block("agency-keys") + block("sign-event"))
        body = (tmp_path / "event.json").read_bytes()
        key = crypto.signing_public_from_text(public_of(tmp_path))
        crypto.verify_event_bytes(key, body, crypto.b64decode(shell["EVENT_SIG"]))

    def test_the_sample_event_is_a_valid_event(self, tmp_path: Path) -> None:
        """What the guide publishes parses as the gateway parses it."""
        bash(tmp_path, block("agency-keys") + block("sign-event"))
        event = EventAdapter.validate_json((tmp_path / "event.json").read_bytes())
        assert event.source_org == "gp-elm"


class TestRecipientGuide:
    def test_the_recipient_key_can_be_sealed_to(self, tmp_path: Path) -> None:
        """The openssl X25519 key is one the directory accepts."""
        shell = bash(tmp_path, block("recipient-key"))
        assert recipient_keys.can_seal_to(shell["RECIPIENT_KEY"])

    def test_a_webhook_signature_verifies_with_openssl(self, tmp_path: Path) -> None:
        """The guide's openssl check accepts what the broker signs, and refuses it altered."""
        broker = Ed25519PrivateKey.generate()
        body = json.dumps({"header": "h", "ciphertext": "c", "signature": "s"}).encode()
        (tmp_path / "body.json").write_bytes(body)
        headers = webhook_signatures.signature_headers(broker, "k1", "n-1", 1_800_000_000, body)
        env = {"BROKER_SIGNING_KEY": crypto.encode_public(broker.public_key()),
               "WEBHOOK_ID": headers["webhook-id"],
               "WEBHOOK_TIMESTAMP": headers["webhook-timestamp"],
               "WEBHOOK_SIGNATURE": headers["webhook-signature"]}  # fmt: skip
        bash(tmp_path, block("webhook-verify"), **env)
        (tmp_path / "body.json").write_bytes(body + b" ")
        with pytest.raises(AssertionError):
            bash(tmp_path, block("webhook-verify"), **env)


def sgb_lines() -> list[str]:
    """Every ``sgb ...`` command in the guides' shell blocks, continuation lines joined."""
    lines = []
    for guide in GUIDES:
        for code in re.findall(r"```sh\n(.*?)```", guide.read_text(), re.S):
            for line in code.replace("\\\n", " ").splitlines():
                command = line.split(" #", 1)[0].strip()
                if command.startswith("sgb "):
                    lines.append(command)
    return lines


@pytest.mark.parametrize("line", sgb_lines())
def test_each_sgb_line_names_a_real_command_and_its_options(line: str) -> None:
    """Subcommands resolved as the CLI resolves them; each --option one the command has."""
    command: Any = typer.main.get_command(app)  # typer's own (vendored) click command
    words = shlex.split(line.replace("<", "'<").replace(">", ">'"))[1:]
    while hasattr(command, "commands") and words and words[0] in command.commands:
        command = command.commands[words.pop(0)]
    assert not hasattr(command, "commands"), f"{line}: no such command"
    known = {opt for p in command.params for opt in p.opts}
    used = {w.split("=", 1)[0] for w in words if w.startswith("--")}
    assert used <= known, f"{line}: unknown options {used - known}"
