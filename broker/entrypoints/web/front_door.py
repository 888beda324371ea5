"""The web inbox's front-door pages, for a contact of a local authority's front door: the
matching queue with its match action, and a household's chronology. The same services the
front door API uses (services/matching.py, household_access.py), the same audit: each queue
entry shown is an audited read, as is each chronology; a refused chronology is audited too.

A contact of any other organisation gets 404 for these pages, as for a notice not its own.
The organisation acts (as with the API's token): its contact is who is signed in.
"""

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import FastAPI, Query, Request, Response
from fastapi.responses import RedirectResponse

from broker.entrypoints.path_ids import PRINTABLE
from broker.entrypoints.web import pages, sessions
from broker.errors import DataKeyShredded, DataKeyUnusable
from broker.ports import AuditDetails, AuditRecord, ParkedEvent, WebSessionRecord
from broker.services import household_access, matching
from schemas.events import PersonRef

FRONT_DOOR = "/inbox/front-door"
HouseholdQuery = Annotated[str | None, Query(max_length=64, pattern=PRINTABLE)]


def add_front_door_pages(app: FastAPI) -> None:
    routes: list[pages.Route] = [
        (FRONT_DOOR + "/matching-queue", queue_page, "GET"),
        (FRONT_DOOR + "/matching-queue/{event_id}/match", match, "POST"),
        (FRONT_DOOR + "/chronology", chronology_page, "GET"),
    ]
    pages.add_routes(app, routes)


async def queue_page(request: Request, matched: str | None = None) -> Response:
    session = await sessions.signed_in(request)
    rt = pages.runtime(request)
    async with rt.unit_of_work() as uow:
        org_id = await pages.front_door_of(uow, session)
        if org_id is None:
            return await pages.not_found(request, session)
        entries = await matching.read_queue(uow, org_id, org_id, datetime.now(UTC))
    shown = [(entry, _people(entry, request)) for entry in entries]
    return pages.render(request, "matching_queue.html", session, entries=shown,
                        matched=matched, front_door=True)  # fmt: skip


async def match(request: Request, event_id: UUID) -> Response:
    """Links the event's people (by position) to directory people, as the API's match."""
    form = await pages.form_of(request)
    session = await pages.posted_by(request, form)
    links = _links(form)
    rt, now = pages.runtime(request), datetime.now(UTC)
    if not links:
        return pages.render(request, "message.html", session, status_code=400,
                            title="Nobody was matched", back=FRONT_DOOR + "/matching-queue",
                            lines=["Enter the directory id of at least one person."])  # fmt: skip
    try:
        async with rt.unit_of_work() as uow:
            org_id = await pages.front_door_of(uow, session)
            if org_id is None:
                raise matching.NotInQueue("not a front door")
            entry, named = await matching.queued(uow, org_id, str(event_id), rt.data_keys)
            await matching.match(uow, entry, named, links, org_id, now)
    except matching.NotInQueue:
        return await pages.not_found(request, session)
    except matching.NotInArea:
        async with rt.unit_of_work() as uow:  # the match was rolled back; this stays
            details: AuditDetails = {
                "status": 403,
                "action": "match",
                "reason": "person_not_in_callers_area",
            }
            refusal = AuditRecord("access_refused", session.contact_id, str(event_id), details)
            await uow.audit.append(refusal, now)
        return _refused(request, session, "A front door matches only people who live in its area.")
    except matching.MatchConflict as exc:  # the service's wording names nobody
        return _refused(request, session, str(exc))
    return RedirectResponse(f"{FRONT_DOOR}/matching-queue?matched={event_id}", status_code=303)


async def chronology_page(request: Request, household: HouseholdQuery = None) -> Response:
    session = await sessions.signed_in(request)
    rt = pages.runtime(request)
    async with rt.unit_of_work() as uow:  # commits the audit entry of a refusal too
        org_id = await pages.front_door_of(uow, session)
        if org_id is None:
            return await pages.not_found(request, session)
        read: Any = None
        if household:
            read = await household_access.read_chronology(
                uow, rt.data_keys, rt.keys.pseudonym_secret, org_id, household,
                datetime.now(UTC),
            )  # fmt: skip
    if isinstance(read, household_access.Refusal):
        status = household_access.STATUS[read]
        return pages.render(request, "chronology.html", session, status_code=status,
                            household=household, lines=None, refused=_REFUSALS[read],
                            front_door=True)  # fmt: skip
    return pages.render(request, "chronology.html", session, household=household, lines=read,
                        refused=None, front_door=True)  # fmt: skip


_REFUSALS = {
    household_access.Refusal.NOT_YOURS: "This household is not in this front door's area.",
    household_access.Refusal.SHREDDED: "This household's data was deleted.",
}


def _links(form: dict[str, str]) -> dict[int, str]:
    """``person_<position>`` fields given a directory id: position -> person id."""
    fields = {k.removeprefix("person_"): v.strip() for k, v in form.items()
              if k.startswith("person_")}  # fmt: skip
    return {int(k): v for k, v in fields.items() if k.isdigit() and v}


def _people(entry: ParkedEvent, request: Request) -> list[PersonRef]:
    """Read with the entry's data key; empty while not yet readable (as the API's)."""
    try:
        return matching.people_of(entry, pages.runtime(request).data_keys).people
    except (matching.NotInQueue, DataKeyShredded, DataKeyUnusable):
        return []


def _refused(request: Request, session: WebSessionRecord, line: str) -> Response:
    return pages.render(request, "message.html", session, status_code=403,
                        title="This match was not made", lines=[line],
                        back=FRONT_DOOR + "/matching-queue")  # fmt: skip
