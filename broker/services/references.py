"""A school quotes a notice's reference on the phone; the front door finds the notice.
Load -> decide -> audit.

A reference is the start of a notice's id (``broker.rules.school_notice.reference_for``). The
front door finds the notices it names in the households whose chronology it may read
(services/household_access.py), and reads on in that chronology; a reference to a household
it may not read finds nothing. Every look-up is audited: the caller, the reference and how
many notices it found, never which.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.adapters import audit, db
from broker.rules.school_notice import notice_id_start
from broker.services.household_access import may_read


@dataclass(frozen=True)
class Referenced:
    """A notice a reference names: which household's chronology holds it, and to whom."""

    notice_id: str
    household_id: str
    event_id: str
    recipient_id: str | None
    at: datetime


async def look_up(
    session: AsyncSession, caller_org: str, reference: str, now: datetime
) -> list[Referenced]:
    """The notices ``reference`` names in households ``caller_org`` may read; audited in the
    caller's transaction."""
    rows = await session.scalars(
        select(db.ChronologyEntry).where(
            db.ChronologyEntry.kind == "notice",
            db.ChronologyEntry.notice_id.startswith(notice_id_start(reference), autoescape=True),
        )
    )
    found = [
        Referenced(row.notice_id or "", row.household_id, row.event_id, row.recipient_id, row.at)
        for row in rows
        if await may_read(session, caller_org, row.household_id)
    ]
    await audit.append(session, "notice_reference_looked_up", caller_org,
                       f"reference:{reference.upper()}", {"found": len(found)}, now)  # fmt: skip
    return found
