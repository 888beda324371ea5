"""The directory's change log in SQL (the ``DirectoryChangeLog`` port): each write routing
makes to the directory (a move, a step-down's plans, a move's listed plans), logged with who
made it and audited, in the unit of work's transaction."""

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from broker.adapters import audit, db
from broker.ports import DirectoryChangeMade


class SqlDirectoryChangeLog:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(self, change: DirectoryChangeMade, at: datetime) -> None:
        fields = ",".join(change.fields)
        self._session.add(db.DirectoryChange(at=at, actor=change.actor, entity=change.entity,
                                             entity_id=change.entity_id, action=change.action,
                                             fields=fields))  # fmt: skip
        # Flushed now: the change log's id is the directory's version (the projections').
        await self._session.flush()
        await audit.append(self._session, "directory_changed", change.actor,
                           f"{change.entity}:{change.entity_id}",
                           {"action": change.action, "fields": fields}, at)  # fmt: skip
