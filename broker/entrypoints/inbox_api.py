"""The inbox API: a recipient lists its notices, fetches one sealed, and acknowledges it.

Notices come back sealed (header, ciphertext, signature); the recipient opens them with its
own private key through the SDK's ``NoticeReceiver``. An acknowledgement is recorded in the
inbox and published to the acknowledgements topic. Asking for a notice that is not in this
recipient's inbox is a 404, whether or not it exists elsewhere.
"""

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from uuid import UUID

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from broker.adapters import audit, db
from broker.adapters.data_keys import DataKeyShredded
from broker.adapters.kafka import Message
from broker.adapters.tokens import NotAuthorised, Principal
from broker.bootstrap import Runtime, runtime
from broker.config import Settings
from broker.entrypoints import auth, front_door_api
from broker.entrypoints.limits import protect
from broker.pseudonyms import pseudonym
from broker.rules.deadlines import DIGEST_TIME, LONDON
from broker.services import inbox, matching
from schemas.notices import NoticeHeader, SealedNotice


class NoticeSummary(BaseModel):
    notice_id: UUID
    header: NoticeHeader
    delivered_at: datetime
    acknowledged_at: datetime | None


class NoticeDetail(NoticeSummary):
    sealed: SealedNotice


class Acknowledged(BaseModel):
    notice_id: UUID
    acknowledged_at: datetime
    first_acknowledgement: bool


def create_inbox_api(settings: Settings | None = None) -> FastAPI:
    config = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with runtime(config) as rt:
            app.state.rt = rt
            app.state.auth = auth.context_for(rt.sessions, rt.keys.token, config.administrators)
            yield

    app = FastAPI(title="Safeguarding broker: recipient inbox", version="1", lifespan=lifespan)
    protect(app, config.max_body_bytes, config.rate_limit)
    auth.install(app)
    app.add_exception_handler(inbox.NoticeNotFound, _not_found)  # type: ignore[arg-type]
    app.add_exception_handler(DataKeyShredded, _shredded)  # type: ignore[arg-type]
    app.add_exception_handler(matching.NotInQueue, front_door_api.not_in_queue)  # type: ignore[arg-type]
    app.add_exception_handler(matching.MatchConflict, front_door_api.conflict)  # type: ignore[arg-type]
    app.include_router(front_door_api.router)
    base = "/v1/recipients/{recipient_id}/notices"

    @app.get(base, response_model=list[NoticeSummary])
    async def list_notices(
        request: Request, recipient_id: str, caller: auth.NoticeReader
    ) -> list[NoticeSummary]:
        async with _rt(request).sessions() as session:
            await _own(session, recipient_id, caller)
            listed = await inbox.list_notices(session, recipient_id, datetime.now(UTC))
        return [_summary(n) for n in listed]

    @app.get("/v1/recipients/{recipient_id}/digests/{day}", response_model=list[NoticeSummary])
    async def daily_digest(
        request: Request, recipient_id: str, day: date, caller: auth.NoticeReader
    ) -> list[NoticeSummary]:
        """The day's digest of low-severity notices, once it has been released (07:00)."""
        released_at = datetime.combine(day, DIGEST_TIME, LONDON)
        async with _rt(request).sessions() as session:
            await _own(session, recipient_id, caller)
            gathered = await inbox.digest(session, recipient_id, released_at, datetime.now(UTC))
        return [_summary(n) for n in gathered]

    @app.get(base + "/{notice_id}", response_model=NoticeDetail)
    async def get_notice(
        request: Request, recipient_id: str, notice_id: UUID, caller: auth.NoticeReader
    ) -> NoticeDetail:
        async with _rt(request).sessions.begin() as session:
            await _own(session, recipient_id, caller)
            notice = await inbox.get_notice(session, recipient_id, notice_id)
            await audit.append(session, "notice_read", recipient_id, str(notice_id), {},
                               datetime.now(UTC))  # fmt: skip
        sealed = inbox.sealed(notice, _rt(request).data_keys)
        return NoticeDetail(**_summary(notice).model_dump(), sealed=sealed)

    @app.post(base + "/{notice_id}/acknowledgement", response_model=Acknowledged)
    async def acknowledge(
        request: Request, recipient_id: str, notice_id: UUID, caller: auth.NoticeReader
    ) -> Acknowledged:
        rt = _rt(request)
        async with rt.sessions.begin() as session:
            await _own(session, recipient_id, caller)
            notice, first = await inbox.acknowledge(
                session, recipient_id, notice_id, datetime.now(UTC)
            )
            if first:
                await audit.append(session, "notice_acknowledged", recipient_id,
                                   str(notice_id), {}, datetime.now(UTC))  # fmt: skip
        acknowledged_at = notice.acknowledged_at or datetime.now(UTC)
        if first:
            await rt.publisher.publish([_ack_message(rt, notice, acknowledged_at)])
        return Acknowledged(
            notice_id=notice_id, acknowledged_at=acknowledged_at, first_acknowledgement=first
        )

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


async def _own(session: AsyncSession, recipient_id: str, caller: Principal) -> None:
    """An organisation reads only its own recipients' inboxes."""
    contact = await session.get(db.Contact, recipient_id)
    if contact is None or contact.org_id != caller.org_id:
        raise NotAuthorised("this inbox belongs to another organisation")


def _rt(request: Request) -> Runtime:
    rt: Runtime = request.app.state.rt
    return rt


def _summary(notice: db.InboxNotice) -> NoticeSummary:
    return NoticeSummary(
        notice_id=UUID(notice.notice_id),
        header=NoticeHeader.model_validate_json(notice.header),
        delivered_at=notice.delivered_at,
        acknowledged_at=notice.acknowledged_at,
    )


def _ack_message(rt: Runtime, notice: db.InboxNotice, at: datetime) -> Message:
    record = {"notice_id": notice.notice_id, "recipient_id": notice.recipient_id,
              "state": "acknowledged", "at": at.isoformat()}  # fmt: skip
    key = pseudonym(rt.keys.pseudonym_secret, "recipient", notice.recipient_id)
    return Message(rt.topics.acknowledgements, key, json.dumps(record).encode())


async def _shredded(_request: Request, exc: DataKeyShredded) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=410)


async def _not_found(_request: Request, exc: inbox.NoticeNotFound) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=404)
