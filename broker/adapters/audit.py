"""The audit log: a hash chain of everything the broker did with events, notices, the
directory and chronologies, kept in the broker's database.

Entries are numbered 1, 2, 3... with no gaps, and each one's hash covers its own fields and
the hash of the entry before it, so ``verify`` finds an edited, deleted or reordered entry.
(Entries cut from the end leave a shorter chain that still verifies: compare the count with
one recorded elsewhere to catch that.) Entries hold ids, types and reasons only, never
personal data: the log is kept for good, long after the data it refers to is gone.
"""

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Integer, RowMapping, String, Text, event, inspect, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, Session, SessionTransaction, mapped_column

from broker.adapters import db

Action = Literal[
    "event_received",
    "event_rejected",
    "notice_produced",
    "notice_delivered",
    "notice_refused",
    "notice_read",
    "notice_receipt",
    "notice_acknowledged",
    "notice_rejected",
    "notice_escalated",
    "directory_changed",
    "directory_change_refused",
    "chronology_accessed",
    "household_shredded",
    "access_refused",
]
Details = Mapping[str, str | int | bool | None]

GENESIS = "0" * 64  # the prev_hash of entry 1
# Any fixed 64-bit number will do: every appender, in every process, takes the same lock.
ADVISORY_LOCK_KEY = 0x5367_6241_7564_6974  # "SgbAudit"
TAIL = "audit_tail"  # the session's note of the chain's last entry while it holds the lock


class AuditEntry(db.Base):
    __tablename__ = "audit_log"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(db.UtcDateTime)
    action: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(100))
    subject_ref: Mapped[str] = mapped_column(String(200))
    details: Mapped[str] = mapped_column(Text)  # JSON of ids, types and reasons
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


@dataclass(frozen=True)
class VerifyResult:
    """``entries`` counts the entries found intact, up to the first bad one if any."""

    ok: bool
    entries: int
    first_bad_seq: int | None = None
    problem: str | None = None


async def append(
    session: AsyncSession,
    action: Action,
    actor: str,
    subject_ref: str,
    details: Details,
    at: datetime,
) -> None:
    """Adds the next entry in the caller's transaction. Raises IntegrityError if another
    writer took the same number after all; the caller's transaction then retries.

    The first append of a transaction takes the chain's lock and reads its last entry; the
    lock is held to the end of the transaction, so later appends in it chain on from the
    entry before without asking the database again."""
    seq, prev_hash = session.info.get(TAIL) or await _locked_tail(session)
    fields: dict[str, Any] = {
        "seq": seq + 1,
        "at": at.astimezone(UTC),
        "action": action,
        "actor": actor,
        "subject_ref": subject_ref,
        "details": json.dumps(dict(details), sort_keys=True, separators=(",", ":")),
        "prev_hash": prev_hash,
    }
    entry = AuditEntry(**fields, hash=entry_hash(**fields))
    session.add(entry)
    session.info[TAIL] = (entry.seq, entry.hash)


async def _locked_tail(session: AsyncSession) -> tuple[int, str]:
    await _take_append_lock(session)
    last = (
        await session.execute(
            select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
        )
    ).first()
    return (last.seq, last.hash) if last else (0, GENESIS)


@event.listens_for(Session, "after_transaction_end")
def _forget_tail(session: Session, transaction: SessionTransaction) -> None:
    # Once the transaction (or a savepoint inside it) ends, the lock is gone or what was
    # appended may have been rolled back: the next append asks the database again. (A flush
    # runs in a subtransaction of its own, which changes neither.)
    if transaction.parent is None or transaction.nested:
        session.info.pop(TAIL, None)


async def _take_append_lock(session: AsyncSession) -> None:
    """Holds every other appender back until this transaction ends, so that the last entry
    read next is still the last one when the new entry goes in. The transaction's other
    writes go to the database first: one that must wait for another transaction's row (two
    routers racing on one event) waits before taking the lock, never while holding it, or
    the two would wait for each other."""
    await session.flush()
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        lock = text("SELECT pg_advisory_xact_lock(:key)")
        await session.execute(lock, {"key": ADVISORY_LOCK_KEY})
    elif connection.dialect.name == "sqlite":
        # pysqlite begins a transaction only at its first write, and a write takes SQLite's
        # one write lock (waiting out the busy timeout): this one changes nothing but does.
        await session.execute(text("UPDATE audit_log SET seq = seq WHERE 0"))


def entry_hash(
    *,
    seq: int,
    at: datetime,
    action: str,
    actor: str,
    subject_ref: str,
    details: str,
    prev_hash: str,
) -> str:
    # A JSON array puts every field in a fixed place with its text escaped, so two different
    # entries never encode alike.
    fields = [seq, at.astimezone(UTC).isoformat(), action, actor, subject_ref, details, prev_hash]
    canonical = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def verify(session: AsyncSession) -> VerifyResult:
    """Walks the chain from entry 1, recomputing each hash; stops at the first bad entry."""
    expected, prev_hash = 1, GENESIS
    rows = await session.stream(select(AuditEntry.__table__).order_by(AuditEntry.seq))
    async for row in rows.mappings():
        if row["seq"] != expected:
            await rows.close()
            return VerifyResult(False, expected - 1, expected, f"entry {expected} is missing")
        problem = _problem(row, prev_hash)
        if problem:
            await rows.close()
            return VerifyResult(False, expected - 1, expected, problem)
        expected, prev_hash = expected + 1, row["hash"]
    return VerifyResult(True, expected - 1)


def _problem(row: RowMapping, prev_hash: str) -> str | None:
    if row["prev_hash"] != prev_hash:
        return "it does not follow the entry before it"
    fields = {name: value for name, value in row.items() if name != "hash"}
    if row["hash"] != entry_hash(**fields):
        return "its content does not match its hash"
    return None


async def verify_database(url: str) -> VerifyResult:
    """Verifies the audit log of the database at ``url``; a missing log is a broken one."""
    engine = db.make_engine(url)
    try:
        async with engine.connect() as connection:
            exists = await connection.run_sync(
                lambda sync: inspect(sync).has_table(AuditEntry.__tablename__)
            )
        if not exists:
            return VerifyResult(False, 0, 1, "the database holds no audit log")
        async with db.sessions(engine)() as session:
            return await verify(session)
    finally:
        await engine.dispose()
