"""The web inbox's pages for administrators (roles.py says who they are): organisations and
their contacts with each contact's alert channels, a one-time sign-in link issued for a
contact (as the admin API's ``/v1/admin/contacts/{id}/sign-in-links``), a contact's sessions
suspended, and a household's members by id. Read-only but for those two actions: the
directory itself changes through the admin API and ``sgb directory-import``.

A contact's alert channels (email addresses, a mobile number) and a household's members are
personal data: each view is audited (``directory_read``), as the matching queue's entries
are. Anyone who is not an administrator gets 404 for every page here.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request, Response
from fastapi.responses import RedirectResponse

from broker.entrypoints.path_ids import PRINTABLE, ContactInPath, OrgInPath
from broker.entrypoints.sign_in_routes import sign_in_url
from broker.entrypoints.web import page_kit, pages, sessions
from broker.entrypoints.web.roles import administers
from broker.ports import AuditRecord, UnitOfWork, WebSessionRecord
from broker.services import alert_channels, web_sign_in

ADMIN = "/inbox/admin"
HouseholdQuery = Annotated[str | None, Query(max_length=64, pattern=PRINTABLE)]


@dataclass(frozen=True)
class ContactRow:
    contact_id: str
    role: str
    key_id: str
    emails: tuple[str, ...]
    mobile: str | None


def add_admin_pages(app: FastAPI) -> None:
    routes: list[pages.Route] = [
        (ADMIN, organisations_page, "GET"),
        (ADMIN + "/organisations/{org_id}", organisation_page, "GET"),
        (ADMIN + "/contacts/{contact_id}/sign-in-link", issue_link, "POST"),
        (ADMIN + "/contacts/{contact_id}/suspend", suspend, "POST"),
        (ADMIN + "/households", household_page, "GET"),
    ]
    pages.add_routes(app, routes)


async def organisations_page(request: Request) -> Response:
    """Codes, names, kinds and areas: no person."""
    session = await sessions.signed_in(request)
    async with pages.runtime(request).unit_of_work() as uow:
        if await _administrator(request, uow, session) is None:
            return await page_kit.not_found(request, session)
        orgs = sorted((await uow.directory.organisations()).orgs.values(), key=lambda o: o.id)
    return _render(request, "admin_organisations.html", session, orgs=orgs)


async def organisation_page(
    request: Request, org_id: OrgInPath, suspended: str | None = None
) -> Response:
    """The organisation's contacts with their alert channels: each contact shown audited."""
    session, now = await sessions.signed_in(request), datetime.now(UTC)
    async with pages.runtime(request).unit_of_work() as uow:
        admin = await _administrator(request, uow, session)
        org = await uow.recipients.organisation(org_id) if admin else None
        if org is None:
            return await page_kit.not_found(request, session, back=ADMIN)
        contacts = await _contacts(uow, org_id)
        await uow.audit.append_many([_read(session, c.contact_id, "alert_channels")
                                     for c in contacts], now)  # fmt: skip
    return _render(request, "admin_organisation.html", session, org=org, contacts=contacts,
                   suspended=suspended)  # fmt: skip


async def issue_link(request: Request, contact_id: ContactInPath) -> Response:
    """Shown once, to be handed to the contact's person; only its hash is kept."""
    session = await pages.posted_by(request, await pages.form_of(request))
    rt = pages.runtime(request)
    try:
        async with rt.unit_of_work() as uow:
            if await _administrator(request, uow, session) is None:
                raise web_sign_in.UnknownContact("not an administrator")
            issued = await web_sign_in.issue_link(uow, contact_id, session.contact_id,
                                                  datetime.now(UTC))  # fmt: skip
    except web_sign_in.UnknownContact:
        return await page_kit.not_found(request, session, back=ADMIN)
    response = _render(request, "admin_sign_in_link.html", session, contact_id=contact_id,
                       url=sign_in_url(rt.settings.inbox_base_url, issued.token),
                       expires=issued.expires_at)  # fmt: skip
    response.headers["cache-control"] = "no-store"  # the link signs its person in
    return response


async def suspend(request: Request, contact_id: ContactInPath) -> Response:
    """Ends the contact's sessions and spends its unused links, audited."""
    session = await pages.posted_by(request, await pages.form_of(request))
    try:
        async with pages.runtime(request).unit_of_work() as uow:
            if await _administrator(request, uow, session) is None:
                raise web_sign_in.UnknownContact("not an administrator")
            await web_sign_in.suspend(uow, contact_id, session.contact_id, datetime.now(UTC))
            [contact] = await uow.directory_rows.select_in("contacts", "id", [contact_id])
    except web_sign_in.UnknownContact:
        return await page_kit.not_found(request, session, back=ADMIN)
    return RedirectResponse(f"{ADMIN}/organisations/{contact['org_id']}?suspended={contact_id}",
                            status_code=303)  # fmt: skip


async def household_page(request: Request, household: HouseholdQuery = None) -> Response:
    """A household's members by person id and role (no names), the read audited."""
    session = await sessions.signed_in(request)
    members: list[tuple[str, str]] | None = None
    async with pages.runtime(request).unit_of_work() as uow:
        if await _administrator(request, uow, session) is None:
            return await page_kit.not_found(request, session)
        if household:
            rows = await uow.directory_rows.select_in("household_members", "household_id",
                                                      [household])  # fmt: skip
            members = sorted((str(r["person_id"]), str(r["role"])) for r in rows)
            await uow.audit.append(_read(session, household, "household_members"),
                                   datetime.now(UTC))  # fmt: skip
    return _render(request, "admin_household.html", session, household=household,
                   members=members)  # fmt: skip


async def _administrator(
    request: Request, uow: UnitOfWork, session: WebSessionRecord
) -> str | None:
    return await administers(uow, session, pages.runtime(request).settings)


async def _contacts(uow: UnitOfWork, org_id: str) -> list[ContactRow]:
    rows = await uow.directory_rows.select_in("contacts", "org_id", [org_id])
    found = []
    for row in sorted(rows, key=lambda r: str(r["id"])):
        channels = await alert_channels.channels_of(uow, str(row["id"]))
        found.append(ContactRow(str(row["id"]), str(row["role"]), str(row["key_id"]),
                                tuple(str(e) for e in channels.emails),
                                channels.mobile))  # fmt: skip
    return found


def _read(session: WebSessionRecord, subject: str, what: str) -> AuditRecord:
    return AuditRecord("directory_read", session.contact_id, subject, {"what": what})


def _render(request: Request, name: str, session: WebSessionRecord, **context: Any) -> Response:
    return pages.render(request, name, session, administrator=True, **context)
