"""Anchoring the audit chain's head on the fakes: published when it has moved, once."""

from datetime import UTC, datetime

from broker.adapters.audit import Anchor
from broker.ports import AuditRecord
from broker.services.audit_anchoring import HeadAnchoring
from tests.fakes import FakePublisher, FakeUnitOfWork

AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
KEY = b"k" * 32


class TestHeadAnchoring:
    async def test_the_head_is_published_once_per_move(self) -> None:
        """Nothing while the log is empty; the head once it has entries; nothing more until
        another entry is kept."""
        uow, publisher = FakeUnitOfWork(), FakePublisher()
        anchoring = HeadAnchoring(lambda: uow, publisher, "audit", KEY)
        assert await anchoring.anchor() is None
        async with uow:
            await uow.audit.append(AuditRecord("notice_read", "gp", "n-1", {}), AT)
        anchor = await anchoring.anchor()
        assert await anchoring.anchor() is None
        assert anchor is not None
        assert anchor.seq == 1
        [message] = publisher.published
        assert Anchor.from_json(message.value, KEY) == anchor
