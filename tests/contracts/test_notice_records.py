"""The notice records port: records read back as added, and each receipt recorded once,
an acknowledgement closing its chain, a rejection marking the notice to be sent on."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from broker.ports import NoticeRecordView
from tests.contracts.conftest import UnitsOfWork

AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
LATER = AT + timedelta(hours=1)


def record(n: int, chain: int | None = None, recipient: str = "gp-1:lead") -> NoticeRecordView:
    notice_id = f"00000000-0000-4000-8000-{n:012d}"
    chain_id = f"00000000-0000-4000-8000-{(chain or n):012d}"
    return NoticeRecordView(
        notice_id=notice_id, chain_id=chain_id, event_id=f"e0000000-0000-4000-8000-{n:012d}",
        household="h-1", recipient_id=recipient, recipient_org=recipient.split(":")[0],
        notice_type="gp_information", severity="low", rule_id="crisis", created_at=AT,
        deadline=AT + timedelta(days=3), escalate_to='[["la-1", "front_door"]]',
        reroute_to='["la-1", "front_door"]', body="wrapped body",
        follows=None if chain is None else chain_id, level=0 if chain is None else 1,
    )  # fmt: skip


class TestNoticeRecords:
    async def test_a_record_is_read_back_as_added(self, unit_of_work: UnitsOfWork) -> None:
        """Every field of a committed record comes back unchanged, alone or with others."""
        async with unit_of_work() as uow:
            await uow.notice_records.add([record(1), record(2, chain=1, recipient="la-1:fd")])
        async with unit_of_work() as uow:
            assert await uow.notice_records.get(record(1).notice_id) == record(1)
            both = await uow.notice_records.of(
                [record(2).notice_id, "nothing", record(1).notice_id]
            )
            assert await uow.notice_records.chain_recipients(record(1).chain_id) == {
                "gp-1:lead", "la-1:fd"}  # fmt: skip
        assert both == {record(1).notice_id: record(1),
                        record(2).notice_id: record(2, chain=1, recipient="la-1:fd")}  # fmt: skip

    async def test_a_rule_id_of_any_length_is_kept(self, unit_of_work: UnitsOfWork) -> None:
        """Several rules deciding one notice name them all: a combination longer than the old
        100-character column is stored and read back whole (PostgreSQL refused it, and the
        router crashed on the event again and again)."""
        rules = "crisis.child.fallback+crisis.front_door+repeated_crises.front_door+"
        long = replace(record(16), rule_id=rules + "strategy_discussion.front_door.out_of_hours")
        assert len(long.rule_id) > 100
        async with unit_of_work() as uow:
            await uow.notice_records.add([long])
        async with unit_of_work() as uow:
            assert await uow.notice_records.get(long.notice_id) == long

    async def test_an_events_own_notices_oldest_first(self, unit_of_work: UnitsOfWork) -> None:
        """The notices an event produced, by time then id, without their follow-ups."""
        later = replace(record(13), event_id=record(12).event_id, created_at=LATER)
        same_time = replace(record(14), event_id=record(12).event_id)
        follow_up = replace(record(15, chain=12), event_id=record(12).event_id)
        async with unit_of_work() as uow:
            await uow.notice_records.add([later, follow_up, same_time, record(12)])
        async with unit_of_work() as uow:
            firsts = await uow.notice_records.firsts_of_event(record(12).event_id)
        assert firsts == [record(12), same_time, later]

    async def test_delivery_and_viewing_are_recorded_once(self, unit_of_work: UnitsOfWork) -> None:
        """The first delivery and the first view are kept; a second answers False."""
        async with unit_of_work() as uow:
            await uow.notice_records.add([record(3)])
        async with unit_of_work() as uow:
            assert await uow.notice_records.mark_delivered(record(3).notice_id, "inbox", AT)
            assert await uow.notice_records.mark_viewed(record(3).notice_id, AT)
        async with unit_of_work() as uow:
            assert not await uow.notice_records.mark_delivered(
                record(3).notice_id, "webhook", LATER
            )
            assert not await uow.notice_records.mark_viewed(record(3).notice_id, LATER)
            kept = await uow.notice_records.get(record(3).notice_id)
        assert kept == replace(record(3), delivered_at=AT, delivered_via="inbox", viewed_at=AT)

    async def test_an_acknowledgement_closes_the_chain(self, unit_of_work: UnitsOfWork) -> None:
        """Acknowledging closes every open notice of its chain, and nothing else."""
        async with unit_of_work() as uow:
            await uow.notice_records.add([record(4), record(5, chain=4), record(6)])
        async with unit_of_work() as uow:
            assert await uow.notice_records.mark_acknowledged(record(5).notice_id, AT)
        async with unit_of_work() as uow:
            found = await uow.notice_records.of([record(n).notice_id for n in (4, 5, 6)])
        assert [found[record(n).notice_id].closed_at for n in (4, 5, 6)] == [AT, AT, None]
        assert found[record(5).notice_id].acknowledged_at == AT

    async def test_a_rejection_waits_to_be_sent_on(self, unit_of_work: UnitsOfWork) -> None:
        """A rejection keeps its (wrapped) reason and marks the notice for the timer; it
        cannot follow an acknowledgement, nor an acknowledgement follow it."""
        async with unit_of_work() as uow:
            await uow.notice_records.add([record(7), record(8)])
            assert await uow.notice_records.mark_acknowledged(record(8).notice_id, AT)
        async with unit_of_work() as uow:
            assert await uow.notice_records.mark_rejected(record(7).notice_id, AT, "why")
            assert not await uow.notice_records.mark_rejected(record(8).notice_id, AT, "why")
            assert not await uow.notice_records.mark_acknowledged(record(7).notice_id, LATER)
        async with unit_of_work() as uow:
            kept = await uow.notice_records.get(record(7).notice_id)
        assert kept == replace(record(7), rejected_at=AT, rejection_reason="why",
                               reroute_pending_since=AT)  # fmt: skip

    async def test_an_unknown_notice_records_nothing(self, unit_of_work: UnitsOfWork) -> None:
        """No record, no receipt."""
        async with unit_of_work() as uow:
            assert await uow.notice_records.get(record(9).notice_id) is None
            assert not await uow.notice_records.mark_viewed(record(9).notice_id, AT)

    async def test_a_failed_unit_of_work_leaves_nothing(self, unit_of_work: UnitsOfWork) -> None:
        """An exception inside the unit of work rolls back its records and receipts."""
        async with unit_of_work() as uow:
            await uow.notice_records.add([record(10)])
        with pytest.raises(LookupError):  # noqa: PT012 - the failure must be inside the unit
            async with unit_of_work() as uow:
                await uow.notice_records.add([record(11)])
                await uow.notice_records.mark_viewed(record(10).notice_id, AT)
                raise LookupError("the service failed after recording")
        async with unit_of_work() as uow:
            assert await uow.notice_records.get(record(11).notice_id) is None
            assert await uow.notice_records.get(record(10).notice_id) == record(10)
