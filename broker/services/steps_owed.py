"""The next steps a notice's first reader owes, recorded in the unit of work that seals it
(routing, and the re-routing of a rejected notice): see broker/rules/next_steps.py."""

from collections.abc import Mapping

from broker.ports import StepOwed, UnitOfWork
from broker.rules.deadlines import OFFICE_HOURS, WorkingHours
from broker.rules.next_steps import steps_owed
from schemas.notices import NoticeHeader


async def owe(
    uow: UnitOfWork,
    header: NoticeHeader,
    facts: Mapping[str, str | int | bool],
    nation: str = "ENG",
    hours: WorkingHours = OFFICE_HOURS,
) -> None:
    """Records the next steps the notice's reader owes (none for most notices)."""
    await uow.steps_owed.add(owed(header, facts, nation, hours))


def owed(
    header: NoticeHeader,
    facts: Mapping[str, str | int | bool],
    nation: str = "ENG",
    hours: WorkingHours = OFFICE_HOURS,
) -> list[StepOwed]:
    """The next steps the notice's reader owes, each due by the rules' deadline."""
    notice_id = str(header.notice_id)
    return [StepOwed(notice_id, step.value, notice_id, due)
            for step, due in steps_owed(header.notice_type, header.created_at, facts, nation,
                                        hours).items()]  # fmt: skip
