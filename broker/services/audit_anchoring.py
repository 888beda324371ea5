"""Anchoring the audit chain outside the database: the router publishes the chain's head to
the audit topic whenever it has moved, so a log later cut short is found by ``audit-verify``."""

from dataclasses import dataclass

from broker.adapters.audit import Anchor
from broker.adapters.audit_anchors import anchor_message
from broker.ports import Publisher, UnitOfWorkFactory


@dataclass
class HeadAnchoring:
    units: UnitOfWorkFactory
    publisher: Publisher
    topic: str
    key: bytes  # the audit key, which tags the anchor as the broker's
    published: int = 0  # the entry last anchored by this process

    async def anchor(self) -> Anchor | None:
        """Publishes the head if it moved since this process last did; answers it."""
        async with self.units() as uow:
            head = await uow.audit.head()
        if head is None or head.seq <= self.published:
            return None
        anchor = Anchor(head.seq, head.hash, head.at)
        await self.publisher.publish([anchor_message(self.topic, anchor, self.key)])
        self.published = head.seq
        return anchor
