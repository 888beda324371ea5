"""A person's own passkeys (services/passkey_list.py): those of the person whose passkey
opened the session, the one in use marked "this device", and another removed after a
confirmation page, by a CSRF-protected form: a lost phone's passkey, from the laptop in hand.
Removing is audited as an administrator's revoking is, and ends the sessions it opened.

    GET  /inbox/passkeys                            the list
    GET  /inbox/passkeys/{reference}/remove         are you sure?
    POST /inbox/passkeys/{reference}/remove         removed: to the list

A passkey that is not this person's (another person's at the contact, or none) is a 404, as
an unknown one is; the one in use is a 409 that says why. A session no recorded passkey
opened (a sign-in link's, or one from before sessions recorded it) is told how to see them.
"""

from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import RedirectResponse

from broker.entrypoints.path_ids import PasskeyInPath
from broker.entrypoints.web import page_kit, pages, sessions
from broker.ports import WebSessionRecord
from broker.services import passkey_list
from broker.services.passkey_list import OwnPasskeys, PasskeyInUse, PasskeyNotFound

OWN = "/inbox/passkeys"
NOT_BY_PASSKEY = ["This session does not record which passkey you signed in with, so this "
                  "page cannot tell which passkeys are yours.",
                  "Sign out, then sign in with your passkey to see them."]  # fmt: skip


def add_own_passkey_pages(app: FastAPI) -> None:
    routes: list[pages.Route] = [
        (OWN, own_page, "GET"),
        (OWN + "/{reference}/remove", confirm_page, "GET"),
        (OWN + "/{reference}/remove", remove, "POST"),
    ]
    pages.add_routes(app, routes)


async def own_page(
    request: Request, removed: str | None = None, added: str | None = None
) -> Response:
    session = await sessions.signed_in(request)
    own, menu = await _own(request, session)
    if own is None:
        return pages.render(request, "message.html", session, title="Your passkeys",
                            lines=NOT_BY_PASSKEY, **menu)  # fmt: skip
    return pages.render(request, "own_passkeys.html", session, own=own, removed=removed == "1",
                        added=added == "1", **menu)  # fmt: skip


async def confirm_page(request: Request, reference: PasskeyInPath) -> Response:
    session = await sessions.signed_in(request)
    rt = pages.runtime(request)
    try:
        async with rt.unit_of_work() as uow:
            line = await passkey_list.own_passkey(uow, session, reference)
            menu = await pages.menu_of(uow, session, rt)
    except PasskeyInUse:
        return _in_use(request, session)
    except PasskeyNotFound:
        return await page_kit.not_found(request, session, back=OWN)
    return pages.render(request, "own_passkey_remove.html", session, line=line, **menu)


async def remove(request: Request, reference: PasskeyInPath) -> Response:
    session = await pages.posted_by(request, await pages.form_of(request))
    try:
        async with pages.runtime(request).unit_of_work() as uow:
            await passkey_list.remove_own(uow, session, reference, datetime.now(UTC))
    except PasskeyInUse:
        return _in_use(request, session)
    except PasskeyNotFound:
        return await page_kit.not_found(request, session, back=OWN)
    return RedirectResponse(OWN + "?removed=1", status_code=303)


async def _own(
    request: Request, session: WebSessionRecord
) -> tuple[OwnPasskeys | None, dict[str, Any]]:
    """The person's passkeys, and the menu's entries (``pages.menu_of``), in one unit of work."""
    rt = pages.runtime(request)
    async with rt.unit_of_work() as uow:
        own = await passkey_list.own_passkeys(uow, session, datetime.now(UTC))
        menu = await pages.menu_of(uow, session, rt)
    return own, menu


def _in_use(request: Request, session: WebSessionRecord) -> Response:
    return page_kit.not_done(request, session, "You signed in with this passkey, so it cannot "
                             "be removed on this page. To remove it, sign in with another of "
                             "your passkeys, or ask your administrator.", back=OWN)  # fmt: skip
