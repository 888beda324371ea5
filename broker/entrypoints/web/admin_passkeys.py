"""The administrators' pages for a contact's passkeys (services/passkey_list.py): the list
(the kind of authenticator, when enrolled, when last used: nothing of the passkey itself),
and one revoked after a confirmation page, by a CSRF-protected form. Revoking is for a
passkey that is lost, or in the wrong hands: it signs in no more. Both are audited.

    GET  /inbox/admin/contacts/{contact}/passkeys                       the list
    GET  /inbox/admin/contacts/{contact}/passkeys/{reference}/revoke    are you sure?
    POST /inbox/admin/contacts/{contact}/passkeys/{reference}/revoke    revoked: to the list

As on every administrators' page, anyone else (and a contact that does not exist) gets 404.
"""

from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import RedirectResponse

from broker.entrypoints.path_ids import ContactInPath, PasskeyInPath
from broker.entrypoints.web import page_kit, pages, sessions
from broker.entrypoints.web.admin_pages import ADMIN
from broker.entrypoints.web.roles import administers
from broker.ports import UnitOfWork, WebSessionRecord
from broker.services import passkey_list
from broker.services.passkey_list import PasskeyNotFound

PASSKEYS = ADMIN + "/contacts/{contact_id}/passkeys"


def add_admin_passkey_pages(app: FastAPI) -> None:
    routes: list[pages.Route] = [
        (PASSKEYS, passkeys_page, "GET"),
        (PASSKEYS + "/{reference}/revoke", confirm_page, "GET"),
        (PASSKEYS + "/{reference}/revoke", revoke, "POST"),
    ]
    pages.add_routes(app, routes)


async def passkeys_page(
    request: Request, contact_id: ContactInPath, revoked: str | None = None
) -> Response:
    session = await sessions.signed_in(request)
    async with pages.runtime(request).unit_of_work() as uow:
        org_id = await _contact_org(request, uow, session, contact_id)
        if org_id is None:
            return await page_kit.not_found(request, session, back=ADMIN)
        lines = await passkey_list.passkeys_of(uow, contact_id, session.contact_id,
                                               datetime.now(UTC))  # fmt: skip
    return _render(request, "admin_passkeys.html", session, contact_id=contact_id,
                   org_id=org_id, lines=lines, revoked=revoked == "1")  # fmt: skip


async def confirm_page(
    request: Request, contact_id: ContactInPath, reference: PasskeyInPath
) -> Response:
    session = await sessions.signed_in(request)
    async with pages.runtime(request).unit_of_work() as uow:
        org_id = await _contact_org(request, uow, session, contact_id)
        lines = await passkey_list.passkeys_of(uow, contact_id, session.contact_id,
                                               datetime.now(UTC)) if org_id else []  # fmt: skip
    line = next((x for x in lines if x.reference == reference), None)
    if line is None:
        return await page_kit.not_found(request, session, back=ADMIN)
    return _render(request, "admin_passkey_revoke.html", session, contact_id=contact_id,
                   line=line, back=_list(contact_id))  # fmt: skip


async def revoke(request: Request, contact_id: ContactInPath, reference: PasskeyInPath) -> Response:
    session = await pages.posted_by(request, await pages.form_of(request))
    try:
        async with pages.runtime(request).unit_of_work() as uow:
            if await _contact_org(request, uow, session, contact_id) is None:
                raise PasskeyNotFound("not an administrator, or no such contact")
            await passkey_list.revoke(uow, contact_id, reference, session.contact_id,
                                      datetime.now(UTC))  # fmt: skip
    except PasskeyNotFound:
        return await page_kit.not_found(request, session, back=_list(contact_id))
    return RedirectResponse(_list(contact_id) + "?revoked=1", status_code=303)


async def _contact_org(
    request: Request, uow: UnitOfWork, session: WebSessionRecord, contact_id: str
) -> str | None:
    """The contact's organisation, if the session's person administers and it exists."""
    if await administers(uow, session, pages.runtime(request).settings) is None:
        return None
    [contact] = await uow.directory_rows.select_in("contacts", "id", [contact_id]) or [{}]
    return str(contact["org_id"]) if contact else None


def _list(contact_id: str) -> str:
    return PASSKEYS.format(contact_id=contact_id)


def _render(request: Request, name: str, session: WebSessionRecord, **context: Any) -> Response:
    return pages.render(request, name, session, administrator=True, **context)
