"""Who may read a household's chronology: load -> decide -> audit.

A front door reads the chronology of a household that lives in its area, lived there before,
or is moving to it (a transfer notice to it that it has not rejected). Any other caller is
refused, and the refusal audited; a household whose data was shredded, with nothing kept for
it since, answers that it is gone. Every read, granted or not, leaves an audit entry naming
the caller and the household id: never what was read.
"""

from datetime import datetime
from enum import StrEnum

from broker.adapters.data_keys import household_shredded
from broker.ports import AuditRecord, ChronologyLine, DataKeyStore, UnitOfWork


class Refusal(StrEnum):
    NOT_YOURS = "household_not_in_callers_area"
    SHREDDED = "household_shredded"


STATUS = {Refusal.NOT_YOURS: 403, Refusal.SHREDDED: 410}  # what the API answers to each


async def read_chronology(
    uow: UnitOfWork, data_keys: DataKeyStore, secret: bytes, caller_org: str,
    household_id: str, now: datetime,
) -> list[ChronologyLine] | Refusal:  # fmt: skip
    """The chronology, or why it is refused; audited either way, in the caller's unit of
    work (which must commit the audit entry even when the answer is a refusal)."""
    refusal = await _refusal(uow, data_keys, secret, caller_org, household_id)
    if refusal is not None:
        await uow.audit.append(AuditRecord("access_refused", caller_org, household_id,
                                           {"status": STATUS[refusal], "reason": refusal.value,
                                            "read": "chronology"}), now)  # fmt: skip
        return refusal
    await uow.audit.append(AuditRecord("chronology_accessed", caller_org, household_id, {}), now)
    return await uow.chronologies.of_household(household_id)


async def _refusal(
    uow: UnitOfWork, data_keys: DataKeyStore, secret: bytes, caller_org: str,
    household_id: str,
) -> Refusal | None:  # fmt: skip
    # Authorised first: a front door outside the family's areas learns nothing of it, not
    # even that its data was shredded.
    if not await may_read(uow, caller_org, household_id):
        return Refusal.NOT_YOURS
    # Shredded and nothing kept since: a household that events have reached again after its
    # shredding has a chronology again, and its front door must see it.
    if household_shredded(data_keys, secret, household_id):
        return Refusal.SHREDDED
    return None


async def may_read(uow: UnitOfWork, caller_org: str, household_id: str) -> bool:
    """Whether a front door may read the household's chronology: it lives, lived, or is
    moving (a transfer notice to this front door that it did not reject) in its area."""
    area = await uow.recipients.front_door_area(caller_org)
    if area is None:
        return False
    if area in await uow.recipients.household_areas(household_id):
        return True
    # The receiving front door needs the history before the move is confirmed.
    return await uow.chronologies.transfer_open_to(caller_org, household_id)
