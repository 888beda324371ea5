"""What a local authority's front door uses beyond its inbox: the matching queue of events
about people the directory does not know, and a household's multi-agency chronology.

Every route needs a front door's access token (the ``front-door`` scope). A front door reads
its own queue, matches people of its own area, and reads the chronologies of households of
its area (see services/household_access.py). Every read of personal data here is audited.

This runs in the inbox process, which holds no key that opens an event or signs a notice
(broker/keys.py): the queue's people are read with each entry's data key, and a match or a
proposal's confirmation is recorded here (answered ``accepted``) and carried out by the
router's timer within a round (consumers/follow_up_timer.py).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Literal, NamedTuple
from uuid import UUID

from fastapi import APIRouter, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from broker.adapters.tokens import Principal
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.bootstrap import Runtime
from broker.entrypoints import auth, http_errors
from broker.entrypoints.path_ids import OrgInPath, RecordInPath
from broker.errors import DataKeyShredded, DataKeyUnusable, NotAuthorised
from broker.ports import AuditRecord, ChronologyLine, ParkedEvent
from broker.rules.school_notice import REFERENCE_PATTERN
from broker.services import (
    household_access,
    matching,
    next_steps,
    peer_receipts,
    proposals,
    references,
)
from schemas.events import PersonRef
from schemas.notices import NextStep, ReferralOutcome

router = APIRouter()


class QueuedEvent(BaseModel):
    event_id: UUID
    event_type: str
    received_at: datetime
    status: str = Field("waiting", description="waiting for a match, or accepted: matched, "
                        "and being routed")  # fmt: skip
    people: list[PersonRef]


class Link(BaseModel):
    position: int = Field(ge=0, description="the person's position in the event, subject first")
    person_id: str


class MatchRequest(BaseModel):
    """Who matched is the organisation whose token asks: a ``matched_by`` text, which older
    clients send, is ignored."""

    links: list[Link] = Field(min_length=1)


class Matched(BaseModel):
    event_id: UUID
    status: str = Field(description="accepted: recorded; the router publishes and routes the "
                        "event within a round of its timer")  # fmt: skip


@router.get("/v1/front-doors/{org_id}/matching-queue", response_model=list[QueuedEvent])
async def matching_queue(
    request: Request, org_id: OrgInPath, caller: auth.FrontDoor
) -> list[QueuedEvent]:
    """The events waiting for this front door to say who their people are. Each event shown
    is an audited read: it names people."""
    _own(org_id, caller)
    rt = _rt(request)
    async with SqlUnitOfWork(rt.sessions) as uow:
        entries = await matching.read_queue(uow, org_id, caller.org_id, datetime.now(UTC))
    return [
        QueuedEvent(event_id=UUID(entry.event_id), event_type=entry.event_type,
                    received_at=entry.received_at, status=_shown_status(entry.status),
                    people=_people(entry, rt))
        for entry in entries
    ]  # fmt: skip


def _people(entry: ParkedEvent, rt: Runtime) -> list[PersonRef]:
    """Read with the entry's data key, never the broker's event key (this process has none);
    empty while not yet readable (parked by an older router, kept on the timer's next round)."""
    try:
        return matching.people_of(entry, rt.data_keys).people
    except (matching.NotInQueue, DataKeyShredded, DataKeyUnusable):
        return []


def _shown_status(status: str) -> str:
    return "waiting" if status == matching.WAITING else "accepted"


@router.post("/v1/front-doors/{org_id}/matching-queue/{event_id}/match", response_model=Matched,
             responses=http_errors.responses(409))  # fmt: skip
async def match(
    request: Request, org_id: OrgInPath, event_id: UUID, body: MatchRequest, caller: auth.FrontDoor
) -> Matched | JSONResponse:
    """Says who the event's people are (people of this front door's area only). The answer
    is ``accepted``: the match is recorded (the identifiers learnt, audited), and the router
    publishes the event again within a round of its timer and routes it to the whole family;
    the queue shows it until then."""
    _own(org_id, caller)
    rt = _rt(request)
    try:
        async with SqlUnitOfWork(rt.sessions) as uow:
            entry, named = await matching.queued(uow, org_id, str(event_id), rt.data_keys)
            links = {link.position: link.person_id for link in body.links}
            await matching.match(uow, entry, named, links, caller.org_id, datetime.now(UTC))
    except matching.NotInArea:
        async with SqlUnitOfWork(rt.sessions) as uow:  # the match was rolled back; this stays
            refusal = AuditRecord("access_refused", caller.org_id, str(event_id),
                                  {"status": 403, "reason": "person_not_in_callers_area",
                                   "action": "match"})  # fmt: skip
            await uow.audit.append(refusal, datetime.now(UTC))
        detail = "a front door matches only people who live in its area"
        return http_errors.detail(403, detail)
    return Matched(event_id=event_id, status="accepted")


@router.get("/v1/households/{household_id}/chronology", response_model=list[ChronologyLine],
            responses=http_errors.responses(410))  # fmt: skip
async def household_chronology(
    request: Request, household_id: RecordInPath, caller: auth.FrontDoor
) -> list[ChronologyLine] | JSONResponse:
    """Every event and notice for the household: who was told what, when, and their receipts.
    Only for the front door of an area the household lives in, lived in, or is moving to."""
    rt = _rt(request)
    async with SqlUnitOfWork(rt.sessions) as uow:  # commits the audit entry of a refusal too
        read = await household_access.read_chronology(
            uow, rt.data_keys, rt.keys.pseudonym_secret, caller.org_id, household_id,
            datetime.now(UTC),
        )  # fmt: skip
    if isinstance(read, household_access.Refusal):
        return http_errors.detail(household_access.STATUS[read], _REFUSALS[read])
    return read


_REFUSALS = {
    household_access.Refusal.NOT_YOURS: "this household is not in this front door's area",
    household_access.Refusal.SHREDDED: "this household's data was deleted",
}


class DataQualityLine(BaseModel):
    gap: str
    org_id: str | None
    role: str | None
    occurrences: int
    first_seen: datetime
    last_seen: datetime
    what_to_do: str


@router.get("/v1/front-doors/{org_id}/data-quality", response_model=list[DataQualityLine])
async def data_quality_report(
    request: Request, org_id: OrgInPath, caller: auth.FrontDoor
) -> list[DataQualityLine]:
    """Notices in this front door's area that could not reach the reader the rules chose (and
    came here instead), and chains of escalation that ran out: a line per gap and record."""
    _own(org_id, caller)
    async with SqlUnitOfWork(_rt(request).sessions) as uow:
        lines = await uow.data_quality.report(org_id)
    return [
        DataQualityLine(gap=line.gap.value, org_id=line.org_id, role=line.role,
                        occurrences=line.occurrences, first_seen=line.first_seen,
                        last_seen=line.last_seen, what_to_do=line.what_to_do)
        for line in lines
    ]  # fmt: skip


def _own(org_id: str, caller: Principal) -> None:
    if org_id != caller.org_id:
        raise NotAuthorised("this queue belongs to another front door")


def _rt(request: Request) -> Runtime:
    rt: Runtime = request.app.state.rt
    return rt


async def not_in_queue(_request: Request, exc: matching.NotInQueue) -> JSONResponse:
    return http_errors.detail(404, str(exc))


async def conflict(_request: Request, exc: matching.MatchConflict) -> JSONResponse:
    return http_errors.detail(409, str(exc))


# --------------------------------------------------------------------------- proposals
# A move or step-down an event proposed, held for the family's front door (issue 12): only
# that front door lists, confirms or rejects it; another caller is refused and audited.


class ProposalView(BaseModel):
    event_id: UUID
    kind: str
    source_org: str
    to_area: str | None
    named_orgs: list[str] = Field(description="organisations told only once confirmed")
    proposed_at: datetime


class ProposalDecided(BaseModel):
    event_id: UUID
    status: str = Field(description="accepted (a confirmation, applied by the router within "
                        "a round of its timer) or rejected")  # fmt: skip
    notices: int = Field(
        0,
        description="always 0 now: the notices a confirmation releases "
        "are counted in the audit log once the router has sent them",
    )


@router.get("/v1/front-doors/{org_id}/proposals", response_model=list[ProposalView])
async def pending_proposals(
    request: Request, org_id: OrgInPath, caller: auth.FrontDoor
) -> list[ProposalView]:
    """Moves and step-downs proposed by organisations linked to the family, waiting for this
    front door: ids and organisation codes only."""
    _own(org_id, caller)
    async with SqlUnitOfWork(_rt(request).sessions) as uow:
        rows = await proposals.waiting(uow, org_id)
    return [
        ProposalView(event_id=UUID(r.event_id), kind=r.kind, source_org=r.source_org,
                     to_area=r.to_area, named_orgs=sorted(r.named_orgs),
                     proposed_at=r.proposed_at)
        for r in rows
    ]  # fmt: skip


@router.post(
    "/v1/front-doors/{org_id}/proposals/{event_id}/confirm", response_model=ProposalDecided
)
async def confirm_proposal(
    request: Request, org_id: OrgInPath, event_id: UUID, caller: auth.FrontDoor
) -> ProposalDecided:
    """Confirms the move or step-down: answered ``accepted``, and within a round of the
    router's timer it is applied to the directory and the notices it held back are sent
    (the receiving authority's transfer, the new school and GP)."""
    _own(org_id, caller)
    with _proposal_errors():
        async with SqlUnitOfWork(_rt(request).sessions) as uow:
            await proposals.accept_confirmation(uow, org_id, str(event_id), caller.org_id,
                                                datetime.now(UTC))  # fmt: skip
    return ProposalDecided(event_id=event_id, status="accepted")


@router.post("/v1/front-doors/{org_id}/proposals/{event_id}/reject", response_model=ProposalDecided)
async def reject_proposal(
    request: Request, org_id: OrgInPath, event_id: UUID, caller: auth.FrontDoor
) -> ProposalDecided:
    """Nothing changes in the directory, and nobody the proposal named is told."""
    _own(org_id, caller)
    with _proposal_errors():
        async with SqlUnitOfWork(_rt(request).sessions) as uow:
            await proposals.reject(uow, org_id, str(event_id), caller.org_id,
                                   datetime.now(UTC))  # fmt: skip
    return ProposalDecided(event_id=event_id, status="rejected")


@contextmanager
def _proposal_errors() -> Iterator[None]:
    try:
        yield
    except proposals.NoSuchProposal as exc:
        raise HTTPException(404, str(exc)) from None
    except proposals.ProposalOfAnother as exc:
        raise NotAuthorised(str(exc)) from None


# --------------------------------------------------------------------------- references
# A school quotes the reference its notice gave (broker/rules/school_notice.py): the front
# door finds the notice, and the household whose chronology tells the rest.


class ReferencedNotice(BaseModel):
    notice_id: UUID
    household_id: str
    event_id: UUID
    recipient_id: str | None
    at: datetime


@router.get(
    "/v1/front-doors/{org_id}/references/{reference}", response_model=list[ReferencedNotice]
)
async def find_reference(
    request: Request,
    org_id: OrgInPath,
    reference: Annotated[str, PathParam(pattern=REFERENCE_PATTERN)],
    caller: auth.FrontDoor,
) -> list[ReferencedNotice]:
    """The notices a quoted reference names in households this front door may read (none
    elsewhere); each names the household whose chronology to read next."""
    _own(org_id, caller)
    async with SqlUnitOfWork(_rt(request).sessions) as uow:
        found = await references.look_up(uow, org_id, reference, datetime.now(UTC))
    return [
        ReferencedNotice(notice_id=UUID(f.notice_id), household_id=f.household_id,
                         event_id=UUID(f.event_id), recipient_id=f.recipient_id, at=f.at)
        for f in found
    ]  # fmt: skip


# --------------------------------------------------------------------------- next steps
# What the front door did with a notice it received (issue 13 section 5): its decision on a
# referral, told to the referring agency by the router's timer; a transfer's next steps.


class OutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: ReferralOutcome


class StepRecorded(BaseModel):
    notice_id: UUID
    step: NextStep
    outcome: ReferralOutcome | None = None
    at: datetime
    first: bool = Field(description="false: this was recorded already, and stands")


# The steps recorded as done, without an outcome (a decision has its own route).
DoneStep = Literal[
    NextStep.WRITTEN_INFORMATION,
    NextStep.TRANSFER_IN_CONFERENCE,
    NextStep.MARAC_REFERRAL_CONSIDERED,
    NextStep.HISTORY_SENT,  # a move's history sent by hand to an authority not reached
]


class TakenStep(NamedTuple):
    step: NextStep
    outcome: ReferralOutcome | None = None  # a decision's


@router.post("/v1/front-doors/{org_id}/notices/{notice_id}/outcome", response_model=StepRecorded,
             responses=http_errors.responses(409))  # fmt: skip
async def record_outcome(
    request: Request, org_id: OrgInPath, notice_id: UUID, body: OutcomeIn, caller: auth.FrontDoor
) -> StepRecorded:
    """The front door's decision on a referral it received (or a follow-up of it): no
    further action, early help, assessment, strategy discussion or transferred. It
    acknowledges the referral too, is audited, shows in the chronology, and the referring
    agency is sent a ``referral_outcome`` notice within a round of the router's timer."""
    return await _step(
        request, org_id, notice_id, TakenStep(NextStep.DECISION, body.outcome), caller
    )


@router.post(
    "/v1/front-doors/{org_id}/notices/{notice_id}/steps/{step}", response_model=StepRecorded,
    responses=http_errors.responses(409),
)  # fmt: skip
async def record_step_done(
    request: Request, org_id: OrgInPath, notice_id: UUID, step: DoneStep, caller: auth.FrontDoor
) -> StepRecorded:
    """A next step done: a transfer's by the receiving authority (the written information
    received in Wales, the transfer-in conference held), each escalating at the originating
    authority once its time has passed; on a high-risk domestic abuse referral, a MARAC
    referral considered (made or not: the front door's case record says which), escalating
    to the front door's safeguarding lead when it is not recorded in the working day."""
    return await _step(request, org_id, notice_id, TakenStep(NextStep(step)), caller)


async def _step(
    request: Request, org_id: str, notice_id: UUID, taken: TakenStep, caller: Principal
) -> StepRecorded:
    step, outcome = taken
    _own(org_id, caller)
    rt = _rt(request)
    deps = rt.services.follow_ups  # built once, in bootstrap
    async with SqlUnitOfWork(rt.sessions) as uow:
        done = await next_steps.record_step(uow, org_id, str(notice_id), step, outcome,
                                            datetime.now(UTC), deps)  # fmt: skip
        if done.first:  # on a transfer a peer sent here, the peer is told (issue 16)
            await peer_receipts.owe_for_step(uow, str(notice_id), step, done.at)
    return StepRecorded(notice_id=notice_id, step=done.step, outcome=done.outcome, at=done.at,
                        first=done.first)  # fmt: skip
