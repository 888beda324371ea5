"""The front door's moves and step-downs awaiting confirmation (the trust issue, issue 12),
as the front door API's ``/v1/front-doors/{org}/proposals`` routes: the list, confirm, and
reject with a reason, over services/proposals.py.

A proposal shows ids and organisation codes only (no person), as the API's listing does. A
rejection's reason is chosen from a fixed list, never free text: it goes to the audit log,
which holds ids and reasons only, beside the service's own record of the decision. A
proposal held for another front door, or none, is a 404 (counted and audited).
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from fastapi import FastAPI, Request, Response
from fastapi.responses import RedirectResponse

from broker.entrypoints.web import page_kit, pages, sessions
from broker.entrypoints.web.front_door import FRONT_DOOR
from broker.ports import AuditRecord, HeldProposal, UnitOfWork, WebSessionRecord
from broker.services import proposals

PROPOSALS = FRONT_DOOR + "/proposals"
# Why a front door rejects a proposal: the audit log keeps the code, the page its words.
REJECTION_REASONS = {
    "not_moving": "The family is not moving, or the service has not stepped down",
    "wrong_family": "The event is about a different family",
    "not_this_area": "The family is not known to this front door",
    "other": "Another reason, recorded in our case record",
}
KINDS = {"move": "Move to another area", "step_down": "Step-down of a service"}


@dataclass(frozen=True)
class ProposalRow:
    event_id: str
    kind: str
    source: str
    to_area: str | None
    named: tuple[str, ...]
    proposed_at: datetime


def add_proposal_pages(app: FastAPI) -> None:
    routes: list[pages.Route] = [
        (PROPOSALS, proposals_page, "GET"),
        (PROPOSALS + "/{event_id}/confirm", confirm, "POST"),
        (PROPOSALS + "/{event_id}/reject", reject_page, "GET"),
        (PROPOSALS + "/{event_id}/reject", reject, "POST"),
    ]
    pages.add_routes(app, routes)


async def proposals_page(request: Request, done: str | None = None) -> Response:
    session = await sessions.signed_in(request)
    async with pages.runtime(request).unit_of_work() as uow:
        org_id = await pages.front_door_of(uow, session)
        if org_id is None:
            return await page_kit.not_found(request, session)
        rows = [await _row(uow, held) for held in await proposals.waiting(uow, org_id)]
    return pages.render(request, "proposals.html", session, rows=rows, front_door=True,
                        done=done if done in {"confirmed", "rejected"} else None)  # fmt: skip


async def confirm(request: Request, event_id: UUID) -> Response:
    """Recorded for the router's timer, which applies it and sends what it held back."""
    session = await pages.posted_by(request, await pages.form_of(request))
    try:
        async with pages.runtime(request).unit_of_work() as uow:
            org_id = await _front_door(uow, session)
            await proposals.accept_confirmation(uow, org_id, str(event_id), org_id,
                                                datetime.now(UTC))  # fmt: skip
    except proposals.ProposalError:
        return await page_kit.not_found(request, session, back=PROPOSALS)
    return RedirectResponse(f"{PROPOSALS}?done=confirmed", status_code=303)


async def reject_page(request: Request, event_id: UUID) -> Response:
    session = await sessions.signed_in(request)
    async with pages.runtime(request).unit_of_work() as uow:
        org_id = await pages.front_door_of(uow, session)
        waiting = await proposals.waiting(uow, org_id) if org_id else []
    if str(event_id) not in {held.event_id for held in waiting}:
        return await page_kit.not_found(request, session, back=PROPOSALS)
    return _reject_form(request, session, event_id, None, None)


async def reject(request: Request, event_id: UUID) -> Response:
    """Nothing changes in the directory, and nobody the proposal named is told."""
    form = await pages.form_of(request)
    session = await pages.posted_by(request, form)
    reason = form.get("reason", "")
    if reason not in REJECTION_REASONS:
        return _reject_form(request, session, event_id, "Select why you are rejecting it",
                            None, status_code=400)  # fmt: skip
    now = datetime.now(UTC)
    try:
        async with pages.runtime(request).unit_of_work() as uow:
            org_id = await _front_door(uow, session)
            await proposals.reject(uow, org_id, str(event_id), org_id, now)
            await uow.audit.append(AuditRecord(
                "directory_proposal", session.contact_id, f"event:{event_id}",
                {"outcome": "rejected", "reason": reason, "front_door": org_id},
            ), now)  # fmt: skip
    except proposals.ProposalError:
        return await page_kit.not_found(request, session, back=PROPOSALS)
    return RedirectResponse(f"{PROPOSALS}?done=rejected", status_code=303)


def _reject_form(
    request: Request, session: WebSessionRecord, event_id: UUID, error: str | None,
    reason: str | None,
    status_code: int = 200,
) -> Response:  # fmt: skip
    return pages.render(request, "proposal_reject.html", session, status_code=status_code,
                        event_id=str(event_id), error=error, reason=reason,
                        reasons=REJECTION_REASONS, front_door=True)  # fmt: skip


async def _front_door(uow: UnitOfWork, session: WebSessionRecord) -> str:
    """The signed-in contact's front door; anyone else is answered as for no proposal."""
    org_id = await pages.front_door_of(uow, session)
    if org_id is None:
        raise proposals.NoSuchProposal("not a front door")
    return org_id


async def _row(uow: UnitOfWork, held: HeldProposal) -> ProposalRow:
    return ProposalRow(held.event_id, KINDS.get(held.kind, held.kind),
                       await _org_name(uow, held.source_org), held.to_area,
                       tuple([await _org_name(uow, org) for org in sorted(held.named_orgs)]),
                       held.proposed_at)  # fmt: skip


async def _org_name(uow: UnitOfWork, org_id: str) -> str:
    org = await uow.recipients.organisation(org_id)
    return f"{org.name} ({org_id})" if org else org_id
