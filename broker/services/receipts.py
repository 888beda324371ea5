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

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from broker.adapters import audit, db
from broker.errors import BrokerError
from broker.services import follow_ups, notice_records
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


async def record_delivered(
    session: AsyncSession, notice_id: str, channel: str, at: datetime
) -> bool:
    """The recipient's system has the notice; answers whether this was the first time."""
    delivered = await session.execute(
        update(db.NoticeRecord)
        .where(db.NoticeRecord.notice_id == notice_id, db.NoticeRecord.delivered_at.is_(None))
        .values(delivered_at=at, delivered_via=channel)
    )
    first = bool(delivered.rowcount)  # type: ignore[attr-defined]
    if first:
        details = {"receipt": Receipt.DELIVERED.value, "channel": channel}
        await audit.append(session, "notice_receipt", channel, notice_id, details, at)
    return first


async def record(
    session: AsyncSession,
    recipient_id: str,
    notice_id: UUID,
    receipt: Receipt,
    at: datetime,
    deps: follow_ups.FollowUpDeps,
    reason: str | None = None,
) -> Recorded:
    """Records a receipt from the recipient's people (viewed, acknowledged, rejected)."""
    notice = await _own(session, recipient_id, notice_id)
    match receipt:
        case Receipt.VIEWED:
            first = notice.viewed_at is None
            notice.viewed_at = notice.viewed_at or at
            return await _recorded(session, notice, receipt, notice.viewed_at, first)
        case Receipt.ACKNOWLEDGED:
            return await _acknowledge(session, notice, at)
        case Receipt.REJECTED:
            return await _reject(session, notice, _reason(reason), at, deps)
        case Receipt.DELIVERED:
            raise ReceiptRefused("delivery is recorded when the notice is fetched")


async def _acknowledge(session: AsyncSession, notice: db.NoticeRecord, at: datetime) -> Recorded:
    if notice.rejected_at is not None:
        raise ReceiptRefused("this notice was rejected; it cannot also be acknowledged")
    if notice.acknowledged_at is not None:
        return await _recorded(session, notice, Receipt.ACKNOWLEDGED, notice.acknowledged_at,
                               first=False)  # fmt: skip
    notice.acknowledged_at = at
    await session.execute(
        update(db.NoticeRecord)
        .where(db.NoticeRecord.chain_id == notice.chain_id, db.NoticeRecord.closed_at.is_(None))
        .values(closed_at=at)
    )
    return await _recorded(session, notice, Receipt.ACKNOWLEDGED, at, first=True)


async def _reject(
    session: AsyncSession, notice: db.NoticeRecord, reason: str, at: datetime,
    deps: follow_ups.FollowUpDeps,
) -> Recorded:  # fmt: skip
    if notice.acknowledged_at is not None:
        raise ReceiptRefused("this notice was acknowledged; it cannot also be rejected")
    if notice.rejected_at is not None:
        return await _recorded(session, notice, Receipt.REJECTED, notice.rejected_at, False)
    if not await follow_ups.can_reroute(session, notice):
        # A rejection never ends a notice: with nobody left to send it on to, it stays open
        # (and escalates) until someone here acknowledges it.
        raise ReceiptRefused(
            "nobody is left to send this notice on to: please acknowledge it, or call the "
            "front door"
        )
    notice_records.body_of(notice, deps.data_keys)  # gone (410) once its household is shredded
    notice.rejected_at = at
    notice.rejection_reason = notice_records.wrap(
        deps.data_keys, notice.household, notice.notice_id, "rejection_reason", reason
    )
    # Sent on by the router's timer, which alone holds the key notices are signed with.
    notice.reroute_pending_since = at
    rerouted_as = follow_ups.reroute_id(notice.notice_id)
    return await _recorded(session, notice, Receipt.REJECTED, at, True, rerouted_as)


async def _recorded(
    session: AsyncSession, notice: db.NoticeRecord, receipt: Receipt, at: datetime,
    first: bool, rerouted_as: str | None = None,
) -> Recorded:  # fmt: skip
    if first:
        # The audit names the receipt, never the reason given: that may name people.
        details = {"receipt": receipt.value} | ({"rerouted_as": rerouted_as} if rerouted_as else {})
        await audit.append(session, _ACTIONS[receipt], notice.recipient_id, notice.notice_id,
                           details, at)  # fmt: skip
    return Recorded(notice.notice_id, receipt, at, first, rerouted_as)


_ACTIONS: dict[Receipt, audit.Action] = {
    Receipt.VIEWED: "notice_receipt",
    Receipt.ACKNOWLEDGED: "notice_acknowledged",
    Receipt.REJECTED: "notice_rejected",
}


async def _own(session: AsyncSession, recipient_id: str, notice_id: UUID) -> db.NoticeRecord:
    notice = await session.get(db.NoticeRecord, str(notice_id))
    if notice is None or notice.recipient_id != recipient_id:
        raise NoticeNotFound("no such notice in this inbox")
    return notice


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise ReceiptRefused("a rejection needs a reason")
    return text
