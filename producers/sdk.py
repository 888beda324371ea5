"""The SDK an agency system uses to publish events to the broker through Kafka.

    async with EventPublisher(bootstrap, broker_keys, my_signing_key) as p:
        event_id = await p.publish(event)

Each event is signed with the organisation's Ed25519 key (over its exact bytes) and sealed to
the broker's public key before it leaves the agency: Kafka and its operators see only the
header (the event's id, the producing organisation, the broker key it is sealed to) and a
pseudonymous key. The key is an HMAC of the subject under the agency's own secret, derived
from its signing key: an agency holds no secret of the partnership's, and nobody else can
go back from its keys to a person. What happened (the event's type) and when the broker
received it are not in the header: the type is in the signed event, the time is Kafka's.
A Kafka header, ``sgb-accepted-at``, says when the event was published (the gateway's
acceptance, when the gateway publishes it), for the broker's event-to-inbox latency only.
``publish`` returns once every in-sync replica has the record (idempotent producer,
acks=all).
"""

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Self
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from producers import crypto
from producers.broker_keys import BrokerPublicKeys
from producers.envelopes import seal_event, sign_event
from producers.kafka import (
    KafkaPublisher,
    KafkaSecurity,
    Message,
    accepted_at_header,
    events_topic,
)
from producers.pseudonyms import person_key, producer_secret
from schemas.events import Event
from schemas.transport import EventHeader, SignedEvent


class EventPublisher:
    def __init__(
        self,
        bootstrap_servers: str,
        broker_keys: BrokerPublicKeys,
        signing_key: Ed25519PrivateKey | None = None,
        topic_prefix: str = "sgb.",
        security: KafkaSecurity | None = None,
        *,
        record_key_secret: bytes | None = None,
    ) -> None:
        """``signing_key`` is the organisation's own Ed25519 key; without it only events
        already signed elsewhere can be published (``publish_signed``, the gateway's way).
        ``record_key_secret`` keys the Kafka record keys; by default the organisation's own,
        derived from its signing key (random for this process when it has none)."""
        self._kafka = KafkaPublisher(bootstrap_servers, security)
        self._keys = broker_keys
        self._secret = record_key_secret or (
            producer_secret(signing_key) if signing_key else secrets.token_bytes(32)
        )
        self._signing_key = signing_key
        self._topic = events_topic(topic_prefix)

    async def __aenter__(self) -> Self:
        await self._kafka.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._kafka.stop()

    async def publish(self, event: Event) -> UUID:
        return (await self.publish_many([event]))[0]

    async def publish_many(self, events: Sequence[Event]) -> list[UUID]:
        """Signs and publishes the events together; returns their ids once Kafka has them."""
        if self._signing_key is None:
            raise ValueError("this publisher has no signing key: use publish_signed")
        key = self._signing_key
        await self.publish_signed([(e, sign_event(e, key)) for e in events])
        return [e.event_id for e in events]

    async def publish_signed(self, events: Sequence[tuple[Event, SignedEvent]]) -> None:
        """Publishes events their producer signed, each with the event parsed from them,
        stamped with the moment of publishing (at the gateway, of acceptance)."""
        accepted = accepted_at_header(datetime.now(UTC))
        await self._kafka.publish([self._message(e, s, accepted) for e, s in events])

    def _message(self, event: Event, signed: SignedEvent, accepted: tuple[str, bytes]) -> Message:
        header = EventHeader(
            event_id=event.event_id,
            source_org=event.source_org,
            correlation_id=event.correlation_id,
            broker_key_id=self._keys.hpke_key_id,
        )
        sealed = seal_event(signed, header, self._keys.hpke)
        key = person_key(self._secret, event.people()[0], event.source_org)
        return Message(self._topic, key, sealed.model_dump_json().encode(),
                       headers=(("event_id", str(event.event_id).encode()), accepted))  # fmt: skip


def signature_header(event_json: bytes, key: Ed25519PrivateKey) -> str:
    """The gateway's ``Sgb-Signature`` header for a request body holding one event."""
    signature = crypto.b64encode(crypto.sign_event_bytes(key, event_json))
    return f"keyid={crypto.key_id(key.public_key())}, sig={signature}"
