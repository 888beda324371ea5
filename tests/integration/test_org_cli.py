"""``sgb org`` and ``sgb key-changes`` on a SQLite database, through the real commands: an
organisation is registered at once, and every signing key given, added or revoked waits for
a second operator's approval, audited with its proposer (issue 18, section 4)."""

import asyncio
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select
from typer.testing import CliRunner, Result

from broker.adapters import db
from broker.adapters.audit import AuditEntry
from broker.entrypoints.cli import app
from broker.keys import KeyStore
from producers import crypto

pytestmark = pytest.mark.integration

ORG = ["org", "add", "gp-elm", "--name", "Elm Surgery", "--kind", "gp_practice",
       "--area", "E06000099"]  # fmt: skip


def new_key() -> str:
    return crypto.encode_public(Ed25519PrivateKey.generate().public_key())


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    KeyStore.create(tmp_path / "keys")
    return {"SGB_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'broker.db'}",
            "SGB_KEYS_DIR": str(tmp_path / "keys")}  # fmt: skip


async def sgb(env: dict[str, str], *args: str) -> Result:
    return await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)


def change_id(result: Result) -> str:
    found = re.search(r"key change ([0-9a-f-]{36})", result.output)
    assert found, result.output
    return found.group(1)


async def keys_on_record(env: dict[str, str]) -> list[db.OrgSigningKey]:
    engine = db.make_engine(env["SGB_DATABASE_URL"])
    async with db.sessions(engine)() as session:
        rows = list((await session.scalars(select(db.OrgSigningKey))).all())
    await engine.dispose()
    return rows


async def audit_actions(env: dict[str, str]) -> list[tuple[str, str]]:
    engine = db.make_engine(env["SGB_DATABASE_URL"])
    async with db.sessions(engine)() as session:
        rows = (await session.scalars(select(AuditEntry).order_by(AuditEntry.seq))).all()
    await engine.dispose()
    return [(r.action, r.actor) for r in rows]


class TestOrgAdd:
    async def test_the_organisation_is_created_and_its_key_held(self, env: dict[str, str]) -> None:
        """Created at once; the key waits: no key on record until approved."""
        done = await sgb(env, *ORG, "--signing-key", new_key(), "--operator", "ops-1")
        assert done.exit_code == 0, done.output
        assert "organisation gp-elm: created" in done.output
        assert "held for approval" in done.output
        assert await keys_on_record(env) == []

    async def test_a_second_operator_s_approval_puts_the_key_on_record(
        self, env: dict[str, str]
    ) -> None:
        """Approved by ops-2, the key is the organisation's; the audit log names both."""
        key = new_key()
        held = await sgb(env, *ORG, "--signing-key", key, "--operator", "ops-1")
        approved = await sgb(env, "key-changes", "approve", change_id(held), "--operator", "ops-2")
        assert approved.exit_code == 0, approved.output
        assert [k.public_key for k in await keys_on_record(env)] == [key]
        actions = await audit_actions(env)
        assert ("key_change_requested", "operator:ops-1") in actions
        assert ("key_change_approved", "operator:ops-2") in actions

    async def test_the_proposer_cannot_approve_their_own_change(self, env: dict[str, str]) -> None:
        """One line, exit 1, the refusal audited, nothing on record."""
        held = await sgb(env, *ORG, "--signing-key", new_key(), "--operator", "ops-1")
        refused = await sgb(env, "key-changes", "approve", change_id(held), "--operator", "ops-1")
        assert refused.exit_code == 1
        assert refused.output.count("\n") == 1
        assert "another administrator" in refused.output
        assert await keys_on_record(env) == []
        assert ("access_refused", "operator:ops-1") in await audit_actions(env)

    async def test_a_pem_file_from_openssl_is_accepted(
        self, env: dict[str, str], tmp_path: Path
    ) -> None:
        """``openssl pkey -pubout`` writes SubjectPublicKeyInfo PEM: read as the raw key."""
        public = Ed25519PrivateKey.generate().public_key()
        pem = tmp_path / "elm.pub.pem"
        pem.write_bytes(public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
        held = await sgb(env, *ORG, "--signing-key", str(pem), "--operator", "ops-1")
        await sgb(env, "key-changes", "approve", change_id(held), "--operator", "ops-2")
        assert [k.public_key for k in await keys_on_record(env)] == [crypto.encode_public(public)]

    async def test_an_organisation_on_record_is_refused(self, env: dict[str, str]) -> None:
        """A second add is one line, exit 1: keys change through sgb org key."""
        await sgb(env, *ORG, "--operator", "ops-1")
        again = await sgb(env, *ORG, "--operator", "ops-1")
        assert again.exit_code == 1
        assert "on record already" in again.output

    async def test_an_invalid_field_is_named_not_echoed(self, env: dict[str, str]) -> None:
        """Exit 1, the field named, the value sent not shown."""
        done = await sgb(env, "org", "add", "gp-elm", "--name", "Elm", "--kind", "bakery",
                         "--area", "E06000099", "--operator", "ops-1")  # fmt: skip
        assert done.exit_code == 1
        assert "kind" in done.output
        assert "bakery" not in done.output


class TestKeyAddAndRevoke:
    async def test_a_key_added_then_the_old_one_revoked(self, env: dict[str, str]) -> None:
        """Each is held and approved; the old key stays on record, valid until revoked."""
        old, new = new_key(), new_key()
        held = await sgb(env, *ORG, "--signing-key", old, "--operator", "ops-1")
        await sgb(env, "key-changes", "approve", change_id(held), "--operator", "ops-2")
        added = await sgb(env, "org", "key", "add", "gp-elm", new, "--operator", "ops-1")
        await sgb(env, "key-changes", "approve", change_id(added), "--operator", "ops-2")
        old_id = crypto.key_id(crypto.signing_public_from_text(old))
        revoked = await sgb(env, "org", "key", "revoke", "gp-elm", old_id, "--operator", "ops-1")
        assert revoked.exit_code == 0, revoked.output
        still = {k.public_key: k.valid_until for k in await keys_on_record(env)}
        assert still[old] is None  # not yet approved
        await sgb(env, "key-changes", "approve", change_id(revoked), "--operator", "ops-2")
        still = {k.public_key: k.valid_until for k in await keys_on_record(env)}
        assert still[old] is not None
        assert still[new] is None

    async def test_the_key_list_shows_each_key_id(self, env: dict[str, str]) -> None:
        """The id events carry as their key id."""
        key = new_key()
        held = await sgb(env, *ORG, "--signing-key", key, "--operator", "ops-1")
        await sgb(env, "key-changes", "approve", change_id(held), "--operator", "ops-2")
        listed = await sgb(env, "org", "key", "list", "gp-elm")
        assert crypto.key_id(crypto.signing_public_from_text(key)) in listed.output

    async def test_a_key_on_record_is_refused(self, env: dict[str, str]) -> None:
        """Adding it again is one line, exit 1."""
        key = new_key()
        held = await sgb(env, *ORG, "--signing-key", key, "--operator", "ops-1")
        await sgb(env, "key-changes", "approve", change_id(held), "--operator", "ops-2")
        again = await sgb(env, "org", "key", "add", "gp-elm", key, "--operator", "ops-1")
        assert again.exit_code == 1
        assert "has key" in again.output

    async def test_revoking_an_unknown_key_is_refused(self, env: dict[str, str]) -> None:
        """Exit 1, no change held."""
        await sgb(env, *ORG, "--operator", "ops-1")
        done = await sgb(env, "org", "key", "revoke", "gp-elm", "0" * 16, "--operator", "ops-1")
        assert done.exit_code == 1
        assert "no signing key" in done.output

    async def test_the_proposer_may_withdraw_and_the_list_empties(
        self, env: dict[str, str]
    ) -> None:
        """Withdrawn, it no longer awaits approval."""
        held = await sgb(env, *ORG, "--signing-key", new_key(), "--operator", "ops-1")
        await sgb(env, "key-changes", "withdraw", change_id(held), "--operator", "ops-1")
        listed = await sgb(env, "key-changes", "list")
        assert "no key changes await approval" in listed.output


class TestContactAdd:
    CONTACT = "gp-elm:safeguarding_lead"

    def add(self, key: str, *extra: str) -> list[str]:
        return ["contact", "add", self.CONTACT, "--org", "gp-elm", "--role", "safeguarding_lead",
                "--hpke-public-key", key, *extra, "--operator", "ops-1"]  # fmt: skip

    async def test_a_new_contact_waits_for_a_second_operator(self, env: dict[str, str]) -> None:
        """Held (a new recipient key), then approved by another operator it is on record."""
        await sgb(env, *ORG, "--operator", "ops-1")
        key = crypto.encode_public(X25519PrivateKey.generate().public_key())
        held = await sgb(env, *self.add(key))
        assert held.exit_code == 0, held.output
        shown = await sgb(env, "contact", "alerts", self.CONTACT)
        assert shown.exit_code == 1  # not on record yet
        await sgb(env, "key-changes", "approve", change_id(held), "--operator", "ops-2")
        shown = await sgb(env, "contact", "alerts", self.CONTACT)
        assert shown.exit_code == 0, shown.output

    async def test_alert_channels_are_set_with_a_contact_on_record(
        self, env: dict[str, str]
    ) -> None:
        """The same key again applies at once, with its alert channels."""
        await sgb(env, *ORG, "--operator", "ops-1")
        key = crypto.encode_public(X25519PrivateKey.generate().public_key())
        held = await sgb(env, *self.add(key))
        await sgb(env, "key-changes", "approve", change_id(held), "--operator", "ops-2")
        done = await sgb(env, *self.add(key, "--email", "lead@elm.example", "--mobile",
                                        "07700900123"))  # fmt: skip
        assert done.exit_code == 0, done.output
        assert "alert channels: updated" in done.output
        shown = await sgb(env, "contact", "alerts", self.CONTACT)
        assert "lead@elm.example" in shown.output

    async def test_a_bad_alert_address_names_the_field_not_the_value(
        self, env: dict[str, str]
    ) -> None:
        """Exit 1, nothing held."""
        await sgb(env, *ORG, "--operator", "ops-1")
        key = crypto.encode_public(X25519PrivateKey.generate().public_key())
        done = await sgb(env, *self.add(key, "--email", "not-an-address-XYZ"))
        assert done.exit_code == 1
        assert "emails" in done.output
        assert "not-an-address-XYZ" not in done.output
        assert "no key changes" in (await sgb(env, "key-changes", "list")).output
