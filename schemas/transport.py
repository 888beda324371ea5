"""How an event travels on Kafka: sealed to the broker, with a cleartext header for routing."""

from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, ConfigDict, Field

from schemas.common import Contract, OrgId
from schemas.events import SCHEMA_VERSION, Event, EventAdapter, EventType


class EventHeader(Contract):
    """What the transport may see of an event: ids, never a person nor what happened.

    The producer writes it and nobody signs it, so the broker takes nothing from it that
    matters: the event's type comes from the signed event, the time it was received from
    Kafka's log-append time (the broker's clock). ``broker_key_id`` only chooses the key to
    open the event with; a wrong one fails the decryption."""

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: UUID
    source_org: OrgId
    correlation_id: UUID | None = None
    broker_key_id: str
    # Written by producers before the type left the clear header and the time became the
    # broker's; still read so that their events on the topic open, and never trusted.
    event_type: EventType | None = Field(None, description="legacy: ignored")
    received_at: AwareDatetime | None = Field(None, description="legacy: ignored")


class SignedFhir(Contract):
    """A FHIR resource as the organisation posted it at ``/fhir/R4/<endpoint>``: the exact
    body it signed, kept as the proof of the events the broker mapped from it."""

    # The body exactly as signed: its whitespace is signed too, so none is stripped.
    model_config = ConfigDict(str_strip_whitespace=False)

    endpoint: Literal["Encounter", "Appointment", "Bundle"]
    body: str


class SignedEvent(Contract):
    """What is sealed to the broker: the event exactly as its producer serialised it, and the
    producing organisation's Ed25519 signature over those bytes.

    With ``fhir``, the organisation signed the FHIR body instead (``broker.services.fhir_proof``)
    and ``event_json`` is what the gateway mapped from it; the router maps it again and
    compares, so the event is no more than the signed resource says."""

    # The exact bytes signed: a body posted with a trailing newline (curl -d @file) is signed
    # with it, and the router checks the signature over what is kept here.
    model_config = ConfigDict(str_strip_whitespace=False)

    event_json: str
    signature: str
    signing_key_id: str
    fhir: SignedFhir | None = None

    def event(self) -> Event:
        return EventAdapter.validate_json(self.event_json)


class SealedEvent(Contract):
    """An event encrypted to the broker's public key, its header bound into the encryption."""

    header: str
    ciphertext: str
