"""Transfers from peer brokers in SQL (``broker.services.peer_transfers``): the peer's signing
keys from the directory, the transfers kept by id, and their audit entries. Each method is its
own transaction: a transfer is kept (and its receipt audited) before the gateway answers."""

from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.adapters import audit, db
from broker.adapters.directory import SqlDirectory
from broker.errors import EventNotPermitted
from broker.ports import AuditAction
from broker.rules.family import OrgKind
from broker.services.peer_transfers import Pending


class SqlPeerTransfers:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def peer_key(self, org_id: str, key_id: str, at: datetime) -> Ed25519PublicKey:
        async with self._sessions() as session:
            org = await session.get(db.Organisation, org_id)
            if org is None or org.kind != OrgKind.PEER_BROKER:
                raise EventNotPermitted("only a peer broker may push transfers here")
            return await SqlDirectory(session).signing_key(org_id, key_id, at)

    async def kept_digest(self, transfer_id: str) -> str | None:
        async with self._sessions() as session:
            kept = await session.get(db.PeerTransfer, transfer_id)
            return kept.digest if kept else None

    async def keep(
        self, transfer_id: str, peer_org: str, digest: str, sealed: str, at: datetime
    ) -> bool:
        async with self._sessions.begin() as session:
            kept = await db.insert_once(session, db.PeerTransfer, transfer_id=transfer_id,
                                        peer_org=peer_org, digest=digest, sealed=sealed,
                                        received_at=at, applied_at=None)  # fmt: skip
            if kept:
                await audit.append(session, "peer_transfer_received", peer_org, transfer_id,
                                   {"path": "peer_gateway"}, at)  # fmt: skip
        return kept

    async def pending(self, limit: int) -> list[Pending]:
        query = (
            select(db.PeerTransfer.transfer_id, db.PeerTransfer.peer_org, db.PeerTransfer.sealed)
            .where(db.PeerTransfer.applied_at.is_(None))
            .order_by(db.PeerTransfer.received_at)
            .limit(limit)
        )
        async with self._sessions() as session:
            return [Pending(*row) for row in (await session.execute(query)).all()]

    async def applied(
        self, transfer_id: str, peer_org: str, at: datetime, refused: str | None = None
    ) -> None:
        async with self._sessions.begin() as session:
            marked = await session.execute(
                update(db.PeerTransfer)
                .where(db.PeerTransfer.transfer_id == transfer_id,
                       db.PeerTransfer.applied_at.is_(None))
                .values(applied_at=at)
            )  # fmt: skip
            if marked.rowcount:  # type: ignore[attr-defined]
                action: AuditAction = (
                    "peer_transfer_refused" if refused else "peer_transfer_applied"
                )
                details = {"reason": refused} if refused else {}
                await audit.append(session, action, "router", transfer_id, details, at)
