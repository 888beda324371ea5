"""A notice's receipts, each recorded once, in its own right.

Delivered is the transport's receipt (the recipient's system fetched the notice, or its
webhook answered 2xx); viewed, acknowledged and rejected come from people. Only an
acknowledgement stops the clock: it closes the notice's whole escalation chain. A rejection
closes that one notice and marks it to be sent on to the front door concerned, which the
router's timer does (follow_ups.reroute_pending): the inbox holds no key to sign a notice.
"""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from broker.errors import BrokerError
from broker.ports import AuditAction, AuditRecord, DataKeyStore, NoticeRecordView, UnitOfWork
from broker.rules.escalation import onward_from_front_door
from broker.services import notice_records
from broker.services.follow_ups import reroute_id
from broker.services.inbox import NoticeNotFound
from schemas.notices import Receipt


class ReceiptRefused(BrokerError):
    """A receipt that contradicts an earlier one (acknowledging a rejected notice, say)."""


@dataclass(frozen=True)
class Recorded:
    notice_id: str
    receipt: Receipt
    at: datetime
    first: bool
    rerouted_as: str | None = None


async def record_delivered(uow: UnitOfWork, notice_id: str, channel: str, at: datetime) -> bool:
    """The recipient's system has the notice; answers whether this was the first time."""
    first = await uow.notice_records.mark_delivered(notice_id, channel, at)
    if first:
        details = {"receipt": Receipt.DELIVERED.value, "channel": channel}
        await uow.audit.append(AuditRecord("notice_receipt", channel, notice_id, details), at)
    return first


async def record(
    uow: UnitOfWork,
    recipient_id: str,
    notice_id: UUID,
    receipt: Receipt,
    at: datetime,
    data_keys: DataKeyStore,
    reason: str | None = None,
) -> Recorded:
    """Records a receipt from the recipient's people (viewed, acknowledged, rejected)."""
    notice = await _own(uow, recipient_id, notice_id)
    match receipt:
        case Receipt.VIEWED:
            if not await uow.notice_records.mark_viewed(notice.notice_id, at):
                return Recorded(notice.notice_id, receipt, notice.viewed_at or at, first=False)
            return await _recorded(uow, notice, receipt, at, first=True)
        case Receipt.ACKNOWLEDGED:
            return await _acknowledge(uow, notice, at)
        case Receipt.REJECTED:
            return await _reject(uow, notice, _reason(reason), at, data_keys)
        case Receipt.DELIVERED:
            raise ReceiptRefused("delivery is recorded when the notice is fetched")


async def _acknowledge(uow: UnitOfWork, notice: NoticeRecordView, at: datetime) -> Recorded:
    if notice.rejected_at is not None:
        raise ReceiptRefused("this notice was rejected; it cannot also be acknowledged")
    if notice.acknowledged_at is not None:
        return Recorded(notice.notice_id, Receipt.ACKNOWLEDGED, notice.acknowledged_at, False)
    await uow.notice_records.mark_acknowledged(notice.notice_id, at)
    return await _recorded(uow, notice, Receipt.ACKNOWLEDGED, at, first=True)


async def _reject(
    uow: UnitOfWork, notice: NoticeRecordView, reason: str, at: datetime,
    data_keys: DataKeyStore,
) -> Recorded:  # fmt: skip
    if notice.acknowledged_at is not None:
        raise ReceiptRefused("this notice was acknowledged; it cannot also be rejected")
    if notice.rejected_at is not None:
        return Recorded(notice.notice_id, Receipt.REJECTED, notice.rejected_at, False)
    if not await _can_reroute(uow, notice):
        # A rejection never ends a notice: with nobody left to send it on to, it stays open
        # (and escalates) until someone here acknowledges it.
        raise ReceiptRefused(
            "nobody is left to send this notice on to: please acknowledge it, or call the "
            "front door"
        )
    notice_records.body_of(notice, data_keys)  # gone (410) once its household is shredded
    wrapped = notice_records.wrap(data_keys, notice.household, notice.notice_id,
                                  "rejection_reason", reason)  # fmt: skip
    # Sent on by the router's timer, which alone holds the key notices are signed with.
    await uow.notice_records.mark_rejected(notice.notice_id, at, wrapped)
    rerouted_as = reroute_id(notice.notice_id)
    return await _recorded(uow, notice, Receipt.REJECTED, at, True, rerouted_as)


async def _can_reroute(uow: UnitOfWork, notice: NoticeRecordView) -> bool:
    """Whether a rejected notice has a front door contact to go on to who has not had it
    (the directory only: the inbox holds no key to seal the notice)."""
    target = notice_records.reroute_target(notice)
    if target is None:
        return False
    had = await uow.notice_records.chain_recipients(notice.chain_id)
    onward, recipients = onward_from_front_door(target), uow.recipients
    for step in [target] + ([onward] if onward else []):
        contact = await recipients.contact_for(step)
        if contact is not None and contact not in had:
            return True
    return False


async def _recorded(
    uow: UnitOfWork, notice: NoticeRecordView, receipt: Receipt, at: datetime,
    first: bool, rerouted_as: str | None = None,
) -> Recorded:  # fmt: skip
    # The audit names the receipt, never the reason given: that may name people.
    details = {"receipt": receipt.value} | ({"rerouted_as": rerouted_as} if rerouted_as else {})
    await uow.audit.append(AuditRecord(_ACTIONS[receipt], notice.recipient_id, notice.notice_id,
                                       details), at)  # fmt: skip
    return Recorded(notice.notice_id, receipt, at, first, rerouted_as)


_ACTIONS: dict[Receipt, AuditAction] = {
    Receipt.VIEWED: "notice_receipt",
    Receipt.ACKNOWLEDGED: "notice_acknowledged",
    Receipt.REJECTED: "notice_rejected",
}


async def _own(uow: UnitOfWork, recipient_id: str, notice_id: UUID) -> NoticeRecordView:
    notice = await uow.notice_records.get(str(notice_id))
    if notice is None or notice.recipient_id != recipient_id:
        raise NoticeNotFound("no such notice in this inbox")
    return notice


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise ReceiptRefused("a rejection needs a reason")
    return text
