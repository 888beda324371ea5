"""What event acceptance (``broker.services.acceptance``) reads and keeps, in SQL: producers'
keys and permissions from the directory, the events accepted before, their audited receipts.
Each method is its own transaction, as acceptance needs them apart: the receipts are
committed before the events are published, and the record of acceptance after."""

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.adapters import audit, db, event_receipts
from broker.adapters.directory import SqlDirectory
from schemas.events import Event, EventType

log = structlog.get_logger(__name__)


class SqlAcceptanceRecords:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def publishing_key(
        self, org_id: str, key_id: str, event_type: EventType, at: datetime
    ) -> Ed25519PublicKey:
        async with self._sessions() as session:
            directory = SqlDirectory(session)
            key = await directory.signing_key(org_id, key_id, at)
            await directory.check_may_publish(org_id, event_type)
        return key

    async def accepted_digests(self, event_ids: Sequence[UUID]) -> dict[UUID, str]:
        wanted = sorted({str(i) for i in event_ids})
        async with self._sessions() as session:
            rows = await session.execute(
                select(db.AcceptedEvent.event_id, db.AcceptedEvent.digest).where(
                    db.AcceptedEvent.event_id.in_(wanted)
                )
            )
            return {UUID(event_id): digest for event_id, digest in rows}

    async def audit_receipts(self, events: Sequence[Event], at: datetime) -> None:
        async with self._sessions.begin() as session:
            for event in events:
                await event_receipts.audit_receipt(session, event, event.source_org, "gateway", at)

    async def remember(self, events: Sequence[Event], digests: Sequence[str], at: datetime) -> None:
        for event, digest in zip(events, digests, strict=True):
            try:
                async with self._sessions.begin() as session:
                    session.add(db.AcceptedEvent(
                        event_id=str(event.event_id), digest=digest, accepted_at=at
                    ))  # fmt: skip
            except IntegrityError:
                log.info("event_accepted_concurrently", event_id=str(event.event_id))

    async def audit_rejection(self, subject: str, reason: str, at: datetime) -> None:
        async with self._sessions.begin() as session:
            await audit.append(session, "event_rejected", "gateway", subject,
                               {"reason": reason}, at)  # fmt: skip
