"""Attacks on the audit log and on the directory's keys (issue 12, items 10 and 13).

10: whoever can write the database edits the audit log and re-chains it, or cuts entries
    from its end; ``sgb audit-verify`` finds both (the chain is keyed with a key kept out of
    the database, and its head is anchored in the audit topic).
13: an administrator replaces an organisation's key alone; the change waits for a second
    administrator, is recorded under each administrator's own id, and the organisation can
    see it before it takes effect. A change left pending lapses, its requester may withdraw
    it, and an operator's CSV import cannot replace a key without an administrator.
"""

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from support import as_org, audited_sessions
from typer.testing import CliRunner, Result

from broker.adapters import audit, db
from broker.adapters.audit_anchors import ANCHOR_KEY, newest_anchor
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.bootstrap import Runtime
from broker.config import Settings
from broker.entrypoints.admin_api import create_admin_api
from broker.entrypoints.cli import app
from broker.entrypoints.inbox_api import create_inbox_api
from broker.keys import audit_key
from broker.ports import Message
from broker.services.directory_admin import load_directory
from producers import crypto
from schemas.directory import DirectorySpec, OrganisationSpec, SigningKeySpec

pytestmark = pytest.mark.integration

Sessions = async_sessionmaker[AsyncSession]
Row = Mapping[str, Any]


@pytest.fixture
async def sessions(settings: Settings) -> AsyncIterator[Sessions]:
    """The attacker's own connection to the database: no audit key."""
    engine = db.make_engine(settings.database_url)
    yield db.sessions(engine)
    await engine.dispose()


async def entries(sessions: Sessions) -> list[Row]:
    async with sessions() as session:
        table = audit.AuditEntry.__table__
        return list((await session.execute(select(table).order_by(table.c.seq))).mappings())


async def replace_log(sessions: Sessions, rows: list[Row]) -> None:
    table = audit.AuditEntry.__table__
    async with sessions.begin() as session:
        await session.execute(delete(table))
        if rows:
            await session.execute(insert(table), [dict(row) for row in rows])


def rechained_without_the_key(rows: list[Row], edited_seq: int, actor: str) -> list[Row]:
    """What a database operator can do: edit an entry, then recompute every hash from it on
    with SHA-256, as the chain was made before it was keyed."""
    out, prev = [], rows[edited_seq - 2]["hash"]
    for row in rows[edited_seq - 1 :]:
        fields = dict(row) | {"prev_hash": prev}
        fields |= {"actor": actor} if row["seq"] == edited_seq else {}
        del fields["hash"]
        at = fields["at"].astimezone(UTC).isoformat()
        canonical = [fields["seq"], at, fields["action"], fields["actor"],
                     fields["subject_ref"], fields["details"], fields["prev_hash"]]  # fmt: skip
        text = json.dumps(canonical, ensure_ascii=False, separators=(",", ":"))
        prev = hashlib.sha256(text.encode()).hexdigest()
        out.append(fields | {"hash": prev})
    return rows[: edited_seq - 1] + out


async def audit_verify(settings: Settings) -> Result:
    """``sgb audit-verify`` as an operator runs it, in a thread (it runs its own loop)."""
    env = {"SGB_DATABASE_URL": settings.database_url, "SGB_KEYS_DIR": str(settings.keys_dir),
           "SGB_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
           "SGB_TOPIC_PREFIX": settings.topic_prefix}  # fmt: skip
    return await asyncio.to_thread(CliRunner().invoke, app, ["audit-verify"], env=env)


async def anchored_head(rt: Runtime, sessions: Sessions) -> audit.Anchor:
    """Waits for the router to anchor the log's current head in the audit topic."""
    key = audit_key(rt.settings.keys_dir)
    async with asyncio.timeout(60):
        while True:
            last = (await entries(sessions))[-1]
            anchor = await newest_anchor(rt.settings.kafka_bootstrap_servers, rt.topics.audit, key)
            if anchor is not None and anchor.seq == last["seq"]:
                return anchor
            await asyncio.sleep(0.5)


class TestAuditLogTampering:
    async def test_10_audit_log_rewritten_or_cut_short_is_detected(
        self, settings: Settings, running_broker: Runtime, sessions: Sessions
    ) -> None:
        """Attack: with write access to the database (not to the broker's keys folder), (a)
        change who did something and re-chain the log with SHA-256, as anyone could before
        it was keyed; (b) delete the newest entries, after writing a forged, earlier head to
        the audit topic. ``sgb audit-verify`` exits 1 naming the first bad entry each time,
        and passes on the log as it was before and after."""
        anchor = await anchored_head(running_broker, sessions)
        genuine = await entries(sessions)
        assert len(genuine) >= 3, "the directory's load is audited entry by entry"
        intact = await audit_verify(settings)
        assert intact.exit_code == 0, intact.output
        assert f"up to the anchored entry {anchor.seq}" in intact.output

        await replace_log(sessions, rechained_without_the_key(genuine, 2, "someone-else"))
        rewritten = await audit_verify(settings)
        assert rewritten.exit_code == 1
        assert rewritten.output == (
            "audit log broken at entry 2: its content does not match its hash\n"
        )

        forged = {"action": "audit_anchor", "seq": 1, "hash": genuine[0]["hash"],
                  "at": genuine[0]["at"].isoformat(), "tag": "0" * 64}  # fmt: skip
        await running_broker.publisher.publish(
            [Message(running_broker.topics.audit, ANCHOR_KEY, json.dumps(forged).encode())]
        )
        await replace_log(sessions, genuine[:1])
        cut = await audit_verify(settings)
        assert cut.exit_code == 1
        assert cut.output.startswith(
            f"audit log broken at entry 2: the log ends at entry 1, before entry {anchor.seq} "
            "published as its head"
        )

        await replace_log(sessions, genuine)
        restored = await audit_verify(settings)
        assert restored.exit_code == 0, restored.output


ROGUE, APPROVER = "admin-north", "admin-south"  # the partnership's two administrators
ADMIN_KEYS = {ROGUE: Ed25519PrivateKey.generate(), APPROVER: Ed25519PrivateKey.generate()}
SCHOOL, SCHOOL_CONTACT = "school-oakfield", "school-oakfield:key_adult"


async def add_administrators(settings: Settings) -> None:
    """Two administrator organisations, installed as the partnership installs them."""
    spec = DirectorySpec(organisations=tuple(
        OrganisationSpec(id=org, name="Partnership admin", kind="front_door", area="E09000099",
                         signing_keys=(SigningKeySpec(public_key=crypto.encode_public(
                             key.public_key())),))
        for org, key in ADMIN_KEYS.items()
    ))  # fmt: skip
    async with audited_sessions(settings) as sessions, sessions.begin() as session:
        await load_directory(SqlUnitOfWork.joined(session), spec, actor="install")


async def audit_rows(sessions: Sessions, action: str) -> list[Row]:
    return [row for row in await entries(sessions) if row["action"] == action]


async def school_key(sessions: Sessions) -> str:
    async with sessions() as session:
        contact = await session.get(db.Contact, SCHOOL_CONTACT)
        assert contact is not None
        return contact.hpke_public_key


class TestKeyChangesByOneAdministrator:
    async def test_13_one_administrator_cannot_replace_an_organisations_key_alone(
        self,
        settings: Settings,
        directory: None,
        sessions: Sessions,
        producer_keys: dict[str, Ed25519PrivateKey],
    ) -> None:
        """Attack: one administrator replaces a school's recipient key with their own, then
        approves the change themselves. The change is held (202) and the self-approval is
        a 403; both are audited under that administrator's id (not "admin-api"); the
        school's key is unchanged and the school sees the pending change with its own token
        (another organisation cannot). Only another administrator's approval applies it,
        recorded under both ids."""
        await add_administrators(settings)
        config = settings.model_copy(update={"administrators": list(ADMIN_KEYS)})
        genuine = await school_key(sessions)
        planted = crypto.encode_public(X25519PrivateKey.generate().public_key())
        body = {"id": SCHOOL_CONTACT, "org_id": SCHOOL, "role": "key_adult",
                "hpke_public_key": planted}  # fmt: skip
        admin_app, inbox_app = create_admin_api(config), create_inbox_api(config)
        async with (
            admin_app.router.lifespan_context(admin_app),
            inbox_app.router.lifespan_context(inbox_app),
            as_org(admin_app, ROGUE, ADMIN_KEYS[ROGUE]) as rogue,
            as_org(admin_app, APPROVER, ADMIN_KEYS[APPROVER]) as approver,
            as_org(inbox_app, SCHOOL, producer_keys[SCHOOL]) as school,
            as_org(inbox_app, "gp-riverside", producer_keys["gp-riverside"]) as other,
        ):
            held = await rogue.put(f"/v1/admin/contacts/{SCHOOL_CONTACT}", json=body)
            assert held.status_code == 202
            change_id = held.json()["change_id"]
            assert held.json() == {"id": SCHOOL_CONTACT, "action": "pending",
                                   "change_id": change_id}  # fmt: skip
            own = await rogue.post(f"/v1/admin/key-changes/{change_id}/approval")
            assert own.status_code == 403
            assert await school_key(sessions) == genuine

            [requested] = await audit_rows(sessions, "key_change_requested")
            assert requested["actor"] == f"admin:{ROGUE}"  # typed actors (issue 18)
            assert requested["subject_ref"] == f"organisation:{SCHOOL}"
            [refused] = await audit_rows(sessions, "access_refused")
            assert (refused["actor"], refused["subject_ref"]) == (
                f"admin:{ROGUE}",
                f"key_change:{change_id}",
            )
            assert json.loads(refused["details"])["reason"] == "own_key_change"

            seen = await school.get(f"/v1/organisations/{SCHOOL}/key-changes")
            assert seen.status_code == 200
            [notice] = seen.json()
            assert (notice["change_id"], notice["requested_by"], notice["approved_at"]) == (
                change_id, f"admin:{ROGUE}", None)  # fmt: skip
            assert planted not in seen.text
            snooped = await other.get(f"/v1/organisations/{SCHOOL}/key-changes")
            assert snooped.status_code == 403

            approved = await approver.post(f"/v1/admin/key-changes/{change_id}/approval")
            assert approved.json() == {"id": SCHOOL_CONTACT, "action": "updated"}
            assert await school_key(sessions) == planted
            [done] = await audit_rows(sessions, "key_change_approved")
            assert done["actor"] == f"admin:{APPROVER}"
            assert json.loads(done["details"])["requested_by"] == f"admin:{ROGUE}"
            log = (await approver.get("/v1/admin/changes", params={"limit": 1})).json()
            assert (log[0]["actor"], log[0]["entity_id"]) == (APPROVER, SCHOOL_CONTACT)


async def backdate(sessions: Sessions, change_id: str, hours: float) -> None:
    """Time passing, for a change asked for ``hours`` ago."""
    async with sessions.begin() as session:
        change = await session.get(db.PendingKeyChange, change_id)
        assert change is not None
        change.requested_at -= timedelta(hours=hours)


def contact_body(key: str) -> dict[str, str]:
    return {"id": SCHOOL_CONTACT, "org_id": SCHOOL, "role": "key_adult", "hpke_public_key": key}


class TestKeyChangesLapse:
    async def test_13_a_pending_key_change_expires_and_can_be_withdrawn(
        self,
        settings: Settings,
        directory: None,
        sessions: Sessions,
        producer_keys: dict[str, Ed25519PrivateKey],
    ) -> None:
        """Attack: a key change left pending is approved long after anyone remembers it, or
        after its requester has thought better of it; or another administrator withdraws a
        colleague's change. Only its requester may withdraw it (another: 403, audited); a
        withdrawn change, or one older than the expiry (72 hours), cannot be approved (409,
        each refusal audited under the approver), is no longer listed as pending, and the
        school's key is unchanged; the school sees its change withdrawn."""
        await add_administrators(settings)
        config = settings.model_copy(update={"administrators": list(ADMIN_KEYS)})
        genuine = await school_key(sessions)
        planted = crypto.encode_public(X25519PrivateKey.generate().public_key())
        admin_app, inbox_app = create_admin_api(config), create_inbox_api(config)
        async with (
            admin_app.router.lifespan_context(admin_app),
            inbox_app.router.lifespan_context(inbox_app),
            as_org(admin_app, ROGUE, ADMIN_KEYS[ROGUE]) as rogue,
            as_org(admin_app, APPROVER, ADMIN_KEYS[APPROVER]) as approver,
            as_org(inbox_app, SCHOOL, producer_keys[SCHOOL]) as school,
        ):
            path = f"/v1/admin/contacts/{SCHOOL_CONTACT}"
            withdrawn = (await rogue.put(path, json=contact_body(planted))).json()["change_id"]
            assert (await approver.delete(f"/v1/admin/key-changes/{withdrawn}")).status_code == 403
            gone = await rogue.delete(f"/v1/admin/key-changes/{withdrawn}")
            assert gone.json() == {"id": withdrawn, "action": "deleted"}
            late = await approver.post(f"/v1/admin/key-changes/{withdrawn}/approval")
            assert late.status_code == 409

            expired = (await rogue.put(path, json=contact_body(planted))).json()["change_id"]
            await backdate(sessions, expired, hours=72.5)
            stale = await approver.post(f"/v1/admin/key-changes/{expired}/approval")
            assert stale.status_code == 409
            assert (await approver.get("/v1/admin/key-changes")).json() == []
            assert await school_key(sessions) == genuine
            seen = (await school.get(f"/v1/organisations/{SCHOOL}/key-changes")).json()
            assert {(c["change_id"], c["withdrawn_by"]) for c in seen} == {
                (withdrawn, f"admin:{ROGUE}"), (expired, None)}  # fmt: skip
            assert all(c["approved_at"] is None for c in seen)

        [withdrawal] = await audit_rows(sessions, "key_change_withdrawn")
        assert (withdrawal["actor"], withdrawal["subject_ref"]) == (
            f"admin:{ROGUE}",
            f"organisation:{SCHOOL}",
        )
        assert json.loads(withdrawal["details"])["change_id"] == withdrawn
        [refused] = await audit_rows(sessions, "access_refused")
        assert (refused["actor"], json.loads(refused["details"])) == (
            f"admin:{APPROVER}", {"status": 403, "reason": "not_own_key_change"})  # fmt: skip
        lapsed = [(r["actor"], r["subject_ref"], json.loads(r["details"]))
                  for r in await audit_rows(sessions, "key_change_refused")]  # fmt: skip
        assert lapsed == [
            (
                f"admin:{APPROVER}",
                f"key_change:{withdrawn}",
                {"status": 409, "reason": "withdrawn"},
            ),
            (f"admin:{APPROVER}", f"key_change:{expired}", {"status": 409, "reason": "expired"}),
        ]
        assert await audit_rows(sessions, "key_change_approved") == []


async def directory_import(settings: Settings, folder: Path, *options: str) -> Result:
    """``sgb directory-import`` as an operator runs it, in a thread (it runs its own loop)."""
    env = {"SGB_DATABASE_URL": settings.database_url, "SGB_KEYS_DIR": str(settings.keys_dir)}
    command = ["directory-import", str(folder), *options]
    return await asyncio.to_thread(CliRunner().invoke, app, command, env=env)


class TestDirectoryImportKeys:
    async def test_13_directory_import_cannot_replace_a_key_without_approval(
        self, settings: Settings, directory: None, sessions: Sessions, tmp_path: Path
    ) -> None:
        """Attack: an operator with the database credentials, but no administrator's token,
        replaces a school's recipient key (and adds a second reader to it) with ``sgb
        directory-import``, which applied CSV rows as they came. Those rows are held as
        pending key changes proposed by the operator named (audited as such), the school's
        keys are unchanged and nobody new reads its notices until an administrator
        approves; a new organisation's first key is set at once. A change so held is
        approved by an administrator in the usual way."""
        await add_administrators(settings)
        genuine = await school_key(sessions)
        planted = crypto.encode_public(X25519PrivateKey.generate().public_key())
        newcomer = crypto.encode_public(X25519PrivateKey.generate().public_key())
        folder = tmp_path / "csv"
        folder.mkdir()
        (folder / "organisations.csv").write_text(
            "id,name,kind,area\nschool-new,New School,school,E06000001\n"
        )
        (folder / "contacts.csv").write_text(
            "id,org_id,role,hpke_public_key\n"
            f"{SCHOOL_CONTACT},{SCHOOL},key_adult,{planted}\n"
            f"{SCHOOL}:lead,{SCHOOL},safeguarding_lead,{planted}\n"
            f"school-new:key_adult,school-new,key_adult,{newcomer}\n"
        )
        ran = await directory_import(settings, folder, "--operator", "ops-alice")
        assert ran.exit_code == 0, ran.output
        assert "key_changes: 2 pending" in ran.output
        assert await school_key(sessions) == genuine
        async with sessions() as session:
            assert await session.get(db.Contact, f"{SCHOOL}:lead") is None
            added = await session.get(db.Contact, "school-new:key_adult")
            held = (await session.scalars(select(db.PendingKeyChange))).all()
        assert added is not None
        assert added.hpke_public_key == newcomer
        assert sorted((c.entity_id, c.requested_by) for c in held) == [
            (SCHOOL_CONTACT, "operator:ops-alice"),
            (f"{SCHOOL}:lead", "operator:ops-alice")]  # fmt: skip
        requested = await audit_rows(sessions, "key_change_requested")
        assert {(r["actor"], r["subject_ref"]) for r in requested} == {
            ("operator:ops-alice", f"organisation:{SCHOOL}")}  # fmt: skip
        assert planted not in ran.output

        config = settings.model_copy(update={"administrators": list(ADMIN_KEYS)})
        admin_app = create_admin_api(config)
        async with (
            admin_app.router.lifespan_context(admin_app),
            as_org(admin_app, APPROVER, ADMIN_KEYS[APPROVER]) as approver,
        ):
            change = next(c.id for c in held if c.entity_id == SCHOOL_CONTACT)
            approved = await approver.post(f"/v1/admin/key-changes/{change}/approval")
            assert approved.json() == {"id": SCHOOL_CONTACT, "action": "updated"}
        assert await school_key(sessions) == planted
