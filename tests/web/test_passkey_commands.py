"""``sgb contact passkeys list|revoke``: an operator lists a contact's passkeys and revokes
one when no administrator can sign in; the revoked passkey signs in no more."""

import asyncio
import json

import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from broker.config import Settings
from broker.entrypoints import cli
from broker.rules.authenticators import passkey_reference
from broker.rules.passkeys import b64url
from tests.web.conftest import new_browser
from tests.web.test_admin_pages import audited
from tests.web.test_passkeys import KEY_ADULT, enrol, passkey_sign_in

pytestmark = pytest.mark.integration


@pytest.fixture
def sgb(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("SGB_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SGB_KEYS_DIR", str(settings.keys_dir))
    return CliRunner()


async def invoke(sgb: CliRunner, *args: str) -> tuple[int, str]:
    # A command runs its own event loop: in a thread, beside the test's.
    result = await asyncio.to_thread(sgb.invoke, cli.app, ["contact", "passkeys", *args,
                                                           "--operator", "duty-admin"])  # fmt: skip
    return result.exit_code, result.output


class TestPasskeyCommands:
    async def test_list_then_revoke_and_it_signs_in_no_more(
        self, web_app: FastAPI, sgb: CliRunner
    ) -> None:
        """The list names the passkey by reference (never its id); revoking it by that
        reference is audited under the operator, and its next sign-in is refused."""
        enrolled = await enrol(web_app)
        credential_id = b64url(enrolled.passkey.credential_id)
        code, output = await invoke(sgb, "list", KEY_ADULT, "--json")
        assert code == 0, output
        [line] = [json.loads(x) for x in output.splitlines()]
        assert line["reference"] == passkey_reference(credential_id)
        assert line["authenticator"] == "Passkey"
        assert credential_id not in output
        code, output = await invoke(sgb, "revoke", KEY_ADULT, line["reference"])
        assert (code, output.startswith("revoked: ")) == (0, True), output
        assert [a for a, _, _ in await audited(web_app, "passkey_revoked")] == ["duty-admin"]
        answer, _ = await passkey_sign_in(new_browser(web_app), enrolled.passkey)
        assert answer.status_code == 400

    async def test_an_unknown_reference_is_refused_plainly(
        self, web_app: FastAPI, sgb: CliRunner
    ) -> None:
        """No such passkey: exit 1, said in a line, the contact's passkeys untouched."""
        enrolled = await enrol(web_app)
        code, output = await invoke(sgb, "revoke", KEY_ADULT, "0" * 12)
        assert code == 1
        assert "no such passkey" in output
        answer, _ = await passkey_sign_in(new_browser(web_app), enrolled.passkey)
        assert answer.status_code == 200

    async def test_a_contact_without_passkeys_lists_none(
        self, web_app: FastAPI, sgb: CliRunner
    ) -> None:
        """Nothing enrolled: "no passkeys"."""
        assert await invoke(sgb, "list", KEY_ADULT) == (0, "no passkeys\n")
