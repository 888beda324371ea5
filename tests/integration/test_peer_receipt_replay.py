"""``sgb dead-letters receipts`` and ``replay-receipts`` on a SQLite database (issue 16): a
receipt a peer refused for good is listed with the peer's answer, and replayed, it is owed
again from a first attempt, audited as the operator's; one still owed or sent is untouched."""

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from broker.adapters import db
from broker.adapters.audit import AuditEntry
from broker.entrypoints.cli import app
from broker.keys import KeyStore, audit_key

pytestmark = pytest.mark.integration

PEER = "peer-north"
DEAD_SINCE = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@pytest.fixture
async def env(tmp_path: Path) -> dict[str, str]:
    """A broker's database with a peer, one receipt it refused (404) and one it took."""
    KeyStore.create(tmp_path / "keys")
    url = f"sqlite+aiosqlite:///{tmp_path / 'broker.db'}"
    engine = db.make_engine(url)
    await db.create_schema(engine)
    async with db.sessions(engine, audit_key(tmp_path / "keys")).begin() as session:
        session.add(db.Organisation(id=PEER, name="North", kind="peer_broker", area="E08000001"))
        await session.flush()
        for transfer_id, dead in (("t-dead", True), ("t-sent", False)):
            session.add(db.PeerReceipt(
                transfer_id=transfer_id, receipt="acknowledged", peer_org=PEER,
                recipient_id="demo:duty_manager", queued_at=DEAD_SINCE - timedelta(hours=1),
                attempts=1, next_attempt_at=DEAD_SINCE, last_status=404 if dead else 200,
                dead_at=DEAD_SINCE if dead else None, sent_at=None if dead else DEAD_SINCE,
            ))  # fmt: skip
    await engine.dispose()
    return {"SGB_DATABASE_URL": url, "SGB_KEYS_DIR": str(tmp_path / "keys")}


async def sgb(env: dict[str, str], *args: str) -> Result:
    return await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)


async def receipts(env: dict[str, str]) -> dict[str, tuple[bool, int, bool]]:
    """Transfer id: (dead, attempts, sent)."""
    engine = db.make_engine(env["SGB_DATABASE_URL"])
    async with db.sessions(engine)() as session:
        rows = (await session.scalars(select(db.PeerReceipt))).all()
        audited = (await session.scalars(select(AuditEntry).where(
            AuditEntry.action == "peer_receipt_requeued"))).all()  # fmt: skip
    await engine.dispose()
    env["audited"] = ",".join(f"{a.actor}:{a.subject_ref}" for a in audited)
    return {r.transfer_id: (r.dead_at is not None, r.attempts, r.sent_at is not None)
            for r in rows}  # fmt: skip


class TestDeadReceipts:
    async def test_the_refused_receipt_is_listed_with_the_peers_answer(
        self, env: dict[str, str]
    ) -> None:
        """Only the dead one: its transfer, receipt, peer and the status the peer answered."""
        listed = await sgb(env, "dead-letters", "receipts")
        assert listed.exit_code == 0, listed.output
        assert "1 dead-lettered peer receipts" in listed.output
        assert all(text in listed.output for text in ("t-dead", PEER, "404"))
        assert "t-sent" not in listed.output

    async def test_replayed_it_is_owed_again_from_a_first_attempt_and_audited(
        self, env: dict[str, str]
    ) -> None:
        """The delivery worker sends it at its next pass; the sent one is untouched; the
        audit log names the operator; a second replay finds nothing."""
        done = await sgb(env, "dead-letters", "replay-receipts", "--all", "--operator", "ops-1")
        assert done.exit_code == 0, done.output
        assert done.output.splitlines()[-1] == "t-dead acknowledged: requeued"  # after the log
        assert await receipts(env) == {"t-dead": (False, 0, False), "t-sent": (False, 1, True)}
        assert env["audited"] == "ops-1:t-dead"
        again = await sgb(env, "dead-letters", "replay-receipts", "t-dead", "--operator", "ops-1")
        assert again.output.splitlines()[-1] == "no dead receipts to replay"

    async def test_a_replay_names_a_transfer_or_all(self, env: dict[str, str]) -> None:
        """Neither (or both) is a usage error, and nothing changes."""
        refused = await sgb(env, "dead-letters", "replay-receipts", "--operator", "ops-1")
        assert refused.exit_code == 2
        assert (await receipts(env))["t-dead"] == (True, 1, False)
