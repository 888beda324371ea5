"""The audit log: a keyed hash chain of everything the broker did with events, notices, the
directory and chronologies, kept in the broker's database.

Entries are numbered 1, 2, 3... with no gaps, and each one's hash is an HMAC-SHA256, under the
audit key (``keys.audit_key``: in the broker's keys folder, never in the database), of its own
fields and the hash of the entry before it. ``verify`` finds an edited, deleted or reordered
entry, and whoever can write the database but lacks the key cannot re-chain what they changed.
Entries cut from the end leave a shorter chain that still links up: the router therefore
publishes the chain's head (its number and hash, tagged with the same key) to the audit topic
every few seconds (``Anchor``, ``adapters/audit_anchors.py``), and ``verify`` given the newest
anchor finds a log that ends before it, or differs from it.

Logs begun before the key: their entries (plain SHA-256, the same fields) still verify as
long as no keyed entry has come before them; the chain continues keyed from the first entry
appended after the upgrade, whose HMAC covers the hash of the last unkeyed one, so the older
entries are pinned as well. An unkeyed entry after a keyed one is a broken chain.

Entries hold ids, types and reasons only, never personal data: the log is kept for good, long
after the data it refers to is gone.
"""

import hashlib
import hmac
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, Integer, RowMapping, String, Text, event, inspect, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, Session, SessionTransaction, mapped_column

from broker.adapters import bulk, db
from broker.errors import KeyFileError
from broker.ports import AuditAction, AuditDetails, AuditRecord

Action = AuditAction
Details = AuditDetails
Entry = AuditRecord  # one entry to append, as ``append`` takes its fields

GENESIS = "0" * 64  # the prev_hash of entry 1
# Any fixed 64-bit number will do: every appender, in every process, takes the same lock.
ADVISORY_LOCK_KEY = 0x5367_6241_7564_6974  # "SgbAudit"
TAIL = "audit_tail"  # the session's note of the chain's last entry while it holds the lock
LOCKED = "audit_locked"  # the session holds the chain's lock (its tail perhaps not read)
KEPT = "audit_kept"  # where the session's appends go instead, while kept (``kept_in``)

# The chain's last entry as this process last committed it, by database: a batch that finds
# it still the last (checked in its insert, never trusted) skips reading the tail.
_HEADS: "WeakKeyDictionary[Engine, tuple[int, str]]" = WeakKeyDictionary()


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
    keyed_from: int | None = field(default=None, compare=False)  # the first keyed entry
    anchored: int | None = field(default=None, compare=False)  # the anchor's entry, if any


@dataclass(frozen=True)
class Anchor:
    """The chain's head as the router published it outside the database."""

    seq: int
    hash: str
    at: datetime

    def tag(self, key: bytes) -> str:
        # Its own purpose prefix: an anchor's tag can never pass for an entry's hash.
        fields = ["audit-anchor", self.seq, self.hash, self.at.astimezone(UTC).isoformat()]
        return _mac(key, fields)

    def to_json(self, key: bytes) -> bytes:
        record = {"action": "audit_anchor", "seq": self.seq, "hash": self.hash,
                  "at": self.at.astimezone(UTC).isoformat(), "tag": self.tag(key)}  # fmt: skip
        return json.dumps(record, sort_keys=True).encode()

    @classmethod
    def from_json(cls, value: bytes, key: bytes) -> "Anchor | None":
        """The anchor in ``value``, or None for any other record or a tag that fails."""
        try:
            record = json.loads(value)
            anchor = cls(int(record["seq"]), str(record["hash"]),
                         datetime.fromisoformat(record["at"]))  # fmt: skip
            genuine = hmac.compare_digest(str(record["tag"]), anchor.tag(key))
        except (ValueError, TypeError, KeyError):
            return None
        return anchor if record.get("action") == "audit_anchor" and genuine else None


class AuditKeyMissing(KeyFileError):
    """A session made without the audit key (``db.sessions(engine, audit_key)``) tried to
    append: an entry nobody could verify is never written."""


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
    if not (key := _key_unless_kept(session, [(at, Entry(action, actor, subject_ref, details))])):
        return
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
    entry = AuditEntry(**fields, hash=entry_hash(key, **fields))
    session.add(entry)
    session.info[TAIL] = (entry.seq, entry.hash)


async def append_many(session: AsyncSession, entries: Sequence[Entry], at: datetime) -> None:
    """Appends ``entries`` in order, as ``append`` would one by one, in one statement: a
    batch takes the chain's lock once, and late, so that it holds it only to its commit."""
    await append_timed(session, [(at, entry) for entry in entries])


async def append_timed(session: AsyncSession, timed: Sequence[tuple[datetime, Entry]]) -> None:
    """As ``append_many``, each entry with a time of its own (a routing group's, made at
    their moments and appended at its end): still one statement."""
    if not timed or not (key := _key_unless_kept(session, timed)):
        return
    if TAIL not in session.info and (head := await _remembered_head(session)):
        rows = _chained(key, timed, head)
        if (actual := await _insert_after(session, head, rows)) is None:
            session.info[TAIL] = (rows[-1]["seq"], rows[-1]["hash"])
            return
        session.info[TAIL] = actual  # another appender moved the head: chain on from it
    tail = session.info.get(TAIL) or await _locked_tail(session)
    rows = _chained(key, timed, tail)
    await bulk.insert_all(session, AuditEntry, rows)
    session.info[TAIL] = (rows[-1]["seq"], rows[-1]["hash"])


def _key_unless_kept(
    session: AsyncSession, timed: Sequence[tuple[datetime, Entry]]
) -> bytes | None:
    """The session's audit key, for entries to be written now; or, while the session keeps
    its entries (``kept_in``), None, the entries kept."""
    key: bytes | None = session.info.get(db.AUDIT_KEY)
    if not key:
        raise AuditKeyMissing("no audit key in this session: db.sessions(engine, audit_key)")
    if (kept := session.info.get(KEPT)) is not None:
        kept += timed
        return None
    return key


@contextmanager
def kept_in(session: AsyncSession, entries: list[tuple[datetime, Entry]]) -> Iterator[None]:
    """While open, the session's appends go to ``entries`` (with their times, in order) and
    nothing is written: the caller appends them later in the transaction, taking the chain's
    lock then. (A routing group keeps a move's or a proposal's entries with its own, so that
    it does not hold the lock, and every other appender back, while it decides the rest.)"""
    session.info[KEPT] = entries
    try:
        yield
    finally:
        del session.info[KEPT]


def _chained(
    key: bytes, timed: Sequence[tuple[datetime, Entry]], tail: tuple[int, str]
) -> list[dict[str, Any]]:
    """The rows of the entries, chained on from ``tail`` (its number and hash)."""
    (seq, prev_hash), rows = tail, list[dict[str, Any]]()
    for at, entry in timed:
        seq += 1
        fields: dict[str, Any] = {
            "seq": seq, "at": at.astimezone(UTC), "action": entry.action, "actor": entry.actor,
            "subject_ref": entry.subject_ref, "prev_hash": prev_hash,
            "details": json.dumps(dict(entry.details), sort_keys=True, separators=(",", ":")),
        }  # fmt: skip
        prev_hash = entry_hash(key, **fields)
        rows.append(fields | {"hash": prev_hash})
    return rows


async def _remembered_head(session: AsyncSession) -> tuple[int, str] | None:
    """On PostgreSQL, with the head this process last committed: the lock taken, and that
    head (to be checked by the insert). Otherwise None: the tail is read as it always was
    (SQLite's reads are in-process, and it has no INSERT inside a WITH)."""
    engine = session.sync_session.get_bind().engine
    head = _HEADS.get(engine)
    if head is None or engine.dialect.name != "postgresql":
        return None
    await _lock(session)
    return head


# All the rows, only if the chain's last entry is still ``head`` (read after the lock was
# taken, by this statement's own snapshot); answers the last entry either way. One round trip
# where reading the tail and inserting took two.
_INSERT_AFTER = text("""
WITH head AS (SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1),
added AS (
    INSERT INTO audit_log (seq, at, action, actor, subject_ref, details, prev_hash, hash)
    SELECT * FROM unnest(CAST(:seq AS INTEGER[]), CAST(:at AS TIMESTAMPTZ[]),
        CAST(:action AS TEXT[]), CAST(:actor AS TEXT[]), CAST(:subject_ref AS TEXT[]),
        CAST(:details AS TEXT[]), CAST(:prev_hash AS TEXT[]), CAST(:hash AS TEXT[]))
    WHERE EXISTS (SELECT 1 FROM head WHERE seq = :head_seq AND hash = :head_hash)
    RETURNING 1
)
SELECT (SELECT count(*) FROM added) AS added, head.seq, head.hash
FROM (SELECT 1) AS one LEFT JOIN head ON true
""")
_COLUMNS = ("seq", "at", "action", "actor", "subject_ref", "details", "prev_hash", "hash")


async def _insert_after(
    session: AsyncSession, head: tuple[int, str], rows: Sequence[dict[str, Any]]
) -> tuple[int, str] | None:
    """Inserts ``rows`` if the chain still ends at ``head``: None when they went in, else
    the chain's actual last entry (nothing inserted)."""
    params: dict[str, Any] = {name: [row[name] for row in rows] for name in _COLUMNS}
    result = (await session.execute(
        _INSERT_AFTER, params | {"head_seq": head[0], "head_hash": head[1]})).one()  # fmt: skip
    if result.added:
        return None
    return (result.seq, result.hash) if result.seq is not None else (0, GENESIS)


async def hold_lock(session: AsyncSession) -> None:
    """Takes the chain's lock now (as the first append would), for a check that must see
    every other appender's entries before this transaction appends its own. Where the chain's
    head is remembered, its tail is not read: a batch's insert checks it (``append_timed``)."""
    if TAIL in session.info:
        return
    if await _remembered_head(session) is None:
        session.info[TAIL] = await _locked_tail(session)


async def _locked_tail(session: AsyncSession) -> tuple[int, str]:
    await _lock(session)
    last = (
        await session.execute(
            select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
        )
    ).first()
    return (last.seq, last.hash) if last else (0, GENESIS)


@event.listens_for(Session, "after_commit")
def _remember_head(session: Session) -> None:
    # Committed under the lock: the chain ended here a moment ago, and likely still does.
    if (tail := session.info.get(TAIL)) is not None:
        _HEADS[session.get_bind().engine] = tail


@event.listens_for(Session, "after_transaction_end")
def _forget_tail(session: Session, transaction: SessionTransaction) -> None:
    # Once the transaction (or a savepoint inside it) ends, the lock is gone or what was
    # appended may have been rolled back: the next append asks the database again. (A flush
    # runs in a subtransaction of its own, which changes neither.)
    if transaction.parent is None or transaction.nested:
        session.info.pop(TAIL, None)
        session.info.pop(LOCKED, None)


async def _lock(session: AsyncSession) -> None:
    """The chain's lock, taken once in a transaction."""
    if not session.info.get(LOCKED):
        await _take_append_lock(session)
        session.info[LOCKED] = True


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
    key: bytes | None,
    *,
    seq: int,
    at: datetime,
    action: str,
    actor: str,
    subject_ref: str,
    details: str,
    prev_hash: str,
) -> str:
    """The entry's HMAC under ``key``; with no key, the plain SHA-256 of entries made before
    the log was keyed."""
    # A JSON array puts every field in a fixed place with its text escaped, so two different
    # entries never encode alike.
    fields = [seq, at.astimezone(UTC).isoformat(), action, actor, subject_ref, details, prev_hash]
    if key is None:
        return hashlib.sha256(_canonical(fields)).hexdigest()
    return _mac(key, fields)


def _canonical(fields: list[Any]) -> bytes:
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()


def _mac(key: bytes, fields: list[Any]) -> str:
    return hmac.new(key, _canonical(fields), hashlib.sha256).hexdigest()


async def head(session: AsyncSession) -> Anchor | None:
    """The chain's last entry as an anchor to publish; None while the log is empty."""
    last = (
        await session.execute(
            select(AuditEntry.seq, AuditEntry.hash, AuditEntry.at)
            .order_by(AuditEntry.seq.desc())
            .limit(1)
        )
    ).first()
    return Anchor(last.seq, last.hash, last.at) if last else None


async def verify(session: AsyncSession, key: bytes, anchor: Anchor | None = None) -> VerifyResult:
    """Walks the chain from entry 1, recomputing each hash; stops at the first bad entry.
    With ``anchor`` (the newest published head), a log that ends before it or differs from
    it is broken too: entries were cut from its end, or the log was rewritten."""
    walk = _Walk(key, anchor)
    rows = await session.stream(select(AuditEntry.__table__).order_by(AuditEntry.seq))
    async for row in rows.mappings():
        if broken := walk.step(row):
            await rows.close()
            return broken
    return walk.end()


@dataclass
class _Walk:
    key: bytes
    anchor: Anchor | None
    count: int = 0
    prev_hash: str = GENESIS
    keyed_from: int | None = None

    def step(self, row: RowMapping) -> VerifyResult | None:
        expected = self.count + 1
        problem = f"entry {expected} is missing" if row["seq"] != expected else self._problem(row)
        anchor = self.anchor
        if problem is None and anchor and row["seq"] == anchor.seq and row["hash"] != anchor.hash:
            problem = "it differs from the head published in the audit topic"
        if problem:
            return self._broken(expected, problem)
        self.count, self.prev_hash = expected, row["hash"]
        return None

    def end(self) -> VerifyResult:
        if self.anchor and self.anchor.seq > self.count:
            problem = (f"the log ends at entry {self.count}, before entry {self.anchor.seq} "
                       f"published as its head at {self.anchor.at.isoformat()}: entries were "
                       "cut from its end")  # fmt: skip
            return self._broken(self.count + 1, problem)
        anchored = self.anchor.seq if self.anchor else None
        return VerifyResult(True, self.count, keyed_from=self.keyed_from, anchored=anchored)

    def _broken(self, seq: int, problem: str) -> VerifyResult:
        return VerifyResult(False, self.count, seq, problem, keyed_from=self.keyed_from)

    def _problem(self, row: RowMapping) -> str | None:
        if row["prev_hash"] != self.prev_hash:
            return "it does not follow the entry before it"
        fields = {name: value for name, value in row.items() if name != "hash"}
        if hmac.compare_digest(row["hash"], entry_hash(self.key, **fields)):
            self.keyed_from = self.keyed_from or row["seq"]
            return None
        if self.keyed_from is None and row["hash"] == entry_hash(None, **fields):
            return None  # made before the log was keyed, and pinned by the first keyed entry
        return "its content does not match its hash"


async def verify_database(url: str, key: bytes, anchor: Anchor | None = None) -> VerifyResult:
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
            return await verify(session, key, anchor)
    finally:
        await engine.dispose()


def record_of(row: AuditEntry) -> AuditRecord:
    """An entry as it was appended (the chain's fields left out)."""
    return AuditRecord(row.action, row.actor, row.subject_ref, json.loads(row.details))  # type: ignore[arg-type]
