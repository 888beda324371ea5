"""Who may read a household's chronology: load -> decide -> audit.

A front door reads the chronology of a household that lives in its area, lived there before,
or is moving to it (a transfer notice to it that it has not rejected). Any other caller is
refused, and the refusal audited; a household whose data was shredded, with nothing kept for
it since, answers that it is gone. Every read, granted or not, leaves an audit entry naming
the caller and the household id: never what was read.
"""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.adapters import audit, chronology, db
from broker.adapters.data_keys import household_shredded
from broker.ports import DataKeyStore
from broker.rules.family import OrgKind
from schemas.notices import NoticeType


class Refusal(StrEnum):
    NOT_YOURS = "household_not_in_callers_area"
    SHREDDED = "household_shredded"


STATUS = {Refusal.NOT_YOURS: 403, Refusal.SHREDDED: 410}  # what the API answers to each


async def read_chronology(
    session: AsyncSession, data_keys: DataKeyStore, secret: bytes, caller_org: str,
    household_id: str, now: datetime,
) -> list[chronology.ChronologyLine] | Refusal:  # fmt: skip
    """The chronology, or why it is refused; audited either way, in the caller's transaction
    (which must commit the audit entry even when the answer is a refusal)."""
    refusal = await _refusal(session, data_keys, secret, caller_org, household_id)
    if refusal is not None:
        await audit.append(session, "access_refused", caller_org, household_id,
                           {"status": STATUS[refusal], "reason": refusal.value,
                            "read": "chronology"}, now)  # fmt: skip
        return refusal
    await audit.append(session, "chronology_accessed", caller_org, household_id, {}, now)
    return await chronology.chronology_of(session, household_id)


async def _refusal(
    session: AsyncSession, data_keys: DataKeyStore, secret: bytes, caller_org: str,
    household_id: str,
) -> Refusal | None:  # fmt: skip
    # Authorised first: a front door outside the family's areas learns nothing of it, not
    # even that its data was shredded.
    if not await may_read(session, caller_org, household_id):
        return Refusal.NOT_YOURS
    # Shredded and nothing kept since: a household that events have reached again after its
    # shredding has a chronology again, and its front door must see it.
    if household_shredded(data_keys, secret, household_id):
        return Refusal.SHREDDED
    return None


async def may_read(session: AsyncSession, caller_org: str, household_id: str) -> bool:
    org = await session.get(db.Organisation, caller_org)
    if org is None or org.kind != OrgKind.FRONT_DOOR:
        return False
    if org.area in await household_areas(session, household_id):
        return True
    return await _transfer_open_to(session, caller_org, household_id)


async def household_areas(session: AsyncSession, household_id: str) -> set[str]:
    """The household's current area and every area it lived in before."""
    home = await session.get(db.Household, household_id)
    before = await session.scalars(
        select(db.HouseholdArea.area).where(db.HouseholdArea.household_id == household_id)
    )
    return set(before) | ({home.area} if home else set())


async def _transfer_open_to(session: AsyncSession, org_id: str, household_id: str) -> bool:
    """A transfer notice about this household, to this organisation, that it did not reject:
    the receiving front door needs the history before the move is confirmed."""
    query = (
        select(db.NoticeRecord.notice_id)
        .join(db.ChronologyEntry, db.ChronologyEntry.notice_id == db.NoticeRecord.notice_id)
        .where(db.ChronologyEntry.household_id == household_id,
               db.NoticeRecord.notice_type == NoticeType.TRANSFER.value,
               db.NoticeRecord.recipient_org == org_id,
               db.NoticeRecord.rejected_at.is_(None))
        .limit(1)
    )  # fmt: skip
    return (await session.scalar(query)) is not None
