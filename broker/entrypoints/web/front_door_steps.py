"""The front door's next steps on the notices it received (issue 13 section 5), as the front
door API's ``.../notices/{id}/outcome`` and ``.../notices/{id}/steps/{step}`` routes: a
referral's decision (its outcome), a transfer's written information and transfer-in
conference, a MARAC referral considered, a move's history sent by hand; and the
data-quality report, as ``/v1/front-doors/{org}/data-quality``.

The list is the notices in the inboxes of the front door's contacts that owe a step, one per
chain (an escalation owes its first notice's steps), with each step's time and whether it
was met. It shows notice types, times and steps: nothing of a notice's body, which the
server cannot read. Each step recorded is audited by services/next_steps.py; a transfer a
peer broker sent is answered to the peer, as the API does. A notice of another organisation
is a 404.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from fastapi import FastAPI, Request, Response
from fastapi.responses import RedirectResponse

from broker.entrypoints.web import page_kit, pages, sessions, views
from broker.entrypoints.web.front_door import FRONT_DOOR
from broker.ports import InboxEntry, StepState, UnitOfWork, WebSessionRecord
from broker.rules.next_steps import OUTCOME_WORDS, STEP_WORDS
from broker.services import inbox, next_steps, peer_receipts
from schemas.notices import NextStep, ReferralOutcome

NEXT_STEPS = FRONT_DOOR + "/next-steps"
DATA_QUALITY = FRONT_DOOR + "/data-quality"
# Steps recorded as done, without an outcome (a decision has its own form), as the API's.
DONE_STEPS = frozenset({NextStep.WRITTEN_INFORMATION, NextStep.TRANSFER_IN_CONFERENCE,
                        NextStep.MARAC_REFERRAL_CONSIDERED, NextStep.HISTORY_SENT})  # fmt: skip


@dataclass(frozen=True)
class StepLine:
    step: str
    words: str
    due: str
    met: str | None  # when, London time
    outcome: str | None  # a decision's, in words


@dataclass(frozen=True)
class NoticeSteps:
    notice: views.NoticeRow
    steps: tuple[StepLine, ...]


def add_step_pages(app: FastAPI) -> None:
    routes: list[pages.Route] = [
        (NEXT_STEPS, next_steps_page, "GET"),
        (NEXT_STEPS + "/{notice_id}/outcome", outcome_page, "GET"),
        (NEXT_STEPS + "/{notice_id}/outcome", record_outcome, "POST"),
        (NEXT_STEPS + "/{notice_id}/steps/{step}", record_step_done, "POST"),
        (DATA_QUALITY, data_quality_page, "GET"),
    ]
    pages.add_routes(app, routes)


async def next_steps_page(request: Request, done: str | None = None) -> Response:
    session = await sessions.signed_in(request)
    async with pages.runtime(request).unit_of_work() as uow:
        org_id = await pages.front_door_of(uow, session)
        if org_id is None:
            return await page_kit.not_found(request, session)
        owing = await _owing(uow, org_id)
    return pages.render(request, "next_steps.html", session, owing=owing, front_door=True,
                        done=STEP_WORDS.get(NextStep(done)) if done in set(NextStep) else None,
                        done_steps={s.value for s in DONE_STEPS})  # fmt: skip


async def outcome_page(request: Request, notice_id: UUID) -> Response:
    session = await sessions.signed_in(request)
    async with pages.runtime(request).unit_of_work() as uow:
        org_id = await pages.front_door_of(uow, session)
        record = await uow.notice_records.get(str(notice_id)) if org_id else None
    if record is None or record.recipient_org != org_id:
        return await page_kit.not_found(request, session, back=NEXT_STEPS)
    return _outcome_form(request, session, notice_id, None)


async def record_outcome(request: Request, notice_id: UUID) -> Response:
    """The front door's decision on a referral: told to the referring agency by the timer."""
    form = await pages.form_of(request)
    session = await pages.posted_by(request, form)
    try:
        outcome = ReferralOutcome(form.get("outcome", ""))
    except ValueError:
        return _outcome_form(request, session, notice_id, "Select what the front door decided",
                             status_code=400)  # fmt: skip
    return await _record(request, session, notice_id, NextStep.DECISION, outcome)


async def record_step_done(request: Request, notice_id: UUID, step: str) -> Response:
    session = await pages.posted_by(request, await pages.form_of(request))
    if step not in {s.value for s in DONE_STEPS}:
        return await page_kit.not_found(request, session, back=NEXT_STEPS)
    return await _record(request, session, notice_id, NextStep(step), None)


async def data_quality_page(request: Request) -> Response:
    """Organisation codes, roles and counts: no person is named in it."""
    session = await sessions.signed_in(request)
    async with pages.runtime(request).unit_of_work() as uow:
        org_id = await pages.front_door_of(uow, session)
        if org_id is None:
            return await page_kit.not_found(request, session)
        lines = await uow.data_quality.report(org_id)
    return pages.render(request, "data_quality.html", session, lines=lines, front_door=True)


async def _record(
    request: Request, session: WebSessionRecord, notice_id: UUID, step: NextStep,
    outcome: ReferralOutcome | None,
) -> Response:  # fmt: skip
    rt = pages.runtime(request)
    try:
        async with rt.unit_of_work() as uow:
            org_id = await pages.front_door_of(uow, session)
            if org_id is None:
                raise inbox.NoticeNotFound("not a front door")
            done = await next_steps.record_step(
                uow, org_id, str(notice_id), step, outcome, datetime.now(UTC),
                rt.services.follow_ups,
            )  # fmt: skip
            if done.first:  # on a transfer a peer sent here, the peer is told (issue 16)
                await peer_receipts.owe_for_step(uow, str(notice_id), step, done.at)
    except inbox.NoticeNotFound:
        return await page_kit.not_found(request, session, back=NEXT_STEPS)
    except next_steps.StepRefused as exc:  # its wording names nobody
        return page_kit.not_done(request, session, str(exc), back=NEXT_STEPS)
    return RedirectResponse(f"{NEXT_STEPS}?done={step.value}", status_code=303)


def _outcome_form(
    request: Request, session: WebSessionRecord, notice_id: UUID, error: str | None,
    status_code: int = 200,
) -> Response:  # fmt: skip
    outcomes = {o.value: OUTCOME_WORDS[o].capitalize() for o in ReferralOutcome}
    return pages.render(request, "outcome.html", session, status_code=status_code,
                        notice_id=str(notice_id), outcomes=outcomes, error=error,
                        front_door=True)  # fmt: skip


async def _owing(uow: UnitOfWork, org_id: str) -> list[NoticeSteps]:
    """Each chain's steps once, on the first of its notices in the front door's inboxes; all
    the chains' steps read in one query, however many the page lists."""
    contacts = await uow.directory_rows.select_in("contacts", "org_id", [org_id])
    now, entries = datetime.now(UTC), list[InboxEntry]()
    for contact in contacts:
        entries += await inbox.list_notices(uow, str(contact["id"]), now)
    records = await uow.notice_records.of([e.notice_id for e in entries])
    firsts: dict[str, InboxEntry] = {}
    for entry in sorted(entries, key=lambda e: (e.delivered_at, e.notice_id)):
        record = records.get(entry.notice_id)
        if record is not None:
            firsts.setdefault(record.chain_id, entry)
    steps = await uow.steps_owed.of_chains(list(firsts))
    owing = [NoticeSteps(views.row(entry, records.get(entry.notice_id)), _lines(steps[chain]))
             for chain, entry in firsts.items() if steps.get(chain)]  # fmt: skip
    return owing[::-1]  # newest first, as the inbox


def _lines(states: list[StepState]) -> tuple[StepLine, ...]:
    return tuple(
        StepLine(
            state.step, STEP_WORDS[NextStep(state.step)].capitalize(), views.london(state.due_at),
            views.london(state.met_at) if state.met_at else None,
            OUTCOME_WORDS[ReferralOutcome(state.outcome)] if state.outcome else None,
        )
        for state in states
    )  # fmt: skip
