"""Fault injection across the border (issue 16, item 7): the peer broker is down for a while
and comes back.

Two complete brokers side by side, the federation harness's (``tests.federation``): A in
Newport, B in Bristol, each the other's peer, and a dozen families both know. A's front door
publishes each family's move to Bristol, one after another; part-way through, B's gateway
stops (its port refuses connections, as a stopped container's would) while A goes on routing
moves to B's area, then B's gateway comes back. B's front door acknowledges each transfer
notice as it arrives, and each acknowledgement travels back to A as a receipt.

Counted straight from each broker's tables, never through the services under test: every move
made one transfer at A; every transfer was kept and applied once at B (idempotency key: the
transfer id) and reached B's front door once; every receipt was sent by B once and recorded at
A once. Kafka is the session's (it is not broken here); each broker has a database of its own.
"""

import asyncio
import contextlib
import json
import os
import random
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.adapters import db
from broker.adapters.audit import AuditEntry
from broker.config import WebhookSettings
from schemas.events import FamilyMovingArea
from schemas.notices import NoticeType
from tests.federation.conftest import Federation, FederationDatabases, started_federation
from tests.federation.harness import Broker
from tests.federation.partnerships import ENGLAND, WALES, Partnership
from tests.federation.peering import peer_id, register_peers

from .counting import Counts
from .population import NhsNumbers

pytestmark = pytest.mark.faults

MOVES = 12
EVERY_S = 0.5  # between two moves
DOWN_AFTER = 3  # moves published before B's gateway stops
DOWN_S = 15.0
SETTLE_TIMEOUT_S = 180.0
# Retries come quickly and outlast the outage many times over (an outage longer than the
# retries is dead-lettered by design, for replay); receipts back off the same way.
QUICK_RETRIES = WebhookSettings(timeout_seconds=5, max_attempts=60, backoff_base_seconds=0.5,
                                backoff_cap_seconds=2, breaker_cool_down_seconds=3,
                                poll_seconds=0.2)  # fmt: skip
Sessions = async_sessionmaker[AsyncSession]
Report = Callable[[str], None]


@dataclass(frozen=True)
class Moving:
    """One of the families that move: a parent and a child at school, known at A in Newport
    and registered at B with the school and GP they join in Bristol."""

    index: int
    parent: str  # NHS numbers
    child: str

    def people(self, today: date) -> list[dict[str, str]]:
        ages = (("parent", self.parent, 31), ("child", self.child, 8))
        return [{"id": f"p-{role}-{self.index}", "nhs_number": nhs, "given_name": role.title(),
                 "family_name": f"Mover{self.index}",
                 "date_of_birth": (today - timedelta(days=365 * years + 40)).isoformat()}
                for role, nhs, years in ages]  # fmt: skip

    def directory(self, partnership: Partnership, today: date) -> dict[str, Any]:
        """The family as ``partnership``'s administrator loads it."""
        people = self.people(today)
        gp, school = partnership.org("gp_practice"), partnership.org("school")
        return {
            "people": people,
            "households": [{"id": f"h-mover-{self.index}-{partnership.name}",
                            "area": partnership.area, "members": [
                {"person_id": people[0]["id"], "role": "parent_or_carer"},
                {"person_id": people[1]["id"], "role": "child"}]}],
            "registrations": [{"person_id": p["id"], "kind": "gp", "org_id": gp} for p in people]
            + [{"person_id": people[1]["id"], "kind": "school", "org_id": school}],
        }  # fmt: skip

    def move(self) -> FamilyMovingArea:
        """A's front door reports the family moving from Newport to Bristol today."""
        return FamilyMovingArea.model_validate({
            "event_type": "family_moving_area", "event_id": str(uuid.uuid4()),
            "source_org": WALES.front_door, "occurred_at": datetime.now(UTC).isoformat(),
            "members": [{"nhs_number": self.parent}, {"nhs_number": self.child}],
            "from_authority": WALES.area, "to_authority": ENGLAND.area,
            "moved_on": datetime.now(UTC).date().isoformat(),
            "previous_school": WALES.org("school"), "new_school": ENGLAND.org("school"),
            "new_gp": ENGLAND.org("gp_practice"),
        })  # fmt: skip


def families(count: int) -> list[Moving]:
    """Distinct families: each moves once (a family moved again and again would, rightly,
    make pattern referrals at A as well, which are no part of this fault)."""
    numbers = NhsNumbers(random.Random(16))
    return [Moving(i, numbers.next(), numbers.next()) for i in range(count)]


MOVING = families(MOVES)


async def known_on_both_sides(pair: Federation, moving: list[Moving]) -> None:
    today = datetime.now(UTC).date()
    for broker in (pair.a, pair.b):
        for family in moving:
            spec = family.directory(broker.partnership, today)
            answer = await broker.admin.post("/v1/admin/import", json=spec)
            assert answer.status_code == 200, answer.text


@pytest.fixture
async def pair(
    kafka_bootstrap: str, sqlite_template: Path, tmp_path: Path
) -> AsyncIterator[Federation]:
    """A and B peered, the moving families known at both, pushes and receipts retried
    quickly."""
    databases = FederationDatabases(sqlite_template, tmp_path)
    urls = (await databases.new(), await databases.new())
    async with started_federation(kafka_bootstrap, urls, tmp_path, QUICK_RETRIES) as federation:
        await register_peers(federation)
        await known_on_both_sides(federation, MOVING)
        yield federation


def duty_manager(broker: Broker) -> str:
    return f"{broker.partnership.front_door}:duty_manager"


async def acknowledging(b: Broker, done: set[str]) -> None:
    """B's front door acknowledges each transfer notice once, as it arrives, until cancelled."""
    while True:
        for item in await b.notices(duty_manager(b)):
            header = item["header"]
            if header["notice_type"] == NoticeType.TRANSFER.value and item["notice_id"] not in done:
                await b.acknowledge(duty_manager(b), item["notice_id"])
                done.add(item["notice_id"])
        await asyncio.sleep(0.3)


async def publish_moves(a: Broker, b: Broker, report: Report) -> list[str]:
    """The moves, one every ``EVERY_S``; B's gateway down from the ``DOWN_AFTER``-th for
    ``DOWN_S`` seconds (the rest of the moves go out meanwhile)."""
    published: list[str] = []
    back_at = 0.0
    for i, family in enumerate(MOVING):
        if i == DOWN_AFTER:
            await b.gateway_server.stop()
            back_at = time.monotonic() + DOWN_S
            report(f"peer down: B's gateway stopped after {i} moves")
        event = family.move()
        await a.publish(event)
        published.append(str(event.event_id))
        await asyncio.sleep(EVERY_S)
    await asyncio.sleep(max(0.0, back_at - time.monotonic()))
    await b.gateway_server.start()
    return published


async def column_counts(sessions: Sessions, query: object) -> Counter[str]:
    async with sessions() as session:
        rows = (await session.execute(query)).all()  # type: ignore[call-overload]
    return Counter({str(key): int(n) for key, n in rows})


async def audited(sessions: Sessions, action: str) -> Counter[str]:
    return await column_counts(sessions, select(AuditEntry.subject_ref, func.count())
                               .where(AuditEntry.action == action)
                               .group_by(AuditEntry.subject_ref))  # fmt: skip


async def transfers_made(pair: Federation, moves: list[str]) -> dict[str, str]:
    """Transfer id -> move id: A's notices about the moves to B (a peer broker at A)."""
    query = select(db.NoticeRecord.notice_id, db.NoticeRecord.event_id).where(
        db.NoticeRecord.recipient_org == peer_id(pair.b), db.NoticeRecord.event_id.in_(moves)
    )
    async with pair.a.runtime.sessions() as session:
        return {str(t): str(m) for t, m in (await session.execute(query)).all()}


async def at_bs_front_door(b: Broker) -> Counter[str]:
    """B's front door's transfer notices, by the transfer they carry (their event id)."""
    query = select(db.InboxNotice.header).where(db.InboxNotice.recipient_id == duty_manager(b))
    async with b.runtime.sessions() as session:
        headers = [json.loads(h) for h in (await session.scalars(query)).all()]
    return Counter(h["event_id"] for h in headers
                   if h["notice_type"] == NoticeType.TRANSFER.value)  # fmt: skip


async def tally(pair: Federation, moves: list[str]) -> dict[str, Counts]:
    """Each channel's counts: what was expected against what each broker's tables hold."""
    a, b = pair.a, pair.b
    made = await transfers_made(pair, moves)
    once = Counter(made.keys())  # every transfer, once
    kept = select(db.PeerTransfer.transfer_id, func.count()).group_by(db.PeerTransfer.transfer_id)
    return {
        "transfers made at A": Counts.of(Counter(moves), Counter(made.values())),
        "kept at B": Counts.of(once, await column_counts(b.runtime.sessions, kept)),
        "applied at B": Counts.of(once, await audited(b.runtime.sessions,
                                                      "peer_transfer_applied")),
        "at B's front door": Counts.of(once, await at_bs_front_door(b)),
        "receipts sent by B": Counts.of(once, await audited(b.runtime.sessions,
                                                            "peer_receipt_sent")),
        "receipts recorded at A": Counts.of(once, await audited(a.runtime.sessions,
                                                                "notice_acknowledged")),
    }  # fmt: skip


async def still_going(pair: Federation) -> int:
    """Pushes at A and receipts at B neither done nor given up on."""
    async with pair.a.runtime.sessions() as session:
        pushing = await session.scalar(select(func.count()).select_from(db.WebhookDelivery)
                                       .where(db.WebhookDelivery.state == "pending"))  # fmt: skip
    r = db.PeerReceipt
    async with pair.b.runtime.sessions() as session:
        owed = await session.scalar(select(func.count()).select_from(r)
                                    .where(r.sent_at.is_(None), r.dead_at.is_(None)))  # fmt: skip
    return (pushing or 0) + (owed or 0)


async def settled(pair: Federation, moves: list[str]) -> tuple[dict[str, Counts], bool]:
    """Waits until nothing is missing and nothing is still going (or the generous timeout
    passed: then whatever never arrived is counted lost), then counts."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while time.monotonic() < deadline:
        counts = await tally(pair, moves)
        if all(c.lost == 0 for c in counts.values()) and not await still_going(pair):
            await asyncio.sleep(3)  # three timer rounds: a second application would show
            return await tally(pair, moves), True
        await asyncio.sleep(1)
    return await tally(pair, moves), False


async def push_attempts(a: Broker) -> int:
    """Every attempt A made to push a transfer (more than one each: the fault bit)."""
    async with a.runtime.sessions() as session:
        total = await session.scalar(select(func.sum(db.WebhookDelivery.attempts)))
    return int(total or 0)


def line(counts: dict[str, Counts], attempts: int, done: bool, seconds: float) -> str:
    parts = [f"{name} expected={c.expected} delivered={c.delivered} duplicates={c.duplicates} "
             f"lost={c.lost} unexpected={c.unexpected}" for name, c in counts.items()]  # fmt: skip
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"peer broker down {DOWN_S:.0f} s and back: moves={MOVES} | " + " | ".join(parts)
            + f" | transfer push attempts={attempts} "
            f"{'settled' if done else 'NOT SETTLED'} in {seconds:.0f}s (load {load})")  # fmt: skip


class TestPeerDownForAWhile:
    async def test_every_transfer_is_applied_once_and_every_receipt_returns_once(
        self, pair: Federation, report: Report
    ) -> None:
        """B's gateway refuses connections for 15 s while A routes moves to Bristol, then is
        back: each move's transfer is kept, applied and told to B's front door once, and
        each acknowledgement there is sent back and recorded at A once."""
        started = time.monotonic()
        acknowledged: set[str] = set()
        acknowledger = asyncio.create_task(acknowledging(pair.b, acknowledged))
        try:
            moves = await publish_moves(pair.a, pair.b, report)
            counts, done = await settled(pair, moves)
        finally:
            acknowledger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await acknowledger
        result = line(counts, await push_attempts(pair.a), done, time.monotonic() - started)
        report(result)
        assert done, result
        assert all(c.exact for c in counts.values()), result
