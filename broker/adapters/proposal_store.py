"""Directory changes proposed by events and held for a front door, in SQL (the
``ProposalStore`` port; services/proposals.py)."""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.adapters import db
from broker.ports import HeldProposal


class SqlProposalStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def hold(self, proposal: HeldProposal) -> None:
        self._session.add(db.DirectoryProposal(
            event_id=proposal.event_id, kind=proposal.kind, source_org=proposal.source_org,
            front_door=proposal.front_door, to_area=proposal.to_area,
            named_orgs=",".join(sorted(proposal.named_orgs)),
            sealed_event=proposal.sealed_event, status=proposal.status,
            proposed_at=proposal.proposed_at, decided_at=proposal.decided_at,
            decided_by=proposal.decided_by,
        ))  # fmt: skip
        await self._session.flush()

    async def get_for_update(self, event_id: str) -> HeldProposal | None:
        row = await self._session.get(db.DirectoryProposal, event_id, with_for_update=True)
        return None if row is None else _held(row)

    async def mark_decided(self, event_id: str, status: str, actor: str, at: datetime) -> None:
        row = await self._session.get(db.DirectoryProposal, event_id)
        if row is not None:
            row.status, row.decided_at, row.decided_by = status, at, actor

    async def with_status(
        self, status: str, *, front_door: str | None = None, limit: int | None = None
    ) -> list[HeldProposal]:
        table = db.DirectoryProposal
        query = select(table).where(table.status == status)
        if front_door is not None:
            query = query.where(table.front_door == front_door)
        # Pending ones have no decision time: ordered by when they were proposed.
        query = query.order_by(table.decided_at, table.proposed_at).limit(limit)
        return [_held(row) for row in await self._session.scalars(query)]


def _held(row: db.DirectoryProposal) -> HeldProposal:
    return HeldProposal(row.event_id, row.kind, row.source_org, row.front_door, row.to_area,
                        frozenset(filter(None, row.named_orgs.split(","))), row.sealed_event,
                        row.status, row.proposed_at, row.decided_at, row.decided_by)  # fmt: skip
