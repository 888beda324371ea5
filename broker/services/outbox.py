"""The transactional outbox for notices: decided and recorded first, published after.

A notice goes on the notices topic only once the transaction that decided it has committed,
so every notice on Kafka is one the broker's state accounts for. Publishing may then be
interrupted (a crash, Kafka restarting): the notice stays in the outbox and the relay sends
it later. Kafka may so hold a notice twice, byte for byte the same; every consumer keeps a notice
once by its id.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from broker.ports import Message, OutboxEntry, Publisher, UnitOfWorkFactory
from producers.pseudonyms import pseudonym
from schemas.notices import NoticeHeader

log = structlog.get_logger(__name__)
RELAY_BATCH = 500


@dataclass(frozen=True)
class Outbox:
    """Built once per process (bootstrap.build_services): each read and each marking is a
    unit of work of its own, so no transaction stays open while Kafka is waited for."""

    unit_of_work: UnitOfWorkFactory
    publisher: Publisher
    topic: str
    pseudonym_secret: bytes

    async def publish(self, notice_ids: Sequence[str], also: Sequence[Message] = ()) -> int:
        """Publishes these notices if they are still unpublished (just committed, say), with
        ``also`` (records that need no outbox) in the same round trip to Kafka."""
        sent = 0
        for start in range(0, len(notice_ids), RELAY_BATCH):
            async with self.unit_of_work() as uow:
                entries = await uow.outbox.unpublished_of(notice_ids[start : start + RELAY_BATCH])
            sent += await self._send(entries, also if start == 0 else ())
        if not notice_ids and also:
            await self.publisher.publish(also)
        return sent

    async def publish_sealed(
        self, sealed: Sequence[tuple[NoticeHeader, Message]], also: Sequence[Message] = ()
    ) -> int:
        """Publishes notices just committed as they were sealed, without reading them back,
        in the relay's order, with ``also`` in the same round trip; then takes them out of
        the outbox. Should this stop between the two, the relay sends them again (harmless:
        every consumer keeps a notice once by its id)."""
        ids = await self.send_sealed(sealed, also)
        await self.take_out(ids)
        return len(ids)

    async def send_sealed(
        self, sealed: Sequence[tuple[NoticeHeader, Message]], also: Sequence[Message] = ()
    ) -> list[str]:
        """``publish_sealed`` without taking them out: the ids Kafka now has, for the caller
        to take out when it suits it (the router, while it waits for its next events).
        Until then, the relay may send them again."""
        ordered = sorted(sealed, key=lambda n: (n[0].created_at, str(n[0].notice_id)))
        if ordered or also:
            await self.publisher.publish([*(message for _, message in ordered), *also])
        return [str(header.notice_id) for header, _ in ordered]

    async def take_out(self, notice_ids: Sequence[str]) -> None:
        """Takes these notices out of the outbox, a relay batch per unit of work."""
        for start in range(0, len(notice_ids), RELAY_BATCH):
            await self._take_out(notice_ids[start : start + RELAY_BATCH])

    async def relay(self, now: datetime, older_than: timedelta = timedelta(seconds=5)) -> int:
        """Publishes every notice left unpublished for longer than ``older_than``; the wait
        leaves a notice just committed to the instance about to publish it."""
        total = 0
        while True:
            async with self.unit_of_work() as uow:
                entries = await uow.outbox.unpublished(now - older_than, RELAY_BATCH)
            if not entries:
                break
            total += await self._send(entries)
        if total:
            log.info("outbox_relayed", notices=total)
        return total

    async def _send(self, entries: Sequence[OutboxEntry], also: Sequence[Message] = ()) -> int:
        """Publishes the entries with ``also``, then takes them out of the outbox: only once
        Kafka has acknowledged them, so a failed round trip leaves them to the relay."""
        if entries or also:
            await self.publisher.publish([*(self._message(e) for e in entries), *also])
        if entries:
            await self._take_out([e.notice_id for e in entries])
        return len(entries)

    async def _take_out(self, notice_ids: Sequence[str]) -> None:
        async with self.unit_of_work() as uow:
            await uow.outbox.published(notice_ids)

    def _message(self, entry: OutboxEntry) -> Message:
        key = pseudonym(self.pseudonym_secret, "recipient", entry.recipient_id)
        return Message(self.topic, key, entry.sealed.encode())
