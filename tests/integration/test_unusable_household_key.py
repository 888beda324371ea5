"""No poison pill: a household whose data key cannot be used costs only that household's
notices. Through the routing service and a real database, one event at a time.

Every notice the broker records is sealed at rest under its household's data key (a file per
household, broker/adapters/data_keys.py). When that file is corrupt or unsafe, nothing can be
recorded for the household, not even the front door's copy: its notices are dead-lettered,
with that reason (never blaming the recipients' keys), the gap is reported, and routing goes
on for every other family.
"""

import json
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select
from support import DemoDatabase, demo_database

from broker.adapters import db
from broker.adapters.data_keys import FileDataKeys
from broker.adapters.kafka import Topics
from broker.bootstrap import routing_deps
from broker.demo import family
from broker.keys import KeyStore
from broker.rules.deadlines import is_working_time
from broker.services.routing import route_event
from broker.services.scenario import CollectingPublisher
from producers import crypto
from producers.envelopes import seal_event, sign_event
from producers.pseudonyms import pseudonym
from schemas.events import EventAdapter
from schemas.notices import NoticeHeader
from schemas.transport import EventHeader

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)
# A crisis of the Carter mother: the school's key adult and (high) its deputy, two health
# visiting notices, three GPs, the front door.
CRISIS_NOTICES = 8
REFERRAL_FALLBACKS = CRISIS_NOTICES - 1  # every notice but the front door's own has one
# While the front door is closed, each high-risk referral (its own and each fallback) is also
# an alert for its emergency duty team, which the same unusable key stops too.
ALERTS = 0 if is_working_time(NOW) else 1 + REFERRAL_FALLBACKS
PERSONAL = (family.MOTHER, family.FATHER, family.CHILD_B, family.TWIN_1, family.TWIN_2,
            "Jess", "Carter")  # fmt: skip


class Routing:
    def __init__(self, demo: DemoDatabase, folder: Path) -> None:
        self.demo = demo
        self.publisher = CollectingPublisher()
        self.data_keys = FileDataKeys(folder / "households")
        # Routed at NOW, the instant ALERTS was worked out for: a run across the front door's
        # closing time would otherwise expect one thing and route another.
        self.deps = routing_deps(demo.sessions, KeyStore.create(folder / "keys"), self.publisher,
                                Topics.with_prefix("t."), data_keys=self.data_keys,
                                clock=lambda: NOW)  # fmt: skip

    def carters_key_file(self) -> Path:
        name = pseudonym(self.deps.keys.pseudonym_secret, "household", "h-carter")
        return self.data_keys.directory / f"{name}.key"

    async def route(self, payload: dict[str, Any]) -> list[NoticeHeader]:
        event = EventAdapter.validate_python(
            {"event_id": str(uuid.uuid4()), "occurred_at": NOW.isoformat(), **payload}
        )
        header = EventHeader(event_id=event.event_id, event_type=event.event_type,
                             source_org=event.source_org, received_at=NOW,
                             broker_key_id=self.deps.keys.public.hpke_key_id)  # fmt: skip
        signed = sign_event(event, self.demo.producers[event.source_org])
        return await route_event(seal_event(signed, header, self.deps.keys.public.hpke), self.deps)

    def dead_letters(self) -> list[dict[str, Any]]:
        topic = self.deps.topics.dead_letters
        return [json.loads(m.value) for m in self.publisher.messages if m.topic == topic]

    async def gaps(self) -> Counter[str]:
        async with self.demo.sessions() as session:
            kinds = (await session.scalars(select(db.DataQualityIssue.kind))).all()
        return Counter(kinds)


@pytest.fixture
async def routing(tmp_path: Path, database_url: str) -> Any:
    async with demo_database(database_url, NOW.date()) as demo:
        yield Routing(demo, tmp_path)


CRISIS = {"event_type": "parent_mental_health_crisis", "source_org": "mh-demo",
          "subject": {"nhs_number": family.MOTHER}}  # fmt: skip
# Someone the directory does not know: another family's event, held at the front door.
STRANGER = {"event_type": "ed_attendance", "source_org": "acute-demo",
            "arrived_at": NOW.isoformat(), "subject": {"nhs_number": "9990000360"},
            "presenting_category": "injury"}  # fmt: skip


def corrupt(path: Path) -> None:
    """Not an AES key at all: a truncated or overwritten file."""
    crypto.write_secret(path, b"not a key", replace=True)


def readable_by_others(path: Path) -> None:
    """A good key that someone left readable by every user of the machine."""
    crypto.write_secret(path, AESGCM.generate_key(bit_length=256), replace=True)
    path.chmod(0o644)


class TestCorruptHouseholdKey:
    async def test_its_notices_are_dead_lettered_and_routing_goes_on(
        self, routing: Routing
    ) -> None:
        """Nothing of the household can be recorded: each notice (and each front-door copy
        tried in its place) is dead-lettered, naming no one; the next family's event routes."""
        corrupt(routing.carters_key_file())
        assert await routing.route(CRISIS) == []
        letters = routing.dead_letters()
        assert len(letters) == CRISIS_NOTICES + REFERRAL_FALLBACKS + ALERTS
        assert not any(value in json.dumps(letters) for value in PERSONAL)
        [referral] = await routing.route(STRANGER)
        assert referral.recipient_org == "la-front-door"

    async def test_the_reason_is_the_household_key_not_the_recipients(
        self, routing: Routing
    ) -> None:
        """The dead letters and the report say the household's key is unusable: telling
        six organisations to register new keys would send them after the wrong fault."""
        corrupt(routing.carters_key_file())
        await routing.route(CRISIS)
        assert {letter["reason"] for letter in routing.dead_letters()} == {
            "household_data_key_unusable"
        }
        assert set(await routing.gaps()) == {"household_data_key_unusable"}


class TestUnsafeHouseholdKey:
    async def test_costs_only_its_own_notices(self, routing: Routing) -> None:
        """A household key file readable by others is refused, but only that household's
        notices are lost to it (dead-lettered); the next family's event routes."""
        readable_by_others(routing.carters_key_file())
        assert await routing.route(CRISIS) == []
        assert len(routing.dead_letters()) == CRISIS_NOTICES + REFERRAL_FALLBACKS + ALERTS
        [referral] = await routing.route(STRANGER)
        assert referral.recipient_org == "la-front-door"
