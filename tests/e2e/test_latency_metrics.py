"""Latency histograms and the notice gauges move as an event travels through the real
gateway, Kafka, router and delivery worker: read from /metrics on a real ops app of the same
process."""

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from prometheus_client.parser import text_string_to_metric_families
from support import post_signed, suicidal_crisis, wait_for_notices

from broker.adapters.kafka import ConsumerHealth
from broker.adapters.notice_gauges import refresh_notice_gauges
from broker.bootstrap import Runtime
from broker.entrypoints import ops
from producers.kafka import ACCEPTED_AT, accepted_at
from schemas.events import ParentMentalHealthCrisis

pytestmark = pytest.mark.e2e

SCHOOL = "school-oakfield:key_adult"
HISTOGRAMS = {
    ("sgb_routing_seconds_count", ()),
    ("sgb_delivery_seconds_count", (("channel", "inbox"),)),
    ("sgb_notice_to_inbox_seconds_count", ()),
    ("sgb_event_to_inbox_seconds_count", ()),
}


Sample = tuple[str, tuple[tuple[str, str], ...]]


async def _counts(rt: Runtime) -> dict[Sample, float]:
    app = ops.consumer_ops_app(rt, ConsumerHealth())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ops") as client:
        text = (await client.get("/metrics")).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family_ in text_string_to_metric_families(text)
        for s in family_.samples
    }


async def headers_on(rt: Runtime, topic: str) -> list[tuple[tuple[str, bytes], ...]]:
    """The headers of every record on ``topic`` (the test's own: its prefix is unique), read
    up to the end offsets it has now, rather than until a read comes back empty (which
    always waited out its whole timeout)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=rt.settings.kafka_bootstrap_servers,
                                auto_offset_reset="earliest", enable_auto_commit=False)  # fmt: skip
    await consumer.start()
    try:
        found: list[tuple[tuple[str, bytes], ...]] = []
        async with asyncio.timeout(30):
            while True:
                batches = await consumer.getmany(timeout_ms=200)
                found += [tuple(r.headers) for part in batches.values() for r in part]
                if await read_to_the_end(consumer):
                    return found
    finally:
        await consumer.stop()


async def read_to_the_end(consumer: AIOKafkaConsumer) -> bool:
    """Every partition of the subscription assigned and read up to its end offset."""
    parts = list(consumer.assignment())
    if not parts:
        return False
    ends = await consumer.end_offsets(parts)
    return all([await consumer.position(tp) >= ends[tp] for tp in parts])


def crisis() -> ParentMentalHealthCrisis:
    return suicidal_crisis("Expressed plans to end her life.")


class TestLatencyHistograms:
    async def test_an_event_moves_the_routing_and_delivery_histograms(
        self,
        gateway: httpx.AsyncClient,
        producer_keys: dict[str, Ed25519PrivateKey],
        inbox: httpx.AsyncClient,
        running_broker: Runtime,
    ) -> None:
        """One event routed and its notices stored: each histogram counts at least one more."""
        before = await _counts(running_broker)
        assert (await post_signed(gateway, crisis(), producer_keys)).status_code == 202
        await wait_for_notices(inbox, SCHOOL, 1)
        # The delivery worker observes its histograms just after its commit, which the inbox
        # may already show: read again until every one has moved, for at most 10 s.
        deadline = asyncio.get_running_loop().time() + 10
        while unmoved := await _unmoved(running_broker, before):
            if asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.05)
        assert unmoved == []


async def _unmoved(rt: Runtime, before: dict[Sample, float]) -> list[Sample]:
    after = await _counts(rt)
    return [key for key in HISTOGRAMS if after.get(key, 0.0) <= before.get(key, 0.0)]


class TestAcceptanceTime:
    async def test_the_gateway_s_acceptance_travels_with_the_event_to_its_notices(
        self,
        gateway: httpx.AsyncClient,
        producer_keys: dict[str, Ed25519PrivateKey],
        inbox: httpx.AsyncClient,
        running_broker: Runtime,
    ) -> None:
        """The event on Kafka carries sgb-accepted-at, a moment while the gateway answered;
        every notice routed from it carries the same, which the delivery worker counts from
        (sgb_event_to_inbox_seconds), not from sealing."""
        posted = datetime.now(UTC)
        assert (await post_signed(gateway, crisis(), producer_keys)).status_code == 202
        answered = datetime.now(UTC)
        await wait_for_notices(inbox, SCHOOL, 1)
        [event] = await headers_on(running_broker, running_broker.topics.events)
        accepted = accepted_at(event)
        assert accepted is not None
        assert posted <= accepted <= answered
        notices = await headers_on(running_broker, running_broker.topics.notices)
        assert notices
        assert {accepted_at(h) for h in notices} == {accepted}
        assert all(sum(name == ACCEPTED_AT for name, _ in h) == 1 for h in notices)


class TestNoticeGauges:
    @pytest.fixture
    def running_broker(self, untimed_broker: Runtime) -> Runtime:
        return untimed_broker  # the gauges are refreshed here at the times the test gives

    async def test_an_unacknowledged_notice_is_open_then_overdue(
        self,
        gateway: httpx.AsyncClient,
        producer_keys: dict[str, Ed25519PrivateKey],
        inbox: httpx.AsyncClient,
        running_broker: Runtime,
    ) -> None:
        """The school's new notice counts as open for schools; past its deadline (a refresh
        a month later), as overdue too. Nothing has been escalated yet."""
        assert (await post_signed(gateway, crisis(), producer_keys)).status_code == 202
        await wait_for_notices(inbox, SCHOOL, 1)
        school = (("org_kind", "school"),)
        now = datetime.now(UTC)
        await refresh_notice_gauges(running_broker.engine, now)
        counts = await _counts(running_broker)
        assert counts[("sgb_notices_open", school)] >= 1
        await refresh_notice_gauges(running_broker.engine, now + timedelta(days=30))
        later = await _counts(running_broker)
        assert later[("sgb_notices_overdue", school)] == later[("sgb_notices_open", school)]
        assert later[("sgb_notices_escalated", school)] == 0
        assert ("sgb_notices_open", (("org_kind", "talking_therapy"),)) in later  # zero, not absent
