"""How an event travels on Kafka: sealed to the broker, with a cleartext header for routing."""

from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime

from schemas.common import Contract, OrgId
from schemas.events import SCHEMA_VERSION, Event, EventAdapter, EventType


class EventHeader(Contract):
    """What the transport may see of an event: ids and types, never a person."""

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: UUID
    event_type: EventType
    source_org: OrgId
    received_at: AwareDatetime
    correlation_id: UUID | None = None
    broker_key_id: str


class SignedEvent(Contract):
    """What is sealed to the broker: the event exactly as its producer serialised it, and the
    producing organisation's Ed25519 signature over those bytes."""

    event_json: str
    signature: str
    signing_key_id: str

    def event(self) -> Event:
        return EventAdapter.validate_json(self.event_json)


class SealedEvent(Contract):
    """An event encrypted to the broker's public key, its header bound into the encryption."""

    header: str
    ciphertext: str
