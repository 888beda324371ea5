"""The SDK an agency system uses to publish events to the broker through Kafka.

    async with EventPublisher(bootstrap, broker_keys, pseudonym_secret) as publisher:
        event_id = await publisher.publish(event)

Each event is sealed to the broker's public key before it leaves the agency: Kafka and its
operators see only the header (ids and types) and a pseudonymous key. ``publish`` returns once
every in-sync replica has the record (idempotent producer, acks=all).
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Self
from uuid import UUID

from broker.adapters.envelopes import seal_event
from broker.adapters.kafka import KafkaPublisher, Message, Topics
from broker.keys import BrokerPublicKeys
from broker.pseudonyms import person_key
from schemas.events import Event
from schemas.transport import EventHeader


class EventPublisher:
    def __init__(
        self,
        bootstrap_servers: str,
        broker_keys: BrokerPublicKeys,
        pseudonym_secret: bytes,
        topic_prefix: str = "sgb.",
    ) -> None:
        self._kafka = KafkaPublisher(bootstrap_servers)
        self._keys = broker_keys
        self._secret = pseudonym_secret
        self._topic = Topics.with_prefix(topic_prefix).events

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
        """Publishes the events together; returns their ids once Kafka has them all."""
        now = datetime.now(UTC)
        await self._kafka.publish([self._message(e, now) for e in events])
        return [e.event_id for e in events]

    def _message(self, event: Event, now: datetime) -> Message:
        received = event.received_at or now
        stamped = event.model_copy(update={"received_at": received})
        header = EventHeader(
            event_id=event.event_id,
            event_type=event.event_type,
            source_org=event.source_org,
            received_at=received,
            correlation_id=event.correlation_id,
            broker_key_id=self._keys.hpke_key_id,
        )
        sealed = seal_event(stamped, header, self._keys.hpke)
        key = person_key(self._secret, event.people()[0], event.source_org)
        return Message(self._topic, key, sealed.model_dump_json().encode(),
                       headers=(("event_id", str(event.event_id).encode()),))  # fmt: skip
