"""A school quotes a notice's reference on the phone; the front door finds the notice.
Load -> decide -> audit.

A reference is the start of a notice's id (``broker.rules.school_notice.reference_for``). The
front door finds the notices it names in the households whose chronology it may read
(services/household_access.py), and reads on in that chronology; a reference to a household
it may not read finds nothing. Every look-up is audited: the caller, the reference and how
many notices it found, never which.
"""

from datetime import datetime

from broker.ports import AuditRecord, ChronologyNotice, UnitOfWork
from broker.rules.school_notice import notice_id_start
from broker.services.household_access import may_read

Referenced = ChronologyNotice  # a notice a reference names: which household holds it, to whom


async def look_up(
    uow: UnitOfWork, caller_org: str, reference: str, now: datetime
) -> list[Referenced]:
    """The notices ``reference`` names in households ``caller_org`` may read; audited in the
    caller's unit of work."""
    named = await uow.chronologies.notices_starting(notice_id_start(reference))
    found = [notice for notice in named if await may_read(uow, caller_org, notice.household_id)]
    await uow.audit.append(AuditRecord("notice_reference_looked_up", caller_org,
                                       f"reference:{reference.upper()}",
                                       {"found": len(found)}), now)  # fmt: skip
    return found
