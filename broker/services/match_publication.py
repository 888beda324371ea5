"""The router's half of a match: publishing a matched event again, from the router's timer.

The front door's API records the match (``matching.match``: status ``accepted``) and holds
no key that opens an event; the router, which does, seals the producer's signed event again
under a header the broker stamps with the time of the match and publishes it to the events
topic. The producer's event is untouched (its ``occurred_at`` and signature), so a match
made more than a week after the event came is not refused as too old, and the router checks
the producer's key at the time the queue first received it (``matching.republished``).

Each entry is claimed (``accepted`` -> ``publishing``) in its own transaction before it is
published, so two router instances do not publish one event twice; Kafka refusing it returns
it to ``accepted`` for the next round, and a router starting releases the claims one that
stopped mid-way left (``matching.release_claims``).
"""

from dataclasses import dataclass
from datetime import datetime

import structlog

from broker.errors import PublishFailed
from broker.keys import KeyStore
from broker.ports import DataKeyStore, Message, Publisher, QueuedEvent, UnitOfWorkFactory
from broker.services import matching
from producers.envelopes import open_event, seal_event
from producers.pseudonyms import person_key
from schemas.transport import EventHeader, SealedEvent, SignedEvent

log = structlog.get_logger(__name__)
BATCH = 100


@dataclass(frozen=True)
class MatchPublication:
    units: UnitOfWorkFactory
    keys: KeyStore
    publisher: Publisher
    topic: str

    async def accepted(self) -> list[str]:
        """The matched events waiting for the router, oldest match first."""
        async with self.units() as uow:
            return await uow.matched_events.accepted(BATCH)

    async def publish(self, event_id: str) -> str | None:
        """Publishes the matched event again unless another router instance took it; Kafka
        refusing it leaves it for the next round (``PublishFailed`` then stops the round)."""
        message = await self._claim(event_id)
        if message is None:
            return None
        try:
            await self.publisher.publish([message])
        except PublishFailed:
            async with self.units() as uow:
                await uow.matched_events.published(event_id, succeeded=False)
            log.warning("matched_event_not_published", event_id=event_id)
            raise
        async with self.units() as uow:
            await uow.matched_events.published(event_id, succeeded=True)
        return event_id

    async def unkept(self) -> list[str]:
        """Entries parked before the queue kept their people apart (by an older router)."""
        async with self.units() as uow:
            return await uow.matched_events.unkept(BATCH)

    async def keep_people(self, event_id: str, data_keys: DataKeyStore) -> str | None:
        """Keeps the entry's people under its data key, so that the front door's API, which
        cannot open events, lists them."""
        async with self.units() as uow:
            entry = await uow.matched_events.unkept_entry(event_id)
            if entry is None:
                return None
            event = self._opened(entry)[1].event()
            people = matching.QueuedPeople(source_org=event.source_org,
                                           people=list(event.people()))  # fmt: skip
            wrapped = matching.wrap_people(data_keys, event_id, people)
            await uow.matched_events.keep_people(event_id, wrapped)
        return event_id

    async def _claim(self, event_id: str) -> Message | None:
        async with self.units() as uow:
            entry = await uow.matched_events.claim(event_id)
            if entry is None:
                return None
            assert entry.matched_at is not None  # only a matched entry is accepted
            return self._stamped(entry, entry.matched_at)

    def _stamped(self, entry: QueuedEvent, matched_at: datetime) -> Message:
        """The producer's signed event as it was, sealed again under a header received at
        the time of the match, keyed for Kafka as the producer would have keyed it."""
        header, signed = self._opened(entry)
        stamped = header.model_copy(
            update={"received_at": matched_at, "broker_key_id": self.keys.public.hpke_key_id}
        )
        again = seal_event(signed, stamped, self.keys.public.hpke)
        event = signed.event()  # its signature was verified when it was first routed
        key = person_key(self.keys.pseudonym_secret, event.people()[0], event.source_org)
        return Message(self.topic, key, again.model_dump_json().encode())

    def _opened(self, entry: QueuedEvent) -> tuple[EventHeader, SignedEvent]:
        sealed = SealedEvent.model_validate_json(entry.sealed_event)
        sealed_to = EventHeader.model_validate_json(sealed.header).broker_key_id
        return open_event(sealed, self.keys.hpke_for(sealed_to))
