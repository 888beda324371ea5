"""Counting what the broker delivered, straight from its tables and from Kafka itself.

The inbox rows are keyed like the expectation (event, recipient, rule, and the key of the
notice followed), the ``notice_delivered`` audit rows are counted per notice id, and the
consumer groups' lag is read from Kafka: nothing here goes through the services under test.
"""

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from broker.adapters import db
from broker.adapters.audit import AuditEntry

from .population import NoticeKey


@dataclass
class Observation:
    """What the system's outputs hold: inbox rows by notice key, delivery audit rows."""

    inbox: Counter[NoticeKey] = field(default_factory=Counter)
    recipients: dict[str, str] = field(default_factory=dict)  # notice id -> recipient id
    stored_twice: int = 0  # notice ids with more than one notice_delivered audit row


async def observe(engine: AsyncEngine) -> Observation:
    async with engine.connect() as conn:
        # The rule from the broker's own record of each notice: no header names it.
        rows = (await conn.execute(
            select(db.InboxNotice.notice_id, db.InboxNotice.header, db.NoticeRecord.rule_id)
            .outerjoin(db.NoticeRecord, db.NoticeRecord.notice_id == db.InboxNotice.notice_id)
        )).all()  # fmt: skip
        audited = (
            await conn.execute(
                select(AuditEntry.subject_ref, func.count())
                .where(AuditEntry.action == "notice_delivered")
                .group_by(AuditEntry.subject_ref)
            )
        ).all()
    headers = {notice_id: json.loads(header) for notice_id, header, _ in rows}
    rules = {notice_id: rule or "no record" for notice_id, _, rule in rows}
    keys: dict[str, NoticeKey] = {}

    def key_of(notice_id: str) -> NoticeKey:
        if notice_id not in keys:
            h = headers[notice_id]
            follows = h.get("follows")
            before = key_of(follows) if follows in headers else None
            if follows and before is None:
                before = ("not in any inbox", follows, "", None)
            keys[notice_id] = (h["event_id"], h["recipient_id"], rules[notice_id], before)
        return keys[notice_id]

    return Observation(
        inbox=Counter(key_of(notice_id) for notice_id in headers),
        recipients={notice_id: h["recipient_id"] for notice_id, h in headers.items()},
        stored_twice=sum(count - 1 for _, count in audited if count > 1),
    )


@dataclass(frozen=True)
class Counts:
    """One channel's verdict: what was expected against what arrived, by key."""

    expected: int
    delivered: int
    duplicates: int
    lost: int
    unexpected: int

    @classmethod
    def of(cls, expected: Counter[Any], seen: Counter[Any], extra_duplicates: int = 0) -> "Counts":
        return cls(
            expected=sum(expected.values()),
            delivered=sum(min(seen[k], n) for k, n in expected.items()),
            duplicates=sum(max(0, seen[k] - n) for k, n in expected.items()) + extra_duplicates,
            lost=sum(max(0, n - seen[k]) for k, n in expected.items()),
            unexpected=sum(n for k, n in seen.items() if k not in expected),
        )

    @property
    def exact(self) -> bool:
        return self.lost == self.duplicates == self.unexpected == 0


@dataclass(frozen=True)
class Tally:
    """The verdict on one fault: for notices, escalations and webhooks (when any), what was
    expected against what arrived; and what the harness saw happen on the way."""

    fault: str
    events: int
    counts: dict[str, Counts]
    publish_retries: int
    crashes: dict[str, list[int]]
    signs: Counter[str]
    settled: bool
    seconds: float

    @property
    def clean(self) -> bool:
        return self.settled and all(c.exact for c in self.counts.values())

    def line(self) -> str:
        parts = [
            f"{name} expected={c.expected} delivered={c.delivered} duplicates={c.duplicates} "
            f"lost={c.lost} unexpected={c.unexpected}"
            for name, c in self.counts.items()
        ]
        crashes = ",".join(f"{name}:{codes}" for name, codes in self.crashes.items()) or "none"
        signs = " ".join(f"{name}={n}" for name, n in sorted(self.signs.items())) or "none"
        return (
            f"{self.fault}: events={self.events} | " + " | ".join(parts) + " | "
            f"publish retries={self.publish_retries} crash-restarts={crashes} "
            f"{'settled' if self.settled else 'NOT SETTLED'} in {self.seconds:.0f}s | "
            f"logged: {signs}"
        )


class Lag:
    """Records the consumer groups have not yet committed past, from Kafka itself."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap

    async def of(self, groups: dict[str, str]) -> int:
        """Total lag of each group (name -> topic); raises while Kafka cannot answer."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=5000)
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, request_timeout_ms=5000)
        await admin.start()
        try:
            await consumer.start()
            total = 0
            for group, topic in groups.items():
                described = await admin.describe_topics([topic])
                partitions = [
                    TopicPartition(topic, p["partition"])
                    for t in described
                    for p in t.get("partitions", ())
                ]
                if not partitions:  # no metadata yet is not the same as nothing left to do
                    raise RuntimeError(f"no partitions known for {topic} yet")
                ends: dict[Any, int] = await consumer.end_offsets(partitions)
                committed = await admin.list_consumer_group_offsets(group)
                for tp, end in ends.items():
                    done = committed.get(tp)
                    total += end - (done.offset if done is not None and done.offset >= 0 else 0)
            return total
        finally:
            await consumer.stop()
            await admin.close()
