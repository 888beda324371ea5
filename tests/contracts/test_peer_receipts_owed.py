"""The receipts owed to a peer broker: a receipt on a notice about a transfer a peer pushed
here is owed once per transfer and kind, addressed to this broker's contact at the peer, and
only if its unit of work commits; a receipt on any other notice is owed to nobody."""

import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from broker.adapters import db
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.ports import UnitOfWork
from schemas.notices import NoticeHeader, NoticeType, SealedNotice, Severity
from tests.contracts.conftest import UnitsOfWork
from tests.contracts.test_notice_records import record
from tests.fakes import FakeUnitOfWork

AT = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
PEER, ADDRESSEE = "peer-north", "la-here:duty_manager"  # this broker's contact at the peer
ON = date(2026, 12, 9)


async def with_transfer(unit_of_work: UnitsOfWork) -> tuple[str, str]:
    """A transfer a peer pushed here and the front door's notice of it, and another notice;
    their ids."""
    about, other = record(1), record(2)
    async with unit_of_work() as uow:
        await uow.notice_records.add([about, other])
        await _transfer_pushed(uow, about.event_id)
    return about.notice_id, other.notice_id


async def _transfer_pushed(uow: UnitOfWork, transfer_id: str) -> None:
    if isinstance(uow, FakeUnitOfWork):
        uow.peer_receipts.transfers[transfer_id] = (PEER, ADDRESSEE)
        return
    assert isinstance(uow, SqlUnitOfWork)
    header = NoticeHeader(
        notice_id=uuid.UUID(transfer_id), event_id=uuid.uuid4(), household="h-1",
        recipient_id=ADDRESSEE, recipient_org="la-here", notice_type=NoticeType.TRANSFER,
        severity=Severity.HIGH, created_at=AT, deadline=AT + timedelta(days=1),
        recipient_key_id="k", signing_key_id="s",
    )  # fmt: skip
    sealed = SealedNotice(header=header.model_dump_json(), ciphertext="c", signature="s")
    uow.session.add(db.Organisation(id=PEER, name=PEER, kind="peer_broker", area="E08000001"))
    await uow.session.flush()
    uow.session.add(db.PeerTransfer(transfer_id=transfer_id, peer_org=PEER, digest="d" * 64,
                                    sealed=sealed.model_dump_json(), received_at=AT))  # fmt: skip


async def owed(unit_of_work: UnitsOfWork) -> list[tuple[str, str, str, str, date | None]]:
    """What is owed, as (transfer, kind, peer, addressee, conference date), in order."""
    async with unit_of_work() as uow:
        if isinstance(uow, FakeUnitOfWork):
            rows = [(r.transfer_id, r.receipt, r.peer_org, r.recipient_id, r.conference_on)
                    for r in uow.peer_receipts.committed.values()]  # fmt: skip
        else:
            assert isinstance(uow, SqlUnitOfWork)
            r = db.PeerReceipt
            found = await uow.session.execute(
                select(r.transfer_id, r.receipt, r.peer_org, r.recipient_id, r.conference_on)
            )
            rows = [tuple(row) for row in found]  # type: ignore[misc]
    return sorted(rows)


class TestReceiptsOwed:
    async def test_owed_once_per_transfer_and_kind(self, unit_of_work: UnitsOfWork) -> None:
        """The first acknowledgement is owed, a second is not; a conference is owed beside
        it with its date; each addressed to this broker's contact at the peer."""
        about, _ = await with_transfer(unit_of_work)
        async with unit_of_work() as uow:
            assert await uow.peer_receipts.owe(about, "acknowledged", AT)
            assert not await uow.peer_receipts.owe(about, "acknowledged", AT)
        async with unit_of_work() as uow:
            assert not await uow.peer_receipts.owe(about, "acknowledged", AT)
            assert await uow.peer_receipts.owe(about, "transfer_in_conference", AT, ON)
        transfer = record(1).event_id
        assert await owed(unit_of_work) == [
            (transfer, "acknowledged", PEER, ADDRESSEE, None),
            (transfer, "transfer_in_conference", PEER, ADDRESSEE, ON),
        ]

    async def test_a_notice_about_no_transfer_owes_nothing(self, unit_of_work: UnitsOfWork) -> None:
        """Another notice, or one not recorded here: nothing owed to anyone."""
        _, other = await with_transfer(unit_of_work)
        async with unit_of_work() as uow:
            assert not await uow.peer_receipts.owe(other, "acknowledged", AT)
            assert not await uow.peer_receipts.owe(str(uuid.uuid4()), "rejected", AT)
        assert await owed(unit_of_work) == []

    async def test_kept_only_if_the_unit_of_work_commits(self, unit_of_work: UnitsOfWork) -> None:
        """Owed in a unit of work that fails: not owed, and owed again by the next."""
        about, _ = await with_transfer(unit_of_work)
        try:
            async with unit_of_work() as uow:
                assert await uow.peer_receipts.owe(about, "rejected", AT)
                raise RuntimeError("the receipt's own transaction fails")
        except RuntimeError:
            pass
        assert await owed(unit_of_work) == []
        async with unit_of_work() as uow:
            assert await uow.peer_receipts.owe(about, "rejected", AT)
        assert [kind for _, kind, *_ in await owed(unit_of_work)] == ["rejected"]
