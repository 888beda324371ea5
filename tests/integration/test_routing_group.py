"""A group of events routed in one transaction: what the group's earlier events recorded
(pattern records, the household's chronology) counts for its later ones before any of it
is written, exactly as when each event has a transaction of its own.

Through the routing service and a real database (SQLite and PostgreSQL)."""

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from structlog.testing import capture_logs
from support import DemoDatabase, demo_database, sealed_delivery

from broker.adapters import audit, db
from broker.adapters.data_keys import FileDataKeys
from broker.adapters.kafka import Received, Topics
from broker.bootstrap import routing_deps
from broker.demo import family
from broker.keys import KeyStore
from broker.ports import Message
from broker.services.routing import Delivery, outbox, record_events, route_event
from broker.services.scenario import CollectingPublisher
from consumers import router
from consumers.router import LateMarks
from schemas.events import Event, EventAdapter
from schemas.notices import NoticeHeader, SealedNotice

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)


def attendance(days_ago: int) -> dict[str, Any]:
    """Child B (aged five) at ED with a minor injury: on its own, nobody is told."""
    at = (NOW - timedelta(days=days_ago)).isoformat()
    return {"event_type": "ed_attendance", "source_org": "acute-demo", "occurred_at": at,
            "arrived_at": at, "subject": {"nhs_number": family.CHILD_B},
            "presenting_category": "injury"}  # fmt: skip


def withdrawal(days_ago: int, service: str) -> dict[str, Any]:
    """The father stops coming: a low concern, the agencies involved and the GPs told."""
    on = NOW - timedelta(days=days_ago)
    return {"event_type": "service_withdrawal", "source_org": "acute-demo",
            "occurred_at": on.isoformat(), "subject": {"nhs_number": family.FATHER},
            "service": service, "reason": "non_engagement",
            "withdrawn_on": on.date().isoformat()}  # fmt: skip


class Group:
    """Routes events in one call of ``record_events`` (one transaction, when it can)."""

    def __init__(self, demo: DemoDatabase, keys: KeyStore, households: Path) -> None:
        self.demo = demo
        self.publisher = CollectingPublisher()
        self.deps = routing_deps(demo.sessions, keys, self.publisher,
                                Topics.with_prefix("t."),
                                data_keys=FileDataKeys(households))  # fmt: skip

    def delivery(self, event: Event, offset: int) -> Delivery:
        return sealed_delivery(self.demo, self.deps.keys.public, event, offset, NOW)

    async def route(self, events: list[Event], *, one_by_one: bool = False) -> None:
        deliveries = [self.delivery(event, i) for i, event in enumerate(events)]
        if one_by_one:
            for delivery in deliveries:
                await record_events([delivery], self.deps)
            return
        with capture_logs() as logs:
            await record_events(deliveries, self.deps)
        # The capture saw the group: each of its events routed, and never one by one (an
        # empty capture would pass the absence alone).
        routed = [entry["event_id"] for entry in logs if entry["event"] == "event_routed"]
        assert routed == [str(event.event_id) for event in events]
        assert "batch_routed_one_by_one" not in {entry["event"] for entry in logs}

    async def rules(self, event: Event) -> set[str]:
        """The rules of the notices recorded for the event."""
        async with self.demo.sessions() as session:
            found = await session.scalars(select(db.NoticeRecord.rule_id).where(
                db.NoticeRecord.event_id == str(event.event_id)))  # fmt: skip
            return set(found)

    async def recorded(self) -> dict[str, Any]:
        """What the routing wrote, without the times its clock gave it."""
        async with self.demo.sessions() as session:
            notices = await session.execute(select(
                db.NoticeRecord.notice_id, db.NoticeRecord.recipient_id, db.NoticeRecord.rule_id,
                db.NoticeRecord.severity, db.NoticeRecord.household))  # fmt: skip
            lines = await session.execute(select(
                db.ChronologyEntry.household_id, db.ChronologyEntry.kind,
                db.ChronologyEntry.event_id, db.ChronologyEntry.notice_id,
                db.ChronologyEntry.rule_id, db.ChronologyEntry.signals,
            ).order_by(db.ChronologyEntry.id))  # fmt: skip
            entries = await session.execute(select(
                audit.AuditEntry.action, audit.AuditEntry.subject_ref, audit.AuditEntry.details,
            ).order_by(audit.AuditEntry.seq))  # fmt: skip
            patterns = await session.execute(
                select(db.PatternRecord.event_id, db.PatternRecord.person_id, db.PatternRecord.kind)
            )
            routed = await session.execute(
                select(db.RoutedEvent.event_id, db.RoutedEvent.notices, db.RoutedEvent.position)
            )
        return {"notices": sorted(map(tuple, notices)), "chronology": list(map(tuple, lines)),
                "audit": list(map(tuple, entries)), "patterns": sorted(map(tuple, patterns)),
                "routed": sorted(map(tuple, routed))}  # fmt: skip


def events(*payloads: dict[str, Any]) -> list[Event]:
    return [EventAdapter.validate_python({"event_id": str(uuid.uuid4()), **p}) for p in payloads]


@pytest.fixture
def keys(tmp_path: Path) -> KeyStore:
    return KeyStore.create(tmp_path / "keys")


@pytest.fixture
async def group(database_url: str, keys: KeyStore, tmp_path: Path) -> Any:
    async with demo_database(database_url, NOW.date()) as demo:
        yield Group(demo, keys, tmp_path / "households")


class TestGroupHistory:
    async def test_a_childs_third_attendance_counts_the_two_before_it(self, group: Group) -> None:
        """Child B attends ED three times in two months, all three routed in one group: the
        third is his third within twelve months (the brief: a child's third attendance
        raises notices), counted from the two before it, which the group has not yet
        written when it decides the third."""
        first, second, third = events(attendance(60), attendance(30), attendance(1))
        await group.route([first, second, third])
        assert await group.rules(first) == set()
        assert await group.rules(second) == set()
        assert any(rule.startswith("ed.frequent_attender") for rule in await group.rules(third))

    async def test_a_third_concern_in_three_months_reaches_the_front_door(
        self, group: Group
    ) -> None:
        """Three low concerns about the father within three months, in one group: the third
        finds the other two in the household's chronology and the front door is told of the
        accumulation (the brief: a third concern within three months)."""
        first, second, third = events(withdrawal(50, "Physiotherapy"),
                                      withdrawal(30, "Physiotherapy follow-up"),
                                      withdrawal(5, "Orthopaedic clinic"))  # fmt: skip
        await group.route([first, second, third])
        assert not any(r.startswith("accumulation") for r in await group.rules(second))
        assert "accumulation.front_door" in await group.rules(third)


class TestSameAsOneByOne:
    async def test_a_group_records_what_one_transaction_per_event_records(
        self, databases: Any, keys: KeyStore, tmp_path: Path
    ) -> None:
        """The same events routed as one group and one event per transaction leave the same
        notices (ids, recipients, rules), chronology, audit entries, pattern records and
        routed-event records: the group changes how they are written, not what."""
        mixed = events(attendance(90), withdrawal(60, "Physiotherapy"), attendance(40),
                       withdrawal(20, "Physiotherapy follow-up"), attendance(2),
                       withdrawal(1, "Orthopaedic clinic"))  # fmt: skip
        recorded = []
        for one_by_one in (False, True):
            async with demo_database(await databases.new(), NOW.date()) as demo:
                routing = Group(demo, keys, tmp_path / f"households-{one_by_one}")
                await routing.route(mixed, one_by_one=one_by_one)
                recorded.append(await routing.recorded())
        grouped, alone = recorded
        assert grouped["notices"]  # the comparison compares something
        assert grouped == alone


class _KafkaDown:
    """A publisher whose every round trip fails, as when Kafka is away."""

    async def publish(self, messages: Sequence[Message]) -> None:
        raise ConnectionError("Kafka is away")


class TestOutboxFromMemory:
    async def test_notices_go_out_as_sealed_and_their_records_keep_no_copy(
        self, group: Group
    ) -> None:
        """The notices published after the commit are those the transaction recorded, and
        they then leave the outbox, their sealed copies with them."""
        [concern] = events(withdrawal(1, "Physiotherapy"))
        notices = await route_event(group.delivery(concern, 0)[0], group.deps)
        sent = [m for m in group.publisher.messages if m.topic == group.deps.topics.notices]
        sealed = [SealedNotice.model_validate_json(m.value) for m in sent]
        headers = [NoticeHeader.model_validate_json(s.header) for s in sealed]
        assert sorted(h.notice_id for h in headers) == sorted(n.notice_id for n in notices)
        async with group.demo.sessions() as session:
            records = (await session.scalars(select(db.NoticeRecord))).all()
            waiting = (await session.scalars(select(db.OutboxNotice))).all()
        assert {r.notice_id for r in records} == {str(n.notice_id) for n in notices}
        assert waiting == []

    async def test_notices_kafka_did_not_take_are_relayed_later(self, group: Group) -> None:
        """Kafka away after the commit: the notices stay in the outbox, unpublished, and the
        relay sends them, sealed as recorded, once Kafka is back."""
        [concern] = events(withdrawal(1, "Physiotherapy"))
        deps = replace(group.deps, publisher=_KafkaDown())
        with pytest.raises(ConnectionError):
            await route_event(group.delivery(concern, 0)[0], deps)
        async with group.demo.sessions() as session:
            kept = {e.notice_id: e.sealed for e in await session.scalars(select(db.OutboxNotice))}
        assert kept
        relayed = await outbox(group.deps).relay(datetime.now(UTC) + timedelta(seconds=10))
        assert relayed == len(kept)
        assert sorted(m.value.decode() for m in group.publisher.messages) == sorted(kept.values())


class TestOutboxTakeOut:
    """A router's notices on Kafka leave the outbox with the next group's transaction, or,
    when no group follows soon, with one of their own (``consumers.router.LateMarks``)."""

    def record(self, group: Group, event: Event, offset: int) -> Received:
        sealed, _, at = group.delivery(event, offset)
        return Received("t.events", 0, offset, None, sealed.model_dump_json().encode(), at)

    async def waiting(self, group: Group) -> set[str]:
        async with group.demo.sessions() as session:
            return set(await session.scalars(select(db.OutboxNotice.notice_id)))

    async def test_the_next_group_takes_them_out_with_its_own_writes(
        self, group: Group, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With no idle take-out due (a minute away), the first group's notices leave with
        the second group's transaction, and the second's when the loop settles."""
        monkeypatch.setattr(router, "IDLE_TAKE_OUT", 60)
        first, second = events(withdrawal(1, "Physiotherapy"), withdrawal(2, "Speech therapy"))
        marks = LateMarks(group.deps)
        await router.handle_events([self.record(group, first, 0)], group.deps, marks)
        first_notices = await self.waiting(group)
        assert first_notices  # published, not yet taken out
        await router.handle_events([self.record(group, second, 1)], group.deps, marks)
        second_notices = await self.waiting(group)
        assert second_notices
        assert not second_notices & first_notices
        await marks.settle()
        assert await self.waiting(group) == set()
        assert self.published(group) == first_notices | second_notices

    async def test_with_no_group_following_they_leave_by_themselves(
        self, group: Group, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(router, "IDLE_TAKE_OUT", 0.2)
        [concern] = events(withdrawal(1, "Physiotherapy"))
        marks = LateMarks(group.deps)
        await router.handle_events([self.record(group, concern, 0)], group.deps, marks)
        assert await self.waiting(group)
        await asyncio.sleep(1)
        assert await self.waiting(group) == set()
        assert self.published(group)

    def published(self, group: Group) -> set[str]:
        sealed = [SealedNotice.model_validate_json(m.value) for m in group.publisher.messages
                  if m.topic == group.deps.topics.notices]  # fmt: skip
        return {str(NoticeHeader.model_validate_json(s.header).notice_id) for s in sealed}

    async def test_without_a_router_loop_they_are_out_when_the_batch_returns(
        self, group: Group
    ) -> None:
        [concern] = events(withdrawal(1, "Physiotherapy"))
        await router.handle_events([self.record(group, concern, 0)], group.deps)
        assert await self.waiting(group) == set()
        assert await group.rules(concern)
