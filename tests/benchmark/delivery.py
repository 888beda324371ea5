"""``python -m tests.benchmark delivery``: the delivery worker's cost per notice, alone.

Signed notices are made up front (their sealing is the router's cost, not delivery's) and
handed to the worker's handler in Kafka-sized batches, as the consume loop hands them; the
handler verifies, stores, audits and publishes its audit records to the real Kafka, as in
production. The recipients are in the directory as a partnership's are: each with an alert
channel, one with a webhook and one with a MESH mailbox too, so the queues' inserts are in the
figures. Process CPU and wall time are taken around the handler calls only. The database
server's CPU (PostgreSQL) is not in the CPU figure; the wall figure includes waiting for it.
The statements sent to the database per batch are counted too (BEGIN and COMMIT, which the
driver sends apart, not among them): on loopback each round trip costs the worker CPU in its
send and receive, whatever the statement.
"""

import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

from aiokafka.admin import AIOKafkaAdminClient
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import event, func, select, text
from sqlalchemy.engine import make_url

from broker.adapters import db
from broker.adapters.kafka import MAX_RECORDS, Received
from broker.bootstrap import Runtime, runtime
from broker.config import Settings, TopicSettings
from broker.keys import KeyStore
from consumers.delivery import handle_notices
from producers.envelopes import seal_notice
from schemas.notices import NoticeBody, NoticeHeader, NoticeType, Severity

HOUSEHOLDS = 100  # notices spread over this many households' data keys
PRACTICES = 7  # notices spread over this many GP practices' safeguarding leads


async def measure_delivery(
    notices: int, bootstrap: str, postgres: str | None, batch: int = MAX_RECORDS,
    profile: Path | None = None, split: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """``batch``: records per handler call (the consume loop hands up to ``MAX_RECORDS``; at
    a low rate a batch holds the few records Kafka had). ``profile``: where pyinstrument's
    text report of the handler calls goes. ``split``: a tenth as many notices delivered one
    per batch as well, after the main run on the same database, to tell the cost of a batch
    (its transaction and round trips, whatever its size) from the cost of each notice."""
    with tempfile.TemporaryDirectory(prefix="sgb-delivery-bench-") as folder:
        async with _database(Path(folder), postgres) as url:
            settings = _settings(Path(folder), bootstrap, url)
            async with runtime(settings, configure_logs=False) as rt:
                await _recipients(rt)
                try:
                    with _profiled(profile), _counted(rt) as statements:
                        cpu, wall = await _timed(rt, _batches(rt, notices, batch, 0))
                    ones = max(1, notices // 10) if split else 0
                    single = await _timed(rt, _batches(rt, ones, 1, notices)) if split else None
                    stored = await _stored(rt)
                finally:
                    await _remove_topics(bootstrap, rt)
    report = {"mode": "delivery", "database": "postgresql" if postgres else "sqlite",
              "notices": notices, "batch": batch, "stored": stored,
              "cpu_ms_per_notice": round(cpu * 1000 / notices, 3),
              "wall_ms_per_notice": round(wall * 1000 / notices, 3),
              "statements_per_batch": round(len(statements) / -(-notices // batch), 2)}  # fmt: skip
    if single is not None and batch > 1:
        report |= _split(cpu / notices, single[0] / ones, batch)
    return report


async def _timed(rt: Runtime, batches: list[list[Received]]) -> tuple[float, float]:
    """Process CPU and wall seconds of handling ``batches`` one after the other."""
    cpu, wall = time.process_time(), time.perf_counter()
    for records in batches:
        await handle_notices(records, rt)
    return time.process_time() - cpu, time.perf_counter() - wall


def _split(per_notice_batched: float, per_notice_alone: float, batch: int) -> dict[str, Any]:
    """CPU = batches x per batch + notices x per notice, from the two runs: alone, a notice
    costs both; in batches of ``batch`` it costs a share of one batch and its own."""
    per_batch = (per_notice_alone - per_notice_batched) * batch / (batch - 1)
    own = per_notice_alone - per_batch
    return {"cpu_ms_per_notice_alone": round(per_notice_alone * 1000, 3),
            "cpu_ms_per_batch": round(per_batch * 1000, 3),
            "cpu_ms_per_notice_in_batch": round(own * 1000, 3)}  # fmt: skip


def _settings(folder: Path, bootstrap: str, url: str) -> Settings:
    KeyStore.create(folder / "keys")
    prefix = f"bench-delivery-{uuid.uuid4().hex[:8]}-"
    return Settings(kafka_bootstrap_servers=bootstrap, topic_prefix=prefix,
                    topics=TopicSettings(partitions=1), database_url=url,
                    keys_dir=folder / "keys", log_json=True)  # fmt: skip


@asynccontextmanager
async def _database(folder: Path, postgres: str | None) -> AsyncIterator[str]:
    """A database of the run's own: a SQLite file, or a fresh database on the server."""
    if postgres is None:
        yield f"sqlite+aiosqlite:///{folder / 'broker.db'}"
        return
    name = f"sgb_bench_delivery_{uuid.uuid4().hex[:12]}"
    admin = db.make_engine(postgres).execution_options(isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield make_url(postgres).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        await admin.dispose()


@contextmanager
def _profiled(report: Path | None) -> Iterator[None]:
    if report is None:
        yield
        return
    from pyinstrument import Profiler  # a test dependency, only when asked for

    profiler = Profiler(async_mode="enabled")
    with profiler:
        yield
    report.write_text(profiler.output_text(show_all=False))


@contextmanager
def _counted(rt: Runtime) -> Iterator[list[str]]:
    """The statements the database is sent meanwhile (one entry each)."""
    sent: list[str] = []

    def count(*args: Any) -> None:
        sent.append(args[2])  # the statement's text

    event.listen(rt.engine.sync_engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        event.remove(rt.engine.sync_engine, "before_cursor_execute", count)


def _batches(rt: Runtime, notices: int, size: int, first: int) -> list[list[Received]]:
    records = [Received(rt.topics.notices, 0, offset, "recipient", _notice(rt, offset))
               for offset in range(first, first + notices)]  # fmt: skip
    return [records[i : i + size] for i in range(0, notices, size)]


def _notice(rt: Runtime, n: int) -> bytes:
    now = datetime.now(UTC)
    header = NoticeHeader(
        notice_id=uuid4(), event_id=uuid4(), household=f"household-{n % HOUSEHOLDS}",
        recipient_id=f"gp-{n % PRACTICES}:safeguarding_lead", recipient_org=f"gp-{n % PRACTICES}",
        notice_type=NoticeType.GP_INFORMATION, severity=Severity.LOW, created_at=now,
        deadline=now + timedelta(hours=72), recipient_key_id="k",
        signing_key_id=rt.keys.public.signing_key_id,
    )  # fmt: skip
    body = NoticeBody(summary="s", event_type="ed_attendance", occurred_at=now, source_org="a-1")
    recipient = X25519PrivateKey.generate().public_key()
    return seal_notice(header, body, recipient, rt.keys.signing).model_dump_json().encode()


async def _recipients(rt: Runtime) -> None:
    """The practices the notices go to, and their leads (see the module's docstring)."""
    async with rt.sessions.begin() as session:
        for n in range(PRACTICES):
            org, contact = f"gp-{n}", f"gp-{n}:safeguarding_lead"
            session.add(db.Organisation(id=org, name=f"Practice {n}", kind="gp", area="E1"))
            await session.flush()
            session.add(db.Contact(id=contact, org_id=org, role="safeguarding_lead",
                                   hpke_public_key="k", key_id="k",
                                   webhook_url="https://gp-0.example/n" if n == 0 else None,
                                   mesh_mailbox="GP1OT001" if n == 1 else None))  # fmt: skip
            await session.flush()
            session.add(db.AlertChannel(contact_id=contact, kind="email",
                                        address=f"lead@gp-{n}.example"))  # fmt: skip


async def _stored(rt: Runtime) -> int:
    async with rt.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(db.InboxNotice)) or 0)


async def _remove_topics(bootstrap: str, rt: Runtime) -> None:
    """The run's topics deleted: each holds files open in a long-lived Kafka broker, and runs
    that leave theirs behind pile up towards its open-file limit."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics(list(vars(rt.topics).values()))
    finally:
        await admin.close()
