"""Canary: personal data never reaches Kafka, the database or the logs in plaintext.

Every personal field of every event carries a unique marker. The events travel through the
gateway, the real Kafka broker, the router and the delivery worker into the inboxes; then the
Kafka log segment files on disk, the database (SQLite's files, PostgreSQL's tables) and every
captured log line are searched for each marker. Not one may be found.
"""

import asyncio
import contextlib
import random
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from integration.test_router import until_routed
from sqlalchemy import func, inspect, select, text
from support import post_signed

from broker.adapters import db
from broker.bootstrap import Runtime
from broker.demo import family
from broker.services.routing import utc_now
from consumers.follow_up_timer import tick
from schemas.nhs import check_digit

pytestmark = pytest.mark.e2e


def fresh_nhs_number() -> str:
    """A valid NHS number nobody in the directory has: itself a marker."""
    while True:
        first_nine = f"{random.randrange(400_000_000, 700_000_000)}"
        digit = check_digit(first_nine)
        if digit is not None:
            return f"{first_nine}{digit}"


class Markers:
    def __init__(self) -> None:
        self.issued: list[str] = []

    def __call__(self) -> str:
        marker = f"CANARY{uuid.uuid4().hex[:16].upper()}"
        self.issued.append(marker)
        return marker

    def person(self, nhs_number: str | None = None) -> dict[str, Any]:
        return {"nhs_number": nhs_number, "local_id": self(), "given_name": self(),
                "family_name": self()}  # fmt: skip

    def professional(self) -> dict[str, str]:
        return {"name": self(), "role": self(), "org_id": "hv-demo", "phone": self(),
                "email": f"{self()}@example.org"}  # fmt: skip


def envelope(event_type: str, source: str, **fields: Any) -> dict[str, Any]:
    return {"event_type": event_type, "event_id": str(uuid.uuid4()), "source_org": source,
            "occurred_at": (utc_now() - timedelta(hours=1)).isoformat(), **fields}  # fmt: skip


def events(mark: Markers, stranger: str) -> list[dict[str, Any]]:
    today = date.today().isoformat()
    # A year on, whenever the canary runs: a review date passed would be reminded of at once.
    review_by = (date.today() + timedelta(days=365)).isoformat()
    now = utc_now().isoformat()
    return [
        envelope("parent_mental_health_crisis", "mh-demo", subject=mark.person(family.MOTHER),
                 suicidal_ideation=True, children_present=[mark.person(family.TWIN_1)],
                 clinical_summary=mark()),
        envelope("service_withdrawal", "mh-demo", subject=mark.person(family.MOTHER),
                 service=mark(), reason="stepped_down", withdrawn_on=today,
                 step_down={"from_level": "child_in_need", "to_level": "early_help",
                            "lead_professional": mark.professional(),
                            "action_owners": [mark.professional()],
                            "if_concerns_return": mark(), "review_by": review_by}),
        envelope("family_moving_area", "la-front-door",
                 members=[mark.person(family.MOTHER), mark.person(family.CHILD_B)],
                 from_authority=family.AREA, moved_on=today,
                 plans=[{"kind": "child_in_need", "child": mark.person(family.CHILD_B),
                         "started_on": "2025-01-01"}]),
        envelope("ed_attendance", "acute-demo", subject=mark.person(family.TWIN_2),
                 arrived_at=now, presenting_category="injury", accompanied_by=mark(),
                 clinical_summary=mark()),
        envelope("appointment_outcome", "acute-demo", subject=mark.person(family.CHILD_B),
                 service=mark(), booked_for=now, outcome="was_not_brought"),
        envelope("ed_attendance", "acute-demo", subject=mark.person(stranger),
                 arrived_at=now, presenting_category="other", clinical_summary=mark()),
    ]  # fmt: skip


async def reject_and_escalate(inbox: httpx.AsyncClient, rt: Runtime, reason: str) -> None:
    """A rejection whose reason is a marker, then every deadline missed: the reason and the
    escalated bodies must stay sealed too."""
    school = "school-oakfield:key_adult"
    [first, *_] = (await inbox.get(f"/v1/recipients/{school}/notices")).json()
    rejected = await inbox.post(f"/v1/recipients/{school}/notices/{first['notice_id']}/receipts",
                                json={"receipt": "rejected", "reason": reason})  # fmt: skip
    assert rejected.status_code == 200, rejected.text
    assert await tick(rt, utc_now() + timedelta(days=30))  # escalations were sealed and sent
    async with asyncio.timeout(90):
        while True:
            async with rt.sessions() as session:
                decided = await session.scalar(select(func.count(db.NoticeRecord.notice_id)))
                stored = await session.scalar(select(func.count(db.InboxNotice.notice_id)))
            if decided == stored:
                return
            await asyncio.sleep(0.3)


# Kafka's offset and time indexes hold no record content, and each is preallocated (10 MiB per
# partition): read them all, over a whole test session's topics, and the memory runs out.
INDEXES = frozenset({".index", ".timeindex"})


def files_under(*roots: Path) -> list[Path]:
    return [p for root in roots if root.exists() for p in root.rglob("*") if p.is_file()]


def contents(files: list[Path]) -> dict[str, bytes]:
    """Each file's bytes by its full path (every partition's first segment has the same
    name). A file gone since it was listed is skipped: Kafka removes deleted topics'
    directories in the background, and other tests delete theirs."""
    found = {}
    for path in files:
        with contextlib.suppress(FileNotFoundError):
            found[str(path)] = path.read_bytes()
    return found


async def database_content(url: str, rt: Runtime) -> dict[str, bytes]:
    """What the database holds: SQLite's files byte for byte (free pages, journal and all);
    on PostgreSQL, whose files belong to the server, every row of every table as text."""
    if url.startswith("sqlite"):
        database = Path(url.removeprefix("sqlite+aiosqlite:///"))
        files = files_under(database.parent)
        assert database in files
        return contents(files)
    async with rt.engine.connect() as connection:
        tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        return {
            f"table {table}": "\n".join(
                " ".join(map(str, row))
                for row in await connection.execute(text(f'SELECT * FROM "{table}"'))  # noqa: S608
            ).encode()
            for table in tables
        }


class TestCanary:
    async def test_canary_markers_never_appear_in_kafka_database_or_logs(
        self,
        gateway: httpx.AsyncClient,
        inbox: httpx.AsyncClient,
        running_broker: Runtime,
        producer_keys: dict[str, Ed25519PrivateKey],
        kafka_data_dirs: list[Path],
        settings: Any,
        capfd: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """Markers in every personal field of every event type: none on disk or in logs."""
        mark, stranger = Markers(), fresh_nhs_number()
        sent = events(mark, stranger)
        for event in sent:
            answer = await post_signed(gateway, event, producer_keys)
            assert answer.status_code == 202, answer.text
        await until_routed(running_broker, len(sent), timeout=90)
        await reject_and_escalate(inbox, running_broker, mark())

        if not kafka_data_dirs:
            pytest.skip("the Kafka broker's disk is not reachable (an external broker)")
        kafka = contents([f for f in files_under(*kafka_data_dirs) if f.suffix not in INDEXES])
        assert any(name.endswith(".log") for name in kafka)  # Kafka segments were read
        stored = {**kafka, **await database_content(settings.database_url, running_broker)}
        # The search reads real content: the directory's own (non-event) records are there.
        assert any(b"Carter" in content for content in stored.values())
        logs = capfd.readouterr()
        text = logs.out + logs.err + "\n".join(r.getMessage() for r in caplog.records)
        assert "event_routed" in text or caplog.records  # logs were captured at all
        for marker in [*mark.issued, stranger]:
            found = [name for name, content in stored.items() if marker.encode() in content]
            assert found == [], f"a marker is stored in {found}"
            assert marker not in text, "a marker is in the logs"
