"""The web inbox's pages, for every recipient: sign in with a one-time link, the inbox (newest
first, paged), a notice (sealed: the browser opens it), acknowledge, reject with a reason, the
receipts, sign out.

Each page goes load -> service -> render, through the services the inbox API uses
(services/inbox.py, receipts.py); a notice page's view is audited as the API's fetch is. A
notice not in the signed-in contact's inbox is a 404 whether or not it exists elsewhere, and
the refusal is counted as the APIs' are. Errors are fixed wording: nothing of a form's input
or an exception's message is echoed but the services' own refusals, which name nobody.
"""

import contextlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode
from uuid import UUID

import structlog
from fastapi import FastAPI, Query, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.templating import Jinja2Templates

from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.bootstrap import Runtime
from broker.entrypoints.auth import record_refusal
from broker.entrypoints.web import roles, sessions, views
from broker.entrypoints.web.sessions import CsrfRefused, NotSignedIn
from broker.errors import DataKeyShredded, DataKeyUnusable, PublishFailed
from broker.ports import Message, UnitOfWork, WebSessionRecord
from broker.rules.escalation import MAX_REASON_CHARS
from broker.rules.family import OrgKind
from broker.services import inbox, receipts, web_sign_in
from producers.pseudonyms import pseudonym
from schemas.notices import Receipt

log = structlog.get_logger(__name__)
TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
TEMPLATES.env.globals["london"] = views.london
GONE = (inbox.NoticeGone, DataKeyShredded, DataKeyUnusable)
# Pages load only this site's scripts, styles, fonts and images: nothing from a CDN, nothing
# inline (the sealed notice is JSON in a non-executed script element), never framed.
HEADERS = {
    "content-security-policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",  # a sign-in link's token never leaves in a Referer
    "x-frame-options": "DENY",
}
Form = dict[str, str]
# One way of saying how to sign in, on every page that has to: a passkey if the person has
# one, else a new link (the server cannot tell who is asking before they sign in).
HOW_TO_SIGN_IN: dict[str, Any] = {
    "action": {"href": "/inbox/passkeys/sign-in", "text": "Sign in with your passkey"},
    "after": ["If you have not set up a passkey yet, ask your administrator for a new "
              "sign-in link."],
}  # fmt: skip


Route = tuple[str, Any, str]  # path, endpoint, method


def add_pages(app: FastAPI) -> None:
    routes: list[Route] = [
        ("/inbox", inbox_page, "GET"),
        ("/inbox/notices/{notice_id}", notice_page, "GET"),
        ("/inbox/notices/{notice_id}/acknowledge", acknowledge, "POST"),
        ("/inbox/notices/{notice_id}/reject", reject_page, "GET"),
        ("/inbox/notices/{notice_id}/reject", reject, "POST"),
        ("/inbox/notices/{notice_id}/viewed", viewed, "POST"),
        ("/inbox/sign-in/{token}", sign_in_page, "GET"),
        ("/inbox/sign-in", sign_in, "POST"),
        ("/inbox/sign-out", sign_out, "POST"),
        ("/inbox/signed-out", signed_out, "GET"),
    ]
    add_routes(app, routes)
    app.add_exception_handler(NotSignedIn, _not_signed_in)  # type: ignore[arg-type]
    app.add_exception_handler(CsrfRefused, _csrf_refused)  # type: ignore[arg-type]


def add_routes(app: FastAPI, routes: list[Route]) -> None:
    """Each route as a page: an HTML form's or link's, left out of the OpenAPI documents."""
    for path, endpoint, method in routes:
        app.add_api_route(path, endpoint, methods=[method], include_in_schema=False)


async def menu_of(uow: UnitOfWork, session: WebSessionRecord, rt: Runtime) -> dict[str, Any]:
    """The menu's entries a page shows the session: the front door's pages, Administration."""
    return {"front_door": await front_door_of(uow, session) is not None,
            "administrator": await roles.administers(uow, session, rt.settings)}  # fmt: skip


async def inbox_page(
    request: Request, page: Annotated[int, Query(ge=1, le=100_000)] = 1
) -> Response:
    session = await sessions.signed_in(request)
    async with _unit(request) as uow:
        listed = await inbox.list_notices(uow, session.contact_id, datetime.now(UTC))
        records = await uow.notice_records.of([n.notice_id for n in listed])
        menu = await menu_of(uow, session, runtime(request))
    rows = [views.row(n, records.get(n.notice_id)) for n in listed]
    return render(request, "inbox.html", session, page=views.page(rows, page), **menu)


async def notice_page(request: Request, notice_id: UUID, done: str | None = None) -> Response:
    """The sealed notice for the browser to open; its view audited, its first a delivery."""
    session, rt, now = await sessions.signed_in(request), runtime(request), datetime.now(UTC)
    try:
        async with _unit(request) as uow:
            entry, sealed = await inbox.fetch(uow, session.contact_id, notice_id,
                                              rt.data_keys, now)  # fmt: skip
            if not isinstance(sealed, inbox.NoticeGone):
                await receipts.record_delivered(uow, str(notice_id), "web", now)
            records = await uow.notice_records.of([entry.notice_id])
    except inbox.NoticeNotFound:
        return await not_found(request, session)
    if isinstance(sealed, inbox.NoticeGone):
        return _gone(request, session)
    notice = views.row(entry, records.get(entry.notice_id))
    return render(request, "notice.html", session, notice=notice,
                  sealed=sealed.model_dump(mode="json"), broker_keys=rt.keys.public.to_text(),
                  done=done if done in {"acknowledged", "rejected"} else None)  # fmt: skip


async def acknowledge(request: Request, notice_id: UUID) -> Response:
    session = await posted_by(request, await form_of(request))
    return await _answer(request, session, notice_id, Receipt.ACKNOWLEDGED, None)


async def reject_page(request: Request, notice_id: UUID) -> Response:
    session = await sessions.signed_in(request)
    try:
        async with _unit(request) as uow:  # another recipient's notice: 404, as its page
            await inbox.get_notice(uow, session.contact_id, notice_id)
    except inbox.NoticeNotFound:
        return await not_found(request, session)
    return render(request, "reject.html", session, notice_id=str(notice_id), reason="", error=None,
                  max_chars=MAX_REASON_CHARS)  # fmt: skip


async def reject(request: Request, notice_id: UUID) -> Response:
    form = await form_of(request)
    session = await posted_by(request, form)
    reason = form.get("reason", "").strip()
    error = _reason_error(reason)
    if error:
        return render(request, "reject.html", session, status_code=400, notice_id=str(notice_id),
                      reason=reason, error=error, max_chars=MAX_REASON_CHARS)  # fmt: skip
    return await _answer(request, session, notice_id, Receipt.REJECTED, reason)


async def viewed(request: Request, notice_id: UUID) -> Response:
    """Posted by the notice page once the browser has opened the notice: a person saw it."""
    session = await sessions.signed_in(request)
    sessions.check_csrf(session, request.headers.get("x-csrf-token"))
    try:
        await _record(runtime(request), session.contact_id, notice_id, Receipt.VIEWED, None)
    except inbox.NoticeNotFound:
        await record_refusal(request, 404)
        return Response(status_code=404)
    return Response(status_code=204)


async def sign_in_page(request: Request, token: str) -> Response:
    """A page with a button, not the sign-in itself: mail scanners follow links, and would
    spend a one-time link before its person could."""
    csrf = sessions.sign_in_csrf(request)
    response = render(request, "sign_in.html", None, token=token, sign_in_csrf=csrf)
    sessions.set_sign_in_csrf(response, runtime(request).settings, csrf)
    return response


async def sign_in(request: Request) -> Response:
    form = await form_of(request)
    sessions.check_sign_in_csrf(request, form.get("csrf_token"))
    started: web_sign_in.Started | None = None
    async with _unit(request) as uow:  # a refusal is audited: committed either way
        with contextlib.suppress(web_sign_in.SignInRefused):
            started = await web_sign_in.sign_in(uow, form.get("token", ""), datetime.now(UTC))
    if started is None:
        return render(request, "message.html", None, status_code=400,
                      title="This sign-in link cannot be used",
                      lines=["It has been used already, or it is more than 15 minutes old."],
                      **HOW_TO_SIGN_IN)  # fmt: skip
    response = RedirectResponse("/inbox/passkeys/enrol", status_code=303)  # the invitation's aim
    settings = runtime(request).settings
    sessions.set_session_cookie(response, settings, started.session_id)
    response.delete_cookie(sessions.SIGN_IN_CSRF, path="/inbox/sign-in")
    return response


async def sign_out(request: Request) -> Response:
    session = await posted_by(request, await form_of(request))
    async with _unit(request) as uow:
        await web_sign_in.sign_out(uow, session, datetime.now(UTC))
    response = RedirectResponse("/inbox/signed-out", status_code=303)
    sessions.clear_session_cookie(response, runtime(request).settings)
    # Whoever signed in with a passkey signs in with it again; a link's person needs a link.
    sessions.set_signed_out_with(response, runtime(request).settings, session.signed_in_with)
    return response


async def signed_out(request: Request) -> Response:
    """What to do to read notices again: the passkey, for its holder; else a new link."""
    if sessions.signed_out_with(request) == "passkey":
        return render(request, "message.html", None, title="You have signed out",
                      lines=["To read notices again, sign in with your passkey."],
                      action=HOW_TO_SIGN_IN["action"])  # fmt: skip
    return render(request, "message.html", None, title="You have signed out",
                  lines=["To read notices again, ask your administrator for a new sign-in "
                         "link."])  # fmt: skip


def render(
    request: Request, name: str, session: WebSessionRecord | None, status_code: int = 200,
    **context: Any,
) -> Response:  # fmt: skip
    context |= {"session": session, "csrf_token": session.csrf_token if session else None}
    return TEMPLATES.TemplateResponse(request, name, context, status_code=status_code,
                                      headers=HEADERS)  # fmt: skip


async def _answer(
    request: Request, session: WebSessionRecord, notice_id: UUID, receipt: Receipt,
    reason: str | None,
) -> Response:  # fmt: skip
    try:
        await _record(runtime(request), session.contact_id, notice_id, receipt, reason)
    except inbox.NoticeNotFound:
        return await not_found(request, session)
    except GONE:
        return _gone(request, session)
    except receipts.ReceiptRefused as exc:  # its wording is the service's, naming nobody
        return render(request, "message.html", session, status_code=409,
                      title="This could not be done", lines=[str(exc)],
                      back=f"/inbox/notices/{notice_id}")  # fmt: skip
    return RedirectResponse(f"/inbox/notices/{notice_id}?done={receipt.value}", status_code=303)


async def _record(
    rt: Runtime, contact_id: str, notice_id: UUID, receipt: Receipt, reason: str | None
) -> receipts.Recorded:
    """As the inbox API records a receipt: once, then published (never the reason)."""
    async with rt.unit_of_work() as uow:
        done = await receipts.record(uow, contact_id, notice_id, receipt, datetime.now(UTC),
                                     rt.data_keys, reason)  # fmt: skip
    if done.first:
        try:
            await rt.publisher.publish([_receipt_message(rt, contact_id, done)])
        except PublishFailed:
            log.warning("receipt_not_published")  # the receipt itself is recorded
    return done


def _receipt_message(rt: Runtime, recipient_id: str, done: receipts.Recorded) -> Message:
    # The same record inbox_api.py publishes for a receipt posted to the API.
    record = {"notice_id": done.notice_id, "recipient_id": recipient_id,
              "receipt": done.receipt.value, "at": done.at.isoformat()}  # fmt: skip
    key = pseudonym(rt.keys.pseudonym_secret, "recipient", recipient_id)
    return Message(rt.topics.acknowledgements, key, json.dumps(record).encode())


def _reason_error(reason: str) -> str | None:
    if not reason:
        return "Enter why this notice is not for you"
    if len(reason) > MAX_REASON_CHARS:
        return f"The reason must be {MAX_REASON_CHARS} characters or fewer"
    return None


async def posted_by(request: Request, form: Form) -> WebSessionRecord:
    session = await sessions.signed_in(request)
    sessions.check_csrf(session, form.get("csrf_token"))
    return session


async def form_of(request: Request) -> Form:
    """A urlencoded form's fields (the first of each); anything else is no fields."""
    try:
        parsed = parse_qs((await request.body()).decode(), max_num_fields=10)
    except (UnicodeDecodeError, ValueError):
        return {}
    return {name: values[0] for name, values in parsed.items()}


async def not_found(request: Request, session: WebSessionRecord) -> Response:
    request.state.caller = session.contact_id
    await record_refusal(request, 404)
    return render(request, "message.html", session, status_code=404, title="Notice not found",
                  lines=["There is no such notice in this inbox."], back="/inbox")  # fmt: skip


def _gone(request: Request, session: WebSessionRecord) -> Response:
    return render(request, "message.html", session, status_code=410,
                  title="This notice can no longer be read",
                  lines=["Its stored data was deleted."], back="/inbox")  # fmt: skip


async def _not_signed_in(request: Request, _exc: NotSignedIn) -> Response:
    return render(request, "message.html", None, status_code=401, title="Sign in to continue",
                  lines=["You are not signed in, or your session has ended (after 30 minutes "
                         "without use, or 8 hours in all)."],
                  **_sign_in_returning_to(request.url.path))  # fmt: skip


# A notice's own page, and nothing else: the sign-in page goes on to it (an alert's link
# followed signed out), and no address given in a query can send anyone elsewhere.
RETURNABLE = re.compile(r"/inbox/notices/[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}")


def _sign_in_returning_to(path: str) -> dict[str, Any]:
    if not RETURNABLE.fullmatch(path):
        return HOW_TO_SIGN_IN
    href = f"/inbox/passkeys/sign-in?{urlencode({'next': path})}"
    return HOW_TO_SIGN_IN | {"action": HOW_TO_SIGN_IN["action"] | {"href": href}}


async def _csrf_refused(request: Request, exc: CsrfRefused) -> Response:
    await record_refusal(request, 403)
    return render(request, "message.html", None, status_code=403, title="This form has expired",
                  lines=[str(exc)])  # fmt: skip


async def front_door_of(uow: UnitOfWork, session: WebSessionRecord) -> str | None:
    """The contact's organisation, if it is a front door (its pages are for it alone)."""
    [contact] = await uow.directory_rows.select_in("contacts", "id", [session.contact_id]) or [{}]
    org_id = contact.get("org_id")
    if not org_id or await uow.recipients.organisation_kind(org_id) != OrgKind.FRONT_DOOR:
        return None
    return str(org_id)


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.rt
    return rt


def _unit(request: Request) -> SqlUnitOfWork:
    return runtime(request).unit_of_work()
