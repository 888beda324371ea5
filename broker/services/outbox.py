"""The transactional outbox for notices: decided and recorded first, published after.

A notice goes on the notices topic only once the transaction that decided it has committed,
so every notice on Kafka is one the broker's state accounts for. Publishing may then be
interrupted (a crash, Kafka restarting): the record stays unpublished and the relay sends it
later. Kafka may so hold a notice twice, byte for byte the same; every consumer keeps a notice
once by its id.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.adapters import db
from broker.ports import Message, Publisher
from producers.pseudonyms import pseudonym
from schemas.notices import NoticeHeader

log = structlog.get_logger(__name__)
RELAY_BATCH = 500


@dataclass(frozen=True)
class Outbox:
    sessions: async_sessionmaker[AsyncSession]
    publisher: Publisher
    topic: str
    pseudonym_secret: bytes

    async def publish(
        self, notice_ids: Sequence[str], now: datetime, also: Sequence[Message] = ()
    ) -> int:
        """Publishes these notices if they are still unpublished (just committed, say), with
        ``also`` (records that need no outbox) in the same round trip to Kafka."""
        sent = 0
        for start in range(0, len(notice_ids), RELAY_BATCH):
            chosen = db.NoticeRecord.notice_id.in_(notice_ids[start : start + RELAY_BATCH])
            sent += await self._publish(chosen, now, also if start == 0 else ())
        if not notice_ids and also:
            await self.publisher.publish(also)
        return sent

    async def publish_sealed(
        self, sealed: Sequence[tuple[NoticeHeader, Message]], now: datetime,
        also: Sequence[Message] = (),
    ) -> int:  # fmt: skip
        """Publishes notices just committed as they were sealed, without reading them back,
        in the relay's order, with ``also`` in the same round trip; then marks their records
        published. Should this stop between the two, the relay sends them again (harmless:
        every consumer keeps a notice once by its id)."""
        ordered = sorted(sealed, key=lambda n: (n[0].created_at, str(n[0].notice_id)))
        if ordered or also:
            await self.publisher.publish([*(message for _, message in ordered), *also])
        ids = [str(header.notice_id) for header, _ in ordered]
        for start in range(0, len(ids), RELAY_BATCH):
            await self._mark_published(ids[start : start + RELAY_BATCH], now)
        return len(ids)

    async def relay(self, now: datetime, older_than: timedelta = timedelta(seconds=5)) -> int:
        """Publishes every notice left unpublished for longer than ``older_than``; the wait
        leaves a notice just committed to the instance about to publish it."""
        total = 0
        while sent := await self._publish(db.NoticeRecord.created_at <= now - older_than, now):
            total += sent
        if total:
            log.info("outbox_relayed", notices=total)
        return total

    async def _publish(
        self, which: ColumnElement[bool], now: datetime, also: Sequence[Message] = ()
    ) -> int:
        async with self.sessions() as session:
            records = (await session.scalars(
                select(db.NoticeRecord)
                .where(db.NoticeRecord.published_at.is_(None), which)
                .order_by(db.NoticeRecord.created_at, db.NoticeRecord.notice_id)
                .limit(RELAY_BATCH)
            )).all()  # fmt: skip
        if records or also:
            await self.publisher.publish([*(self._message(r) for r in records), *also])
        if not records:
            return 0
        await self._mark_published([r.notice_id for r in records], now)
        return len(records)

    async def _mark_published(self, notice_ids: Sequence[str], now: datetime) -> None:
        async with self.sessions.begin() as session:
            # The copy was kept only until Kafka had it: kept longer, it would outlive the
            # crypto-shredding of its household (the inbox copy is wrapped; this is not).
            await session.execute(
                update(db.NoticeRecord)
                .where(db.NoticeRecord.notice_id.in_(notice_ids),
                       db.NoticeRecord.published_at.is_(None))
                .values(published_at=now, sealed="")
            )  # fmt: skip

    def _message(self, record: db.NoticeRecord) -> Message:
        key = pseudonym(self.pseudonym_secret, "recipient", record.recipient_id)
        return Message(self.topic, key, record.sealed.encode())
