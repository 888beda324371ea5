"""Retention: a household's stored notices are deleted by deleting its data key."""

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.adapters import audit
from broker.adapters.data_keys import FileDataKeys
from broker.pseudonyms import pseudonym


async def shred_household(
    session: AsyncSession, keys: FileDataKeys, secret: bytes, household_id: str, actor: str
) -> bool:
    """Makes every notice stored for the household unreadable, for good; audited."""
    household = pseudonym(secret, "household", household_id)
    shredded = keys.shred(household)
    await audit.append(session, "household_shredded", actor, household,
                       {"had_a_key": shredded}, datetime.now(UTC))  # fmt: skip
    return shredded


async def is_shredded(session: AsyncSession, secret: bytes, household_id: str) -> bool:
    """Whether the household's data was shredded. The one place that answers it: today from
    the audit log's record of the shredding (a household with no notices yet has no key
    either, so a missing key file does not tell); a tombstone table can answer here instead."""
    household = pseudonym(secret, "household", household_id)
    query = select(audit.AuditEntry.seq).where(
        audit.AuditEntry.action == "household_shredded",
        audit.AuditEntry.subject_ref == household,
    )
    return (await session.scalar(query.limit(1))) is not None
