"""Routing's decisions about one family, serialised across routers (ports.FamilyLocks).

On PostgreSQL each household and person is a transaction-level advisory lock, taken in one
statement in a fixed order (so two groups of events that share families never wait for each
other in a circle) and released at commit or rollback. After the wait, READ COMMITTED reads
see whatever the other router committed. On SQLite, where one writer writes at a time, the
unit of work takes the database's write lock: from then on its reads are the newest."""

from hashlib import blake2b

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from broker.ports import FamiliesNamed

# The first half of each lock's two-part key: two-part keys are a space of their own,
# apart from the audit chain's one-part lock (adapters/audit.py).
FAMILY_LOCK_SPACE = 0x5347  # "SG"

_HOLD = text(
    "SELECT count(pg_advisory_xact_lock(:space, k)) FROM unnest(CAST(:keys AS integer[])) AS k"
)
# Changes nothing, but a write takes SQLite's one write lock (waiting out the busy timeout).
_WRITE_LOCK = text("UPDATE audit_log SET seq = seq WHERE 0")


def lock_key(name: str) -> int:
    """A signed 32-bit key for a household or person (a clash only makes two families wait
    for each other)."""
    return int.from_bytes(blake2b(name.encode(), digest_size=4).digest(), "big", signed=True)


def lock_keys(families: FamiliesNamed) -> list[int]:
    """Every key of these families, in the one order all routers take them in."""
    names = [f"household:{h}" for h in families.households]
    names += [f"person:{p}" for p in families.people]
    return sorted({lock_key(name) for name in names})


class SqlFamilyLocks:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def hold(self, families: FamiliesNamed) -> None:
        keys = lock_keys(families)
        if not keys:
            return
        connection = await self._session.connection()
        if connection.dialect.name == "postgresql":
            await self._session.execute(_HOLD, {"space": FAMILY_LOCK_SPACE, "keys": keys})
        else:
            await self._session.execute(_WRITE_LOCK)
