"""What accepting a FHIR body means: mapped to events, its signature checked, then accepted
as any event is (``broker.services.acceptance``: audited, on Kafka, duplicates answered).

A Bundle is all or nothing: one entry the broker cannot map refuses the whole Bundle
(``FhirRejected`` names every entry at fault), so that a trust never has to work out which
half of a feed went through. The sender fixes the Bundle and sends all of it again; entries
accepted before are answered as duplicates, their event ids being derived from the resources.
Nothing here speaks HTTP.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from broker.rules.fhir_mapping import events_from_fhir
from broker.services.acceptance import Acceptance, Accepted
from broker.services.fhir_proof import signed_fhir_event, verify_fhir_body
from schemas.events import EventType


class PublishingKeys(Protocol):
    async def publishing_key(
        self, org_id: str, key_id: str, event_type: EventType, at: datetime
    ) -> Ed25519PublicKey:
        """The organisation's key with this id, once it may publish this event type
        (``EventNotPermitted`` otherwise)."""
        ...


Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class FhirIntake:
    def __init__(
        self, acceptance: Acceptance, keys: PublishingKeys, clock: Clock = _utc_now
    ) -> None:
        self._acceptance, self._keys, self._clock = acceptance, keys, clock

    async def accept(
        self, endpoint: str, body: bytes, org_id: str, key_id: str, signature: bytes
    ) -> list[Accepted]:
        """One answer per event the body carries, in the body's order; ``FhirRejected`` for
        a body the broker does not take, ``SignatureInvalid`` or ``EventNotPermitted`` for a
        sender who may not send it."""
        events = events_from_fhir(body, endpoint, org_id)
        for event_type in sorted({event.event_type for event in events}):
            key = await self._keys.publishing_key(org_id, key_id, event_type, self._clock())
            verify_fhir_body(key, body, signature)
        pairs = [(e, signed_fhir_event(e, endpoint, body, signature, key_id)) for e in events]
        return await self._acceptance.accept(pairs)

    async def record_rejection(self, subject: str, reason: str) -> None:
        """Audits a body refused for its signature or its type, as ``Acceptance`` does."""
        await self._acceptance.record_rejection(subject, reason)
