"""Refused requests, counted rather than logged one by one, and client assertions used.

An anonymous caller decides how often it is refused and what its request's path says, so a
refusal is recorded by the route's template (``/v1/recipients/{recipient_id}/notices``, never
the path sent) and counted per window, route, method, status and caller (an organisation's
id once its token holds, else ``anonymous``). The first refusal of its kind in a window
appends one ``access_refused`` entry to the audit log; the rest only raise its count.
"""

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.adapters import audit, db

WINDOW = timedelta(hours=1)
ANONYMOUS = "anonymous"
Count = db.RefusalCount


def window_of(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


async def record(
    sessions: async_sessionmaker[AsyncSession], route: str, method: str, status: int,
    caller: str, at: datetime,
) -> None:  # fmt: skip
    """Counts one refusal; the first of its kind in the window is audited."""
    window, route, method, caller = window_of(at), route[:200], method[:10], caller[:100]
    key = {"window_start": window, "route": route, "method": method, "status": status,
           "caller": caller}  # fmt: skip
    async with sessions.begin() as session:
        if await db.insert_once(session, Count, **key, count=1):
            details: audit.Details = {
                "status": status,
                "method": method,
                "counted_from": window.isoformat(),
            }
            await audit.append(session, "access_refused", caller, route, details, at)
            return
        match = [getattr(Count, name) == value for name, value in key.items()]
        await session.execute(update(Count).where(*match).values(count=Count.count + 1))


async def remember_assertion(session: AsyncSession, jti: str, expires: int) -> bool:
    """Records a client assertion's id until it expires; False when it was used before.
    Expired ids are forgotten on the way (nothing else reads them)."""
    now = datetime.now(UTC)
    await session.execute(delete(db.UsedAssertion).where(db.UsedAssertion.expires_at < now))
    until = datetime.fromtimestamp(expires, UTC)
    return await db.insert_once(session, db.UsedAssertion, jti=jti, expires_at=until)
