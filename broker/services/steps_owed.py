"""The next steps a notice's first reader owes, recorded in the transaction that seals it
(routing, and the re-routing of a rejected notice): see broker/rules/next_steps.py."""

from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from broker.adapters import db
from broker.rules.deadlines import OFFICE_HOURS, WorkingHours
from broker.rules.next_steps import steps_owed
from schemas.notices import NoticeHeader


def owe(
    session: AsyncSession,
    header: NoticeHeader,
    facts: Mapping[str, str | int | bool],
    nation: str = "ENG",
    hours: WorkingHours = OFFICE_HOURS,
) -> None:
    """Records the next steps the notice's reader owes (none for most notices)."""
    for step, due in steps_owed(header.notice_type, header.created_at, facts, nation,
                                hours).items():  # fmt: skip
        session.add(db.NoticeMilestone(notice_id=str(header.notice_id), step=step.value,
                                       chain_id=str(header.notice_id), due_at=due))  # fmt: skip
