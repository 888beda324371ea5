"""The inbox API: a recipient lists its notices, fetches one sealed, and sends receipts.

Notices come back sealed (header, ciphertext, signature); the recipient opens them with its
own private key through the SDK's ``NoticeReceiver``. Fetching a notice is its delivery; a
person's receipts (viewed, acknowledged, rejected with a reason) are posted separately, are
recorded on the notice and published to the acknowledgements topic (the reason never is). A
rejection sends the notice on to the front door (the router's timer seals and signs it:
this process holds no key that opens an event or signs a notice). Asking for a notice that
is not in this recipient's inbox is a 404, whether or not it exists elsewhere.
"""

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Literal
from uuid import UUID

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from broker.adapters.tokens import Principal
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.bootstrap import Runtime
from broker.config import Settings
from broker.entrypoints import auth, front_door_api, http_errors, key_change_notices, web
from broker.entrypoints.app import ErrorTable, Process, create_app
from broker.entrypoints.path_ids import ContactInPath
from broker.errors import DataKeyShredded, DataKeyUnusable, NotAuthorised, PublishFailed
from broker.keys import PROCESS_KEYS
from broker.ports import InboxEntry, Message, NoticeRecordView, UnitOfWork
from broker.rules.deadlines import DIGEST_TIME, LONDON
from broker.rules.escalation import MAX_REASON_CHARS
from broker.services import inbox, matching, next_steps, receipts
from broker.services.peer_receipts import ReceiptKind
from producers.pseudonyms import pseudonym
from schemas.notices import NextStep, NoticeHeader, Receipt, SealedNotice
from schemas.peers import ConferenceDate

log = structlog.get_logger(__name__)


class NoticeSummary(BaseModel):
    notice_id: UUID
    header: NoticeHeader
    arrived_at: datetime  # in this inbox
    delivered_at: datetime | None = None  # first fetched by the recipient's system
    viewed_at: datetime | None = None
    acknowledged_at: datetime | None = None
    rejected_at: datetime | None = None
    escalated_at: datetime | None = None


class NoticeDetail(NoticeSummary):
    sealed: SealedNotice


class ReceiptIn(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    receipt: Literal[Receipt.VIEWED, Receipt.ACKNOWLEDGED, Receipt.REJECTED]
    reason: str | None = Field(None, max_length=MAX_REASON_CHARS)


class ReceiptOut(BaseModel):
    notice_id: UUID
    receipt: Receipt
    at: datetime
    first: bool
    rerouted_as: UUID | None = Field(
        None,
        description="a first rejection: the id the notice sent on to the front door carries. "
        "The router sends it within a round of its timer, so it may not be in the front "
        "door's inbox yet when this answers.",
    )


class ConferenceRecorded(BaseModel):
    notice_id: UUID
    conference_on: date
    at: datetime
    first: bool


# Receipts on a transfer a peer broker sent here, owed back to the peer (peer_receipts).
PEER_RECEIPTS: dict[Receipt, ReceiptKind] = {
    Receipt.ACKNOWLEDGED: "acknowledged",
    Receipt.REJECTED: "rejected",
}


# What the notice routes answer beyond the shared refusals (ERRORS): its data deleted (410),
# a receipt or step it cannot take (409).
GONE = http_errors.responses(410)
REFUSED = http_errors.responses(409, 410)


class Acknowledged(BaseModel):
    notice_id: UUID
    acknowledged_at: datetime
    first_acknowledgement: bool


def create_inbox_api(settings: Settings | None = None) -> FastAPI:
    app = create_app("Safeguarding broker: recipient inbox", settings or Settings(),
                     Process(PROCESS_KEYS["inbox"]), errors=ERRORS, description=__doc__ or "",
                     routers=[front_door_api.router, key_change_notices.router])  # fmt: skip
    web.mount(app)  # the web inbox's pages, over the same runtime
    base = "/v1/recipients/{recipient_id}/notices"

    @app.get(base, response_model=list[NoticeSummary])
    async def list_notices(
        request: Request, recipient_id: ContactInPath, caller: auth.NoticeReader
    ) -> list[NoticeSummary]:
        async with SqlUnitOfWork(_rt(request).sessions) as uow:
            await _own(uow, recipient_id, caller)
            listed = await inbox.list_notices(uow, recipient_id, datetime.now(UTC))
            return await _summaries(uow, listed)

    @app.get("/v1/recipients/{recipient_id}/digests/{day}", response_model=list[NoticeSummary])
    async def daily_digest(
        request: Request, recipient_id: ContactInPath, day: date, caller: auth.NoticeReader
    ) -> list[NoticeSummary]:
        """The day's digest of low-severity notices, once it has been released (07:00)."""
        released_at = datetime.combine(day, DIGEST_TIME, LONDON)
        async with SqlUnitOfWork(_rt(request).sessions) as uow:
            await _own(uow, recipient_id, caller)
            gathered = await inbox.digest(uow, recipient_id, released_at, datetime.now(UTC))
            return await _summaries(uow, gathered)

    @app.get(base + "/{notice_id}", response_model=NoticeDetail, responses=GONE)
    async def get_notice(
        request: Request, recipient_id: ContactInPath, notice_id: UUID, caller: auth.NoticeReader
    ) -> NoticeDetail:
        """The sealed notice; the first fetch is its delivery to the recipient's system."""
        now, rt = datetime.now(UTC), _rt(request)
        async with SqlUnitOfWork(rt.sessions) as uow:
            await _own(uow, recipient_id, caller)
            notice, sealed = await inbox.fetch(uow, recipient_id, notice_id, rt.data_keys, now)
            if not isinstance(sealed, inbox.NoticeGone):  # only a notice handed over is delivered
                await receipts.record_delivered(uow, str(notice_id), "inbox", now)
            (summary,) = await _summaries(uow, [notice])
        if isinstance(sealed, inbox.NoticeGone):
            raise sealed  # 410, once its audit entry is committed
        return NoticeDetail(**summary.model_dump(), sealed=sealed)

    @app.post(base + "/{notice_id}/receipts", response_model=ReceiptOut, responses=REFUSED)
    async def post_receipt(
        request: Request, recipient_id: ContactInPath, notice_id: UUID, receipt: ReceiptIn,
        caller: auth.NoticeReader,
    ) -> ReceiptOut:  # fmt: skip
        """Viewed (a person opened it), acknowledged (we accept responsibility), or rejected
        with a reason (it is not ours: it goes on to the front door)."""
        done = await _record(_rt(request), recipient_id, notice_id, caller, receipt)
        rerouted = UUID(done.rerouted_as) if done.rerouted_as else None
        return ReceiptOut(notice_id=notice_id, receipt=done.receipt, at=done.at,
                          first=done.first, rerouted_as=rerouted)  # fmt: skip

    @app.post(base + "/{notice_id}/acknowledgement", response_model=Acknowledged,
              responses=REFUSED)  # fmt: skip
    async def acknowledge(
        request: Request, recipient_id: ContactInPath, notice_id: UUID, caller: auth.NoticeReader
    ) -> Acknowledged:
        """Shorthand for an ``acknowledged`` receipt."""
        acknowledged = ReceiptIn(receipt=Receipt.ACKNOWLEDGED)
        done = await _record(_rt(request), recipient_id, notice_id, caller, acknowledged)
        return Acknowledged(notice_id=notice_id, acknowledged_at=done.at,
                            first_acknowledgement=done.first)  # fmt: skip

    @app.post(base + "/{notice_id}/conference", response_model=ConferenceRecorded,
              responses=REFUSED)  # fmt: skip
    async def record_conference(
        request: Request, recipient_id: ContactInPath, notice_id: UUID, held: ConferenceDate,
        caller: auth.NoticeReader,
    ) -> ConferenceRecorded:  # fmt: skip
        """A peer broker's receipt (issue 16): the transfer-in conference its front door
        held, on a transfer this broker sent it. Recorded as the transfer's next step met
        (acknowledging it too), once; the same again answers as before."""
        rt = _rt(request)
        async with SqlUnitOfWork(rt.sessions) as uow:
            await _own(uow, recipient_id, caller)
            done = await next_steps.record_step(
                uow, caller.org_id, str(notice_id), NextStep.TRANSFER_IN_CONFERENCE, None,
                datetime.now(UTC), rt.services.follow_ups,
            )  # fmt: skip
        return ConferenceRecorded(notice_id=notice_id, conference_on=held.conference_on,
                                  at=done.at, first=done.first)  # fmt: skip

    return app


async def _own(uow: UnitOfWork, recipient_id: str, caller: Principal) -> None:
    """An organisation reads only its own recipients' inboxes."""
    if await uow.recipients.organisation_of(recipient_id) != caller.org_id:
        raise NotAuthorised("this inbox belongs to another organisation")


def _rt(request: Request) -> Runtime:
    rt: Runtime = request.app.state.rt
    return rt


async def _record(
    rt: Runtime, recipient_id: str, notice_id: UUID, caller: Principal, given: ReceiptIn
) -> receipts.Recorded:
    receipt, reason = given.receipt, given.reason
    now = datetime.now(UTC)
    async with SqlUnitOfWork(rt.sessions) as uow:
        await _own(uow, recipient_id, caller)
        done = await receipts.record(uow, recipient_id, notice_id, receipt, now, rt.data_keys,
                                     reason)  # fmt: skip
        if done.first and receipt in PEER_RECEIPTS:  # a transfer a peer sent: the peer is told
            await uow.peer_receipts.owe(str(notice_id), PEER_RECEIPTS[receipt], now)
    if done.first:
        try:
            await rt.publisher.publish([_receipt_message(rt, recipient_id, done)])
        except PublishFailed:
            log.warning("receipt_not_published")  # the receipt itself is recorded
    return done


async def _summaries(uow: UnitOfWork, notices: Sequence[InboxEntry]) -> list[NoticeSummary]:
    records = await uow.notice_records.of([n.notice_id for n in notices])
    return [_summary(n, records.get(n.notice_id)) for n in notices]


def _summary(notice: InboxEntry, record: NoticeRecordView | None) -> NoticeSummary:
    receipts_at = {} if record is None else {
        "delivered_at": record.delivered_at, "viewed_at": record.viewed_at,
        "acknowledged_at": record.acknowledged_at, "rejected_at": record.rejected_at,
        "escalated_at": record.escalated_at,
    }  # fmt: skip
    return NoticeSummary(notice_id=UUID(notice.notice_id),
                         header=NoticeHeader.model_validate_json(notice.header),
                         arrived_at=notice.delivered_at, **receipts_at)  # fmt: skip


def _receipt_message(rt: Runtime, recipient_id: str, done: receipts.Recorded) -> Message:
    record = {"notice_id": done.notice_id, "recipient_id": recipient_id,
              "receipt": done.receipt.value, "at": done.at.isoformat()}  # fmt: skip
    key = pseudonym(rt.keys.pseudonym_secret, "recipient", recipient_id)
    return Message(rt.topics.acknowledgements, key, json.dumps(record).encode())


async def _gone(_request: Request, exc: Exception) -> JSONResponse:
    # Fixed wording: the exception's own message is never echoed.
    return http_errors.detail(410, "this notice's stored data was deleted")


async def _refused(_request: Request, exc: receipts.ReceiptRefused) -> JSONResponse:
    return http_errors.detail(409, str(exc))


async def _not_found(_request: Request, exc: inbox.NoticeNotFound) -> JSONResponse:
    return http_errors.detail(404, str(exc))


ERRORS: ErrorTable = {
    inbox.NoticeNotFound: _not_found,
    # A notice whose household was shredded is gone, and so is a receipt on one (a
    # rejection re-routes its body, which no longer opens).
    **dict.fromkeys((inbox.NoticeGone, DataKeyShredded, DataKeyUnusable), _gone),
    receipts.ReceiptRefused: _refused,
    matching.NotInQueue: front_door_api.not_in_queue,
    matching.MatchConflict: front_door_api.conflict,
}
