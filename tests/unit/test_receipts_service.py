"""The receipts service on the fakes: each receipt once, an acknowledgement closing the
chain, a rejection sent on only where someone is left to take it, and contradictions
refused."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from broker.ports import AuditRecord, NoticeRecordView
from broker.rules.family import Addressee, ContactRole
from broker.services import notice_records, receipts
from broker.services.inbox import NoticeNotFound
from schemas.notices import NoticeBody, Receipt
from tests.fakes import FakeDataKeys, FakeUnitOfWork

AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
SCHOOL = "school-1:designated_safeguarding_lead"
FRONT_DOOR = Addressee("la-1", ContactRole.DUTY_MANAGER)
NOTICE = UUID("00000000-0000-4000-8000-000000000001")
BODY = NoticeBody(summary="s", event_type="ed_attendance", occurred_at=AT, source_org="a-1")


async def a_notice(keys: FakeDataKeys, *others: NoticeRecordView) -> FakeUnitOfWork:
    """A school's notice (re-routed to the front door if rejected), and any others."""
    notice_id = str(NOTICE)
    kept = notice_records.wrap(keys, "h-1", notice_id, "body", BODY.model_dump_json())
    record = NoticeRecordView(
        notice_id=notice_id, chain_id=notice_id, event_id="e-1", household="h-1",
        recipient_id=SCHOOL, recipient_org="school-1", notice_type="school_information",
        severity="medium", rule_id="r", created_at=AT, deadline=AT + timedelta(days=1),
        escalate_to="[]", reroute_to='["la-1", "duty_manager"]', body=kept,
    )  # fmt: skip
    uow = FakeUnitOfWork()
    uow.recipients.contacts[FRONT_DOOR] = "la-1:duty_manager"
    async with uow:
        await uow.notice_records.add([record, *others])
    return uow


async def receive(
    uow: FakeUnitOfWork, receipt: Receipt, keys: FakeDataKeys, reason: str | None = None,
    at: datetime = AT,
) -> receipts.Recorded:  # fmt: skip
    async with uow:
        return await receipts.record(uow, SCHOOL, NOTICE, receipt, at, keys, reason)


class TestRecord:
    async def test_a_second_view_is_not_the_first(self) -> None:
        """Viewing twice keeps the first time and audits it once."""
        keys = FakeDataKeys()
        uow = await a_notice(keys)
        first = await receive(uow, Receipt.VIEWED, keys)
        second = await receive(uow, Receipt.VIEWED, keys, at=AT + timedelta(hours=1))
        assert (first.first, second.first, second.at) == (True, False, AT)
        assert await uow.audit.entries_for(str(NOTICE)) == [
            AuditRecord("notice_receipt", SCHOOL, str(NOTICE), {"receipt": "viewed"})
        ]

    async def test_an_acknowledgement_closes_the_chain(self) -> None:
        """Acknowledging stops the clock for every notice of the chain."""
        keys = FakeDataKeys()
        uow = await a_notice(keys)
        done = await receive(uow, Receipt.ACKNOWLEDGED, keys)
        kept = await uow.notice_records.get(str(NOTICE))
        assert done.first
        assert kept is not None
        assert (kept.acknowledged_at, kept.closed_at) == (AT, AT)

    async def test_a_rejection_is_sent_on_with_its_reason_kept_sealed(self) -> None:
        """A first rejection marks the notice for the timer, names the id it will carry, keeps
        the reason under the household's key and audits the receipt without the reason."""
        keys = FakeDataKeys()
        uow = await a_notice(keys)
        done = await receive(uow, Receipt.REJECTED, keys, reason="  not our pupil ")
        kept = await uow.notice_records.get(str(NOTICE))
        assert kept is not None
        assert kept.reroute_pending_since == AT
        assert kept.rejection_reason is not None
        assert notice_records.unwrap(keys, "h-1", str(NOTICE), "rejection_reason",
                                     kept.rejection_reason) == "not our pupil"  # fmt: skip
        assert done.rerouted_as is not None
        [entry] = await uow.audit.entries_for(str(NOTICE))
        assert entry.details == {"receipt": "rejected", "rerouted_as": done.rerouted_as}

    async def test_a_rejection_with_nobody_to_go_to_is_refused(self) -> None:
        """With no front door contact, or only one that had the notice already, the
        rejection is refused and the notice stays open."""
        keys = FakeDataKeys()
        uow = await a_notice(keys)
        uow.recipients.contacts.clear()
        with pytest.raises(receipts.ReceiptRefused):
            await receive(uow, Receipt.REJECTED, keys, reason="not ours")
        had = replace(await _only(uow), notice_id="n-2", recipient_id="la-1:duty_manager")
        uow = await a_notice(keys, had)
        with pytest.raises(receipts.ReceiptRefused):
            await receive(uow, Receipt.REJECTED, keys, reason="not ours")
        assert (await _only(uow)).rejected_at is None

    @pytest.mark.parametrize(
        ("first", "then", "reason"),
        [(Receipt.REJECTED, Receipt.ACKNOWLEDGED, None),
         (Receipt.ACKNOWLEDGED, Receipt.REJECTED, "late")],
    )  # fmt: skip
    async def test_contradicting_receipts_are_refused(
        self, first: Receipt, then: Receipt, reason: str | None
    ) -> None:
        """A notice is either acknowledged or rejected, never both."""
        keys = FakeDataKeys()
        uow = await a_notice(keys)
        await receive(uow, first, keys, reason="not ours")
        with pytest.raises(receipts.ReceiptRefused):
            await receive(uow, then, keys, reason=reason)

    async def test_a_rejection_needs_a_reason(self) -> None:
        """A blank reason is refused."""
        keys = FakeDataKeys()
        with pytest.raises(receipts.ReceiptRefused):
            await receive(await a_notice(keys), Receipt.REJECTED, keys, reason="  ")

    async def test_another_recipients_notice_is_not_found(self) -> None:
        """A receipt on a notice in another inbox is a 404."""
        keys = FakeDataKeys()
        uow = await a_notice(keys)
        async with uow:
            with pytest.raises(NoticeNotFound):
                await receipts.record(uow, "gp-1:lead", NOTICE, Receipt.VIEWED, AT, keys)


class TestRecordDelivered:
    async def test_delivery_is_recorded_and_audited_once(self) -> None:
        """The first fetch or webhook 2xx is the delivery; a second is not."""
        keys = FakeDataKeys()
        uow = await a_notice(keys)
        async with uow:
            assert await receipts.record_delivered(uow, str(NOTICE), "inbox", AT)
            assert not await receipts.record_delivered(uow, str(NOTICE), "webhook", AT)
        assert await uow.audit.entries_for(str(NOTICE)) == [AuditRecord(
            "notice_receipt", "inbox", str(NOTICE), {"receipt": "delivered", "channel": "inbox"}
        )]  # fmt: skip


async def _only(uow: FakeUnitOfWork) -> NoticeRecordView:
    found = await uow.notice_records.get(str(NOTICE))
    assert found is not None
    return found
