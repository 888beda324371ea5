"""Retention: a household's stored notices are deleted by deleting its data key."""

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from broker.adapters import audit
from broker.ports import DataKeyStore
from broker.pseudonyms import pseudonym


async def shred_household(
    session: AsyncSession, keys: DataKeyStore, secret: bytes, household_id: str, actor: str
) -> bool:
    """Makes every notice stored for the household unreadable, for good; audited."""
    household = pseudonym(secret, "household", household_id)
    shredded = keys.shred(household)
    await audit.append(session, "household_shredded", actor, household,
                       {"had_a_key": shredded}, datetime.now(UTC))  # fmt: skip
    return shredded
