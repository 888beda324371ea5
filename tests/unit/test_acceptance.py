"""Accepting an event (broker/services/acceptance.py) over in-memory records: verified at the
door, audited before it is published, published once, a reused id refused."""

from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from broker.errors import EventNotPermitted, NotAuthorised, SignatureInvalid
from broker.services.acceptance import Acceptance, Conflict, check_own, digest
from producers import crypto
from producers.envelopes import sign_event
from schemas.events import Event, EventAdapter, EventType
from schemas.transport import SignedEvent
from unit.builders import crisis_payload, event

NOW = datetime(2027, 5, 7, 21, 0, tzinfo=UTC)
PRODUCER = Ed25519PrivateKey.generate()
KEY_ID = crypto.key_id(PRODUCER.public_key())


class FakeRecords:
    """What the SQL records keep, in memory, with the order things happened in."""

    def __init__(self, permitted: bool = True) -> None:
        self.digests: dict[UUID, str] = {}
        self.receipts: list[UUID] = []
        self.rejections: list[str] = []
        self.steps: list[str] = []
        self.permitted = permitted

    async def publishing_key(
        self, org_id: str, key_id: str, event_type: EventType, at: datetime
    ) -> Ed25519PublicKey:
        if not self.permitted:
            raise EventNotPermitted("not this type")
        return PRODUCER.public_key()

    async def accepted_digests(self, event_ids: Sequence[UUID]) -> dict[UUID, str]:
        return {i: self.digests[i] for i in event_ids if i in self.digests}

    async def audit_receipts(self, events: Sequence[Event], at: datetime) -> None:
        self.steps.append("audited")
        self.receipts += [e.event_id for e in events]

    async def remember(self, events: Sequence[Event], digests: Sequence[str], at: datetime) -> None:
        self.steps.append("remembered")
        self.digests |= {e.event_id: d for e, d in zip(events, digests, strict=True)}

    async def audit_rejection(self, subject: str, reason: str, at: datetime) -> None:
        self.rejections.append(reason)


class FakePublisher:
    def __init__(self, records: FakeRecords) -> None:
        self.published: list[UUID] = []
        self._records = records

    async def publish_signed(self, events: Sequence[tuple[Event, SignedEvent]]) -> None:
        self._records.steps.append("published")
        self.published += [e.event_id for e, _ in events]


def acceptance(records: FakeRecords) -> tuple[Acceptance, FakePublisher]:
    publisher = FakePublisher(records)
    return Acceptance(records, publisher, clock=lambda: NOW), publisher


def signed(e: Event) -> tuple[Event, SignedEvent]:
    return e, sign_event(e, PRODUCER)


class TestAccept:
    async def test_fresh_event_is_audited_then_published_then_remembered(self) -> None:
        """A new event's receipt is audited before Kafka has it, and it is recorded after."""
        records = FakeRecords()
        service, publisher = acceptance(records)
        e = event(crisis_payload())
        [answer] = await service.accept([signed(e)])
        assert (answer.status, publisher.published) == ("accepted", [e.event_id])
        assert records.steps == ["audited", "published", "remembered"]

    async def test_same_event_again_is_a_duplicate_not_republished(self) -> None:
        """Posting an accepted event again is answered "duplicate" and publishes nothing."""
        records = FakeRecords()
        service, publisher = acceptance(records)
        e = event(crisis_payload())
        await service.accept([signed(e)])
        [answer] = await service.accept([signed(e)])
        assert (answer.status, publisher.published) == ("duplicate", [e.event_id])

    async def test_reused_id_with_other_content_is_a_conflict(self) -> None:
        """An event id accepted before, sent again with different content, is refused."""
        records = FakeRecords()
        service, _ = acceptance(records)
        e = event(crisis_payload())
        await service.accept([signed(e)])
        changed = e.model_copy(update={"source_org": "acute-demo"})
        with pytest.raises(Conflict):
            await service.accept([signed(changed)])

    async def test_batch_repeating_an_id_publishes_it_once(self) -> None:
        """The first of a repeated event in a batch is accepted, the repeat a duplicate."""
        records = FakeRecords()
        service, publisher = acceptance(records)
        e = event(crisis_payload())
        answers = await service.accept([signed(e), signed(e)])
        assert [a.status for a in answers] == ["accepted", "duplicate"]
        assert (publisher.published, records.receipts) == ([e.event_id], [e.event_id])


class TestVerified:
    async def test_producers_signature_over_the_exact_bytes_holds(self) -> None:
        """The event comes back as the exact bytes its producer signed."""
        service, _ = acceptance(FakeRecords())
        e = event(crisis_payload())
        body = EventAdapter.dump_json(e)
        result = await service.verified(e, body, KEY_ID, crypto.sign_event_bytes(PRODUCER, body))
        assert result.event_json == body.decode()

    async def test_signature_over_other_bytes_is_refused(self) -> None:
        """A signature that does not cover these bytes is refused."""
        service, _ = acceptance(FakeRecords())
        e = event(crisis_payload())
        signature = crypto.sign_event_bytes(PRODUCER, b"{}")
        with pytest.raises(SignatureInvalid):
            await service.verified(e, EventAdapter.dump_json(e), KEY_ID, signature)

    async def test_event_type_the_organisation_may_not_publish_is_refused(self) -> None:
        """The directory's refusal of the event's type stops it at the door."""
        service, _ = acceptance(FakeRecords(permitted=False))
        e = event(crisis_payload())
        body = EventAdapter.dump_json(e)
        with pytest.raises(EventNotPermitted):
            await service.verified(e, body, KEY_ID, crypto.sign_event_bytes(PRODUCER, body))


class TestRecordRejection:
    async def test_reason_is_audited(self) -> None:
        """A refused event leaves an audit entry naming the reason, nothing of its content."""
        records = FakeRecords()
        service, _ = acceptance(records)
        await service.record_rejection("/v1/events", "SignatureInvalid")
        assert records.rejections == ["SignatureInvalid"]


class TestCheckOwn:
    def test_another_organisations_event_is_refused(self) -> None:
        """An organisation publishes its own events only."""
        with pytest.raises(NotAuthorised):
            check_own("acute-demo", [event(crisis_payload())])

    def test_own_events_pass(self) -> None:
        """Its own events pass."""
        check_own("mh-demo", [event(crisis_payload())])


class TestDigest:
    def test_ignores_when_the_broker_received_it(self) -> None:
        """The fingerprint is of what the agency sent, not of the broker's receipt time."""
        e = event(crisis_payload())
        assert digest(e) == digest(e.model_copy(update={"received_at": NOW}))
