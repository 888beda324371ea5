"""Anchoring the audit chain outside the database: the router publishes the chain's head to
the audit topic whenever it has moved, so a log later cut short is found by ``audit-verify``."""

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.adapters import audit
from broker.adapters.audit_anchors import anchor_message
from broker.adapters.kafka import KafkaPublisher


@dataclass
class HeadAnchoring:
    sessions: async_sessionmaker[AsyncSession]
    publisher: KafkaPublisher
    topic: str
    key: bytes  # the audit key, which tags the anchor as the broker's
    published: int = 0  # the entry last anchored by this process

    async def anchor(self) -> audit.Anchor | None:
        """Publishes the head if it moved since this process last did; answers it."""
        async with self.sessions() as session:
            head = await audit.head(session)
        if head is None or head.seq <= self.published:
            return None
        await self.publisher.publish([anchor_message(self.topic, head, self.key)])
        self.published = head.seq
        return head
