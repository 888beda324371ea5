"""Low-severity notices to a recipient who asked for a daily digest wait for it; nothing of
higher severity ever does. Through the routing service and a real database."""

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support import demo_database

from broker.adapters.data_keys import FileDataKeys
from broker.adapters.kafka import Topics
from broker.bootstrap import routing_deps
from broker.demo import family
from broker.keys import KeyStore
from broker.rules.deadlines import next_digest
from broker.services import inbox
from broker.services.routing import route_event
from broker.services.scenario import CollectingPublisher
from producers.envelopes import seal_event, sign_event
from schemas.events import EventAdapter
from schemas.notices import SealedNotice
from schemas.transport import EventHeader

pytestmark = pytest.mark.integration

GP = "gp-hillview:safeguarding_lead"
RECEIVED = datetime(2027, 5, 10, 14, 0, tzinfo=UTC)  # a Monday afternoon


@pytest.fixture
async def routing(tmp_path: Path, database_url: str) -> Any:
    async with demo_database(database_url, RECEIVED.date(), frozenset({GP})) as demo:
        deps = routing_deps(demo.sessions, KeyStore.create(tmp_path / "keys"),
                           CollectingPublisher(), Topics.with_prefix("t."),
                           clock=lambda: RECEIVED,
                           data_keys=FileDataKeys(tmp_path / "households"))  # fmt: skip
        yield deps, demo.producers, FileDataKeys(tmp_path / "households")


async def route(routing: Any, payload: dict[str, Any]) -> list[Any]:
    deps, producers, data_keys = routing
    event = EventAdapter.validate_python(
        {"event_id": str(uuid.uuid4()), "occurred_at": RECEIVED.isoformat(), **payload}
    )
    header = EventHeader(event_id=event.event_id, event_type=event.event_type,
                         source_org=event.source_org, received_at=RECEIVED,
                         broker_key_id=deps.keys.public.hpke_key_id)  # fmt: skip
    signed = sign_event(event, producers[event.source_org])
    headers = await route_event(seal_event(signed, header, deps.keys.public.hpke), deps)
    published = [SealedNotice.model_validate_json(m.value)
                 for m in deps.publisher.messages if m.topic == deps.topics.notices]  # type: ignore[attr-defined]  # fmt: skip
    async with deps.units() as uow:
        await inbox.store(uow, published, RECEIVED, data_keys)
    return [h for h in headers if h.recipient_id == GP]


WITHDRAWAL = {"event_type": "service_withdrawal", "source_org": "acute-demo",
              "subject": {"nhs_number": family.FATHER}, "service": "Physiotherapy",
              "reason": "completed", "withdrawn_on": "2027-05-10"}  # fmt: skip


class TestDailyDigest:
    async def test_low_severity_notice_waits_for_the_digest(self, routing: Any) -> None:
        """The notice is held until 07:00 London the next day, and its deadline runs from then."""
        [header] = await route(routing, WITHDRAWAL)
        release = next_digest(RECEIVED)
        assert header.severity.value == "low"
        assert header.held_until == release
        assert header.deadline > release
        async with routing[0].units() as uow:
            assert await inbox.list_notices(uow, GP, RECEIVED) == []
            later = await inbox.list_notices(uow, GP, release + timedelta(minutes=1))
            gathered = await inbox.digest(uow, GP, release, release + timedelta(minutes=1))
            early = await inbox.digest(uow, GP, release, RECEIVED)
        assert [n.notice_id for n in later] == [str(header.notice_id)]
        assert [n.notice_id for n in gathered] == [str(header.notice_id)]
        assert early == []

    async def test_high_severity_is_never_held(self, routing: Any) -> None:
        """A crisis notice to the same recipient is delivered at once."""
        crisis = {"event_type": "parent_mental_health_crisis", "source_org": "mh-demo",
                  "subject": {"nhs_number": family.MOTHER}, "suicidal_ideation": True}  # fmt: skip
        [header] = await route(routing, crisis)
        assert header.severity.value == "high"
        assert header.held_until is None
        async with routing[0].units() as uow:
            listed = await inbox.list_notices(uow, GP, RECEIVED)
        assert str(header.notice_id) in [n.notice_id for n in listed]
