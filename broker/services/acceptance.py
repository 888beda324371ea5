"""What accepting an event means, whoever carries it to the broker (the HTTP gateway today).

An event is accepted once its producer's signature holds with a key the organisation has
registered, the organisation may publish events of its type, its receipt is audited, and
Kafka has it (acks=all). Accepting the same event again is safe ("duplicate"); reusing an
event id for different content is a ``Conflict``. Nothing here speaks HTTP.
"""

import hashlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Literal, Protocol
from uuid import UUID

import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel

from broker.errors import NotAuthorised
from producers import crypto
from producers.envelopes import signed_from_bytes
from schemas.events import Event, EventAdapter, EventType
from schemas.transport import SignedEvent

log = structlog.get_logger(__name__)


class Accepted(BaseModel):
    event_id: UUID
    status: Literal["accepted", "duplicate"]


class Conflict(Exception):
    """An event id already accepted with different content."""


class AcceptanceRecords(Protocol):
    """What acceptance reads and keeps (``broker.adapters.accepted_events`` in SQL)."""

    async def publishing_key(
        self, org_id: str, key_id: str, event_type: EventType, at: datetime
    ) -> Ed25519PublicKey:
        """The organisation's key with this id, valid at ``at``, once the organisation may
        publish this event type (``EventNotPermitted`` otherwise)."""
        ...

    async def accepted_digests(self, event_ids: Sequence[UUID]) -> dict[UUID, str]:
        """The digest of each of these events accepted before."""
        ...

    async def audit_receipts(self, events: Sequence[Event], at: datetime) -> None: ...

    async def remember(self, events: Sequence[Event], digests: Sequence[str], at: datetime) -> None:
        """Records the events as accepted; one accepted meanwhile by another is let be."""
        ...

    async def audit_rejection(self, subject: str, reason: str, at: datetime) -> None: ...


class SignedEventPublisher(Protocol):
    async def publish_signed(self, events: Sequence[tuple[Event, SignedEvent]]) -> None: ...


Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Acceptance:
    def __init__(
        self,
        records: AcceptanceRecords,
        publisher: SignedEventPublisher,
        clock: Clock = _utc_now,
    ) -> None:
        self._records, self._publisher, self._clock = records, publisher, clock

    async def verified(
        self, event: Event, event_json: bytes, key_id: str, signature: bytes
    ) -> SignedEvent:
        """Checks the producer's signature at the door; the router checks it again."""
        key = await self._records.publishing_key(
            event.source_org, key_id, event.event_type, self._clock()
        )
        crypto.verify_event_bytes(key, event_json, signature)
        return signed_from_bytes(event_json, signature, key_id)

    async def accept(self, pairs: Sequence[tuple[Event, SignedEvent]]) -> list[Accepted]:
        """Publishes each event not accepted before, once; answers for every event given."""
        events = [event for event, _ in pairs]
        known = await self._records.accepted_digests([e.event_id for e in events])
        fresh = first_of_each([e for e in events if not _seen(e, known)])
        if fresh:
            # Audited before it is published (the router may route it at once), and once:
            # a retry after a failed publish, or the router, finds the receipt audited.
            await self._records.audit_receipts(fresh, self._clock())
            await self._publisher.publish_signed(_pairs_of(fresh, pairs))
            await self._records.remember(fresh, [digest(e) for e in fresh], self._clock())
        for e in fresh:
            log.info("event_accepted", event_id=str(e.event_id), event_type=e.event_type.value)
        return _answers(events, {e.event_id for e in fresh})

    async def record_rejection(self, subject: str, reason: str) -> None:
        """Audits an event refused for its signature or its type (ids and types only)."""
        await self._records.audit_rejection(subject, reason, self._clock())


def check_own(org_id: str, events: Sequence[Event]) -> None:
    """An organisation publishes its own events only."""
    if any(event.source_org != org_id for event in events):
        raise NotAuthorised("an organisation may publish only its own events")


def _seen(event: Event, known: dict[UUID, str]) -> bool:
    if event.event_id not in known:
        return False
    if known[event.event_id] != digest(event):
        raise Conflict
    return True


def _pairs_of(
    fresh: Sequence[Event], pairs: Sequence[tuple[Event, SignedEvent]]
) -> list[tuple[Event, SignedEvent]]:
    """Each fresh event with its signed bytes, once."""
    chosen = {id(e) for e in fresh}
    firsts: dict[UUID, tuple[Event, SignedEvent]] = {}
    for event, signed in pairs:
        if id(event) in chosen:
            firsts.setdefault(event.event_id, (event, signed))
    return list(firsts.values())


def _answers(events: Sequence[Event], fresh: set[UUID]) -> list[Accepted]:
    """ "accepted" for the first of each fresh event id, "duplicate" for every other."""
    unannounced = set(fresh)
    results = []
    for e in events:
        status: Literal["accepted", "duplicate"] = (
            "accepted" if e.event_id in unannounced else "duplicate"
        )
        results.append(Accepted(event_id=e.event_id, status=status))
        unannounced.discard(e.event_id)
    return results


def first_of_each(events: Sequence[Event]) -> list[Event]:
    """A batch that repeats an event id publishes it once."""
    firsts: dict[UUID, Event] = {}
    for event in events:
        if event.event_id in firsts and digest(firsts[event.event_id]) != digest(event):
            raise Conflict
        firsts.setdefault(event.event_id, event)
    return list(firsts.values())


def digest(event: Event) -> str:
    """A fingerprint of what the agency sent, ignoring when the broker received it."""
    canonical = EventAdapter.dump_json(event.model_copy(update={"received_at": None}))
    return hashlib.sha256(canonical).hexdigest()
