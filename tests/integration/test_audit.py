"""The audit log on SQLite and on PostgreSQL: appends build a hash chain, any edit,
deletion or reordering of entries breaks it, concurrent writers keep it gap-free, and the
whole system records what it did with ids only."""

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from conftest import Databases
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from support import fetch_sealed, post_signed, wait_for_notices
from typer.testing import CliRunner, Result

from broker.adapters import audit, db
from broker.bootstrap import Runtime
from broker.config import Settings
from broker.demo import family
from broker.entrypoints.cli import app
from broker.keys import audit_key
from schemas.events import ParentMentalHealthCrisis

pytestmark = pytest.mark.integration

Sessions = async_sessionmaker[AsyncSession]
T0 = datetime(2025, 3, 3, 9, 30, tzinfo=UTC)
SCHOOL = "school-oakfield:key_adult"
KEY = bytes(range(32))  # the audit key these tests' entries are made with


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[Sessions]:
    """A fresh database with the broker's schema."""
    engine = db.make_engine(database_url)
    await db.create_schema(engine)
    yield db.sessions(engine, KEY)
    await engine.dispose()


async def append_entries(sessions: Sessions, count: int) -> None:
    """``count`` entries, each in its own transaction, a minute apart."""
    for n in range(count):
        async with sessions.begin() as session:
            await audit.append(session, "notice_produced", "router", f"notice-{n}",
                               {"event_id": f"event-{n}", "severity": "high"},
                               T0 + timedelta(minutes=n))  # fmt: skip


async def verify(sessions: Sessions) -> audit.VerifyResult:
    async with sessions() as session:
        return await audit.verify(session, KEY)


async def execute(sessions: Sessions, sql: str, **params: object) -> None:
    async with sessions.begin() as session:
        await session.execute(text(sql), params)


class TestChain:
    async def test_an_empty_log_verifies(self, sessions: Sessions) -> None:
        """No entries is an intact log of none."""
        assert await verify(sessions) == audit.VerifyResult(ok=True, entries=0)

    async def test_appends_build_a_valid_chain(self, sessions: Sessions) -> None:
        """Entries are numbered from 1, each linked to the hash of the one before."""
        await append_entries(sessions, 5)
        async with sessions() as session:
            rows = (await session.execute(text("SELECT seq, prev_hash, hash FROM audit_log"))).all()
        assert [row.seq for row in rows] == [1, 2, 3, 4, 5]
        assert rows[0].prev_hash == audit.GENESIS
        assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(rows))
        assert await verify(sessions) == audit.VerifyResult(ok=True, entries=5)

    async def test_appends_in_one_transaction_chain_too(self, sessions: Sessions) -> None:
        """Several entries in one transaction each follow the last, unflushed or not."""
        async with sessions.begin() as session:
            for n in range(3):
                await audit.append(session, "notice_delivered", "delivery", f"notice-{n}", {}, T0)
        assert await verify(sessions) == audit.VerifyResult(ok=True, entries=3)

    async def test_a_session_without_the_key_cannot_append(self, database_url: str) -> None:
        """An entry nobody could verify is never written: the append is refused."""
        engine = db.make_engine(database_url)
        async with db.sessions(engine).begin() as session:
            with pytest.raises(audit.AuditKeyMissing):
                await audit.append(session, "notice_read", "someone", "notice-1", {}, T0)
        async with db.sessions(engine, KEY)() as session:
            result = await audit.verify(session, KEY)
        await engine.dispose()
        assert result == audit.VerifyResult(ok=True, entries=0)

    async def test_entries_made_before_the_key_verify_until_a_keyed_one(
        self, sessions: Sessions
    ) -> None:
        """A log begun before the key continues keyed: its unkeyed entries still verify,
        and the first keyed entry pins them."""
        await append_entries(sessions, 4)
        await rehash_unkeyed(sessions, [1, 2])
        result = await verify(sessions)
        assert (result.ok, result.entries, result.keyed_from) == (True, 4, 3)

    async def test_an_unkeyed_entry_after_a_keyed_one_fails(self, sessions: Sessions) -> None:
        """Re-chaining the log without the key from any keyed entry on breaks it there."""
        await append_entries(sessions, 4)
        await rehash_unkeyed(sessions, [3, 4])
        result = await verify(sessions)
        assert (result.ok, result.first_bad_seq) == (False, 3)
        assert result.problem == "its content does not match its hash"


async def rehash_unkeyed(sessions: Sessions, seqs: list[int]) -> None:
    """Recomputes these entries' hashes, and the links to them, as SHA-256 with no key."""
    async with sessions.begin() as session:
        entries = audit.AuditEntry.__table__
        rows = (await session.execute(select(entries).order_by(entries.c.seq))).mappings().all()
        prev = audit.GENESIS
        for row in rows:
            fields = {k: v for k, v in row.items() if k != "hash"} | {"prev_hash": prev}
            plain = row["seq"] in seqs
            digest = audit.entry_hash(None if plain else KEY, **fields)
            await session.execute(update(entries).where(entries.c.seq == row["seq"])
                                  .values(hash=digest, prev_hash=prev))  # fmt: skip
            prev = digest


class TestTampering:
    @pytest.mark.parametrize(
        ("column", "value"),
        [
            ("details", '{"event_id":"event-9","severity":"low"}'),
            ("actor", "someone-else"),
            ("at", datetime(2025, 3, 3, 9, 31, 0, 1, tzinfo=UTC)),
            ("action", "notice_read"),
            ("subject_ref", "notice-9"),
        ],
    )
    async def test_an_edited_entry_fails_at_its_seq(
        self, sessions: Sessions, column: str, value: str | datetime
    ) -> None:
        """Changing any field of an entry breaks its hash."""
        await append_entries(sessions, 4)
        async with sessions.begin() as session:
            entries = audit.AuditEntry.__table__
            await session.execute(update(entries).where(entries.c.seq == 2).values({column: value}))
        result = await verify(sessions)
        assert (result.ok, result.first_bad_seq, result.entries) == (False, 2, 1)
        assert result.problem == "its content does not match its hash"

    async def test_an_entry_rehashed_after_editing_breaks_the_next_link(
        self, sessions: Sessions
    ) -> None:
        """Recomputing the edited entry's own hash, even with the key, does not help: the
        next one points back."""
        await append_entries(sessions, 4)
        await execute(sessions, "UPDATE audit_log SET actor = 'someone-else' WHERE seq = 2")
        async with sessions() as session:
            entries = audit.AuditEntry.__table__
            row = (await session.execute(select(entries).where(entries.c.seq == 2))).one()
        fields = row._asdict()
        del fields["hash"]
        await execute(sessions, "UPDATE audit_log SET hash = :hash WHERE seq = 2",
                      hash=audit.entry_hash(KEY, **fields))  # fmt: skip
        result = await verify(sessions)
        assert (result.ok, result.first_bad_seq) == (False, 3)
        assert result.problem == "it does not follow the entry before it"

    async def test_a_deleted_entry_is_missed(self, sessions: Sessions) -> None:
        """Deleting an entry from the middle leaves a gap in the numbering."""
        await append_entries(sessions, 5)
        await execute(sessions, "DELETE FROM audit_log WHERE seq = 3")
        result = await verify(sessions)
        assert result == audit.VerifyResult(False, 2, 3, "entry 3 is missing")

    async def test_swapped_entries_fail(self, sessions: Sessions) -> None:
        """Two entries exchanging their contents (their numbers kept) break the chain."""
        await append_entries(sessions, 5)
        async with sessions.begin() as session:
            second, fourth = (await session.execute(
                text("SELECT * FROM audit_log WHERE seq IN (2, 4) ORDER BY seq")
            )).mappings().all()  # fmt: skip
            for seq, content in ((2, fourth), (4, second)):
                columns = [c for c in content if c != "seq"]
                sets = ", ".join(f"{c} = :{c}" for c in columns)
                update = f"UPDATE audit_log SET {sets} WHERE seq = :seq"  # noqa: S608
                await session.execute(text(update), {**content, "seq": seq})
        result = await verify(sessions)
        assert (result.ok, result.first_bad_seq) == (False, 2)


class TestConcurrentWriters:
    async def test_concurrent_appends_keep_the_chain_gap_free(self, databases: Databases) -> None:
        """Twenty appends racing through two engines (as two processes would) all land,
        numbered 1 to 20, in a chain that verifies; SQLite's write lock, taken before the
        last entry is read, means none of them even has to retry."""
        url = await databases.new()
        engines = [db.make_engine(url), db.make_engine(url)]
        await db.create_schema(engines[0])
        pools = [db.sessions(engine, KEY) for engine in engines]
        retries = 0

        async def one(n: int) -> None:
            nonlocal retries
            while True:
                try:
                    async with pools[n % 2].begin() as session:
                        await audit.append(session, "event_received", f"org-{n}",
                                           f"event-{n}", {}, datetime.now(UTC))  # fmt: skip
                    return
                except IntegrityError:
                    retries += 1  # another writer took the number: the transaction starts again

        await asyncio.gather(*(one(n) for n in range(20)))
        async with pools[0]() as session:
            result = await audit.verify(session, KEY)
            refs = (await session.scalars(text("SELECT subject_ref FROM audit_log"))).all()
        for engine in engines:
            await engine.dispose()
        assert result == audit.VerifyResult(ok=True, entries=20)
        assert sorted(refs) == sorted(f"event-{n}" for n in range(20))
        assert retries == 0

    async def test_batches_through_two_processes_chain_on_from_the_real_head(
        self, databases: Databases
    ) -> None:
        """Batches of three racing through two engines: each process remembers the head it
        last committed, which the other keeps moving on. Every batch still lands after the
        chain's real last entry: 60 entries, numbered 1 to 60, in a chain that verifies."""
        url = await databases.new()
        engines = [db.make_engine(url), db.make_engine(url)]
        await db.create_schema(engines[0])
        pools = [db.sessions(engine, KEY) for engine in engines]

        async def batch(n: int) -> None:
            entries = [audit.Entry("notice_delivered", "delivery", f"notice-{n}-{i}", {})
                       for i in range(3)]  # fmt: skip
            async with pools[n % 2].begin() as session:
                await audit.append_many(session, entries, datetime.now(UTC))

        for first in range(0, 20, 4):  # four racing at a time
            await asyncio.gather(*(batch(n) for n in range(first, first + 4)))
        async with pools[0]() as session:
            result = await audit.verify(session, KEY)
            refs = (await session.scalars(text("SELECT subject_ref FROM audit_log"))).all()
        for engine in engines:
            await engine.dispose()
        assert result == audit.VerifyResult(ok=True, entries=60)
        assert sorted(refs) == sorted(f"notice-{n}-{i}" for n in range(20) for i in range(3))

    async def test_a_batch_that_holds_the_lock_first_sees_every_entry_before_its_own(
        self, databases: Databases
    ) -> None:
        """As a routing group does: the lock taken, then a read that must see every other
        appender's rows (its receipts), then its batch. Racing through two engines, each
        read sees the chain's last entry, and the batch goes in just after it."""
        url = await databases.new()
        engines = [db.make_engine(url), db.make_engine(url)]
        await db.create_schema(engines[0])
        pools = [db.sessions(engine, KEY) for engine in engines]
        seen_then_first: list[tuple[int, int]] = []

        async def batch(n: int) -> None:
            entries = [audit.Entry("event_received", "router", f"event-{n}-{i}", {})
                       for i in range(3)]  # fmt: skip
            async with pools[n % 2].begin() as session:
                await audit.hold_lock(session)
                last = await session.scalar(text("SELECT coalesce(max(seq), 0) FROM audit_log"))
                await audit.append_many(session, entries, datetime.now(UTC))
                first = await session.scalar(
                    text("SELECT seq FROM audit_log WHERE subject_ref = :ref"),
                    {"ref": f"event-{n}-0"},
                )  # fmt: skip
            seen_then_first.append((last, first))

        for start in range(0, 20, 4):  # four racing at a time
            await asyncio.gather(*(batch(n) for n in range(start, start + 4)))
        async with pools[0]() as session:
            result = await audit.verify(session, KEY)
        for engine in engines:
            await engine.dispose()
        assert result == audit.VerifyResult(ok=True, entries=60)
        assert all(first == last + 1 for last, first in seen_then_first), seen_then_first

    async def test_a_batch_after_the_remembered_head_was_cut_chains_on_from_what_is_left(
        self, sessions: Sessions
    ) -> None:
        """The head this process remembers is no longer the last entry (the log was cut
        after it committed): the next batch is not numbered after the remembered head but
        after the entry really last, as before any head was remembered."""
        entries = [audit.Entry("notice_delivered", "delivery", "notice-1", {})]
        for _ in range(3):
            async with sessions.begin() as session:
                await audit.append_many(session, entries, T0)
        await execute(sessions, "DELETE FROM audit_log WHERE seq = 3")
        async with sessions.begin() as session:
            await audit.append_many(session, entries, T0)
        assert await verify(sessions) == audit.VerifyResult(ok=True, entries=3)


class TestAnchors:
    async def test_a_log_cut_short_of_its_anchor_fails(self, sessions: Sessions) -> None:
        """Entries deleted from the end leave a chain that links up, but ends before the
        head that was anchored."""
        await append_entries(sessions, 5)
        async with sessions() as session:
            anchor = await audit.head(session)
        await execute(sessions, "DELETE FROM audit_log WHERE seq > 3")
        async with sessions() as session:
            result = await audit.verify(session, KEY, anchor)
        assert (result.ok, result.entries, result.first_bad_seq) == (False, 3, 4)
        assert "before entry 5" in (result.problem or "")

    async def test_a_log_that_differs_from_its_anchor_fails(self, sessions: Sessions) -> None:
        """The anchored entry must be the one anchored, hash for hash."""
        await append_entries(sessions, 3)
        async with sessions() as session:
            head = await audit.head(session)
        assert head is not None
        other = audit.Anchor(head.seq, "f" * 64, head.at)
        async with sessions() as session:
            result = await audit.verify(session, KEY, other)
        assert (result.ok, result.first_bad_seq) == (False, 3)

    async def test_a_log_at_or_past_its_anchor_verifies(self, sessions: Sessions) -> None:
        """Entries appended after the anchor was published are fine."""
        await append_entries(sessions, 2)
        async with sessions() as session:
            anchor = await audit.head(session)
        await append_entries(sessions, 2)
        async with sessions() as session:
            result = await audit.verify(session, KEY, anchor)
        assert (result.ok, result.entries, result.anchored) == (True, 4, 2)

    @pytest.mark.parametrize(
        "value",
        [b"{}", b"[1]", b"not json", b'{"action": "notice_produced", "notice_id": "n-1"}'],
    )
    def test_a_record_that_is_no_anchor_is_passed_over(self, value: bytes) -> None:
        """The audit topic's other records are not anchors."""
        assert audit.Anchor.from_json(value, KEY) is None

    def test_an_anchor_reads_back_only_with_the_key(self) -> None:
        """Its tag is keyed: an anchor forged without the key is not one."""
        anchor = audit.Anchor(7, "a" * 64, T0)
        assert audit.Anchor.from_json(anchor.to_json(KEY), KEY) == anchor
        assert audit.Anchor.from_json(anchor.to_json(b"another key"), KEY) is None


class TestAuditVerifyCommand:
    @pytest.fixture
    async def database(self, database_url: str, sessions: Sessions) -> str:
        await append_entries(sessions, 3)
        return database_url

    @staticmethod
    async def audit_verify(database: str) -> Result:
        """``sgb audit-verify`` of the chain alone (tests/security checks it against the
        anchor in Kafka), in a thread: the command runs its own event loop."""
        env = {"SGB_DATABASE_URL": database, "SGB_AUDIT_KEY": KEY.hex()}
        args = ["audit-verify", "--without-anchor"]
        return await asyncio.to_thread(CliRunner().invoke, app, args, env=env)

    async def test_an_intact_log_exits_zero(self, database: str) -> None:
        """It says how many entries it checked."""
        result = await self.audit_verify(database)
        assert (result.exit_code, result.output) == (0, "audit log intact: 3 entries\n")

    async def test_a_tampered_log_exits_one(self, database: str, sessions: Sessions) -> None:
        """It names the first bad entry and what is wrong with it."""
        await execute(sessions, "UPDATE audit_log SET details = '{}' WHERE seq = 2")
        result = await self.audit_verify(database)
        assert result.exit_code == 1
        assert result.output == "audit log broken at entry 2: its content does not match its hash\n"

    async def test_a_database_without_a_log_exits_one(self, databases: Databases) -> None:
        """A dropped (or never created) audit table is not an intact log."""
        result = await self.audit_verify(await databases.new(migrated=False))
        assert result.exit_code == 1
        assert "no audit log" in result.output


class TestThroughTheSystem:
    async def test_an_event_read_and_acknowledged_is_audited_with_ids_only(
        self,
        settings: Settings,
        gateway: httpx.AsyncClient,
        producer_keys: dict[str, Ed25519PrivateKey],
        inbox: httpx.AsyncClient,
        running_broker: Runtime,
    ) -> None:
        """Receipt, production, delivery, reading and acknowledgement are each logged, the
        chain verifies, and no entry holds an NHS number, a name or clinical text."""
        event = ParentMentalHealthCrisis(
            event_type="parent_mental_health_crisis",
            event_id=uuid.uuid4(),
            source_org="mh-demo",
            occurred_at=datetime.now(UTC),
            subject=family.person(family.MOTHER),
            suicidal_ideation=True,
            clinical_summary="Expressed plans to end her life; started on sertraline.",
        )
        posted = await post_signed(gateway, event, producer_keys)
        assert posted.status_code == 202
        [listed] = await wait_for_notices(inbox, SCHOOL, 1)
        notice_id = listed["notice_id"]
        await fetch_sealed(inbox, SCHOOL, notice_id)
        acked = await inbox.post(f"/v1/recipients/{SCHOOL}/notices/{notice_id}/acknowledgement")
        assert acked.status_code == 200

        engine = db.make_engine(settings.database_url)
        async with db.sessions(engine)() as session:
            result = await audit.verify(session, audit_key(settings.keys_dir))
            rows = (await session.execute(text("SELECT * FROM audit_log"))).all()
        await engine.dispose()

        assert result.ok, result
        logged = {(row.action, row.subject_ref) for row in rows}
        assert ("event_received", str(event.event_id)) in logged
        for action in ("notice_produced", "notice_delivered", "notice_read", "notice_acknowledged"):
            assert (action, notice_id) in logged
        assert ("notice_read", SCHOOL, notice_id) in {
            (r.action, r.actor, r.subject_ref) for r in rows
        }
        table = "\n".join(" ".join(str(value) for value in row) for row in rows)
        for personal in (family.MOTHER, family.FATHER, family.CHILD_B, family.TWIN_1,
                         family.TWIN_2, "Jess", "Dan", "Leo", "Mia", "Noah", "Carter",
                         "sertraline", "end her life"):  # fmt: skip
            assert personal not in table
