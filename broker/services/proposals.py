"""Directory changes proposed by events (a move, a step-down), and the front door's answer.

Routing asks ``broker.rules.trust`` what an event's proposal is worth and calls ``settle`` in
its transaction: applied at once (from the family's own front door), held here for the
family's front door (from another linked organisation), or refused (from an organisation the
directory does not link to the family). Every outcome is in the audit log, and every write to
the directory is a directory change (``directory_changes.record``) naming who made it.

The front door then confirms a held proposal (``accept_confirmation``; the router's timer,
which alone holds the keys to open the event and sign notices, then ``confirm``s it: the
change is applied, and the notices withheld until then go to the receiving authority, the
new school and GP, with deadlines from the confirmation) or rejects it (``reject``: nothing
changes, nobody new is told).

ProposalError (BrokerError)
├── NoSuchProposal        nothing pending under that id
└── ProposalOfAnother     pending, but for another front door to answer
"""

from datetime import datetime
from typing import TYPE_CHECKING

from broker.adapters import chronology
from broker.adapters.directory import FamilyContext
from broker.errors import BrokerError
from broker.ports import AuditRecord, HeldProposal, Message, UnitOfWork
from broker.rules.admission import Arrival
from broker.rules.family import Decision, Family
from broker.rules.move import route_move
from broker.rules.step_down import route_step_down
from broker.rules.trust import (
    Proposal,
    ProposalKind,
    Verdict,
    linked_orgs,
    told_on_confirmation,
)
from broker.services import directory_changes
from broker.services.routing_group import GroupState
from broker.services.sealing import EventNotices
from producers.envelopes import open_event
from schemas.events import Event, FamilyMovingArea, ServiceWithdrawal
from schemas.notices import NoticeHeader
from schemas.transport import EventHeader, SealedEvent

if TYPE_CHECKING:
    from broker.services.routing import RoutingDeps

PENDING = "pending"
CONFIRMING = "confirming"  # confirmed by the front door, for the router's timer to apply


class ProposalError(BrokerError):
    pass


class NoSuchProposal(ProposalError):
    """No proposal with this id is waiting for a front door's answer."""


class ProposalOfAnother(ProposalError):
    """The proposal waits for the answer of another front door (the family's)."""


async def settle(
    uow: UnitOfWork,
    sealed: SealedEvent,
    event: Event,
    family: Family,
    proposal: Proposal,
    verdict: Verdict,
    now: datetime,
) -> None:
    """Records what became of the event's proposal, in the routing transaction."""
    details = _details(proposal, verdict.value)
    await uow.audit.append(AuditRecord("directory_proposal", event.source_org,
                                       f"event:{event.event_id}", details), now)  # fmt: skip
    if verdict is Verdict.APPLY:
        await apply(uow, event, family, actor=event.source_org)
    elif verdict is Verdict.AWAIT and proposal.front_door is not None:
        await uow.proposals.hold(HeldProposal(
            event_id=str(event.event_id), kind=proposal.kind.value,
            source_org=proposal.source_org, front_door=proposal.front_door,
            to_area=proposal.to_area, named_orgs=proposal.named_orgs,
            sealed_event=sealed.model_dump_json(), status=PENDING, proposed_at=now,
        ))  # fmt: skip


async def apply(uow: UnitOfWork, event: Event, family: Family, actor: str) -> None:
    """Writes the move or step-down to the directory, each write a logged directory change
    (stamped when it is written, by the wall clock, as the change log orders them)."""
    directory = uow.directory
    if isinstance(event, FamilyMovingArea):
        moved = await directory.record_move(family.moving_households(), event.to_authority,
                                            event.moved_on)  # fmt: skip
        for household_id in moved:
            await directory_changes.record(uow, actor, "household", household_id, "updated",
                                           ["area"])  # fmt: skip
    elif isinstance(event, ServiceWithdrawal):
        for plan_id in await directory.record_step_down(event, family):
            await directory_changes.record(uow, actor, "plan", plan_id, "created",
                                           ["kind", "step_down_until", "owners"])  # fmt: skip


async def waiting(uow: UnitOfWork, front_door: str) -> list[HeldProposal]:
    """The proposals waiting for this front door's answer, oldest first."""
    return await uow.proposals.with_status(PENDING, front_door=front_door)


async def accept_confirmation(
    uow: UnitOfWork, front_door: str, event_id: str, actor: str, now: datetime
) -> None:
    """The front door's confirmation, recorded for the router's timer (``confirm``): the
    front door's API holds no key to open the event or sign the notices it releases."""
    await _pending(uow, front_door, event_id)
    await uow.proposals.mark_decided(event_id, CONFIRMING, actor, now)


async def confirming(uow: UnitOfWork) -> list[str]:
    """Confirmed proposals the router's timer has yet to apply, oldest first."""
    return [p.event_id for p in await uow.proposals.with_status(CONFIRMING, limit=100)]


async def confirm(deps: "RoutingDeps", event_id: str) -> tuple[list[NoticeHeader], list[Message]]:
    """Applies a confirmed proposal as its front door confirmed it, and seals the notices it
    withheld; answers them and the records to publish once committed (the caller publishes
    through the outbox). Nothing when another timer applied it first."""
    async with deps.units() as uow:
        row = await uow.proposals.get_for_update(event_id)
        if row is None or row.status != CONFIRMING or row.decided_at is None:
            return [], []
        now, actor = row.decided_at, row.decided_by or row.front_door
        event = _opened(row, deps)
        context = await uow.directory.family_for(event.people(), event.source_org)
        # Decided on the family as it was proposed: the move's notices name where it leaves.
        decisions = _released(event, context.family, row, now)
        await apply(uow, event, context.family, actor=actor)
        sent, reports = await _seal(uow, event, context, decisions, deps, now)
        await uow.proposals.mark_decided(row.event_id, "confirmed", actor, now)
        await uow.audit.append(_decision_record(row, "confirmed", actor, len(sent)), now)
    return [notice for notice, _ in sent], list(reports)


async def reject(
    uow: UnitOfWork, front_door: str, event_id: str, actor: str, now: datetime
) -> None:
    """Nothing changes and nobody the proposal named is told."""
    row = await _pending(uow, front_door, event_id)
    await uow.proposals.mark_decided(event_id, "rejected", actor, now)
    await uow.audit.append(_decision_record(row, "rejected", actor, 0), now)


async def _pending(uow: UnitOfWork, front_door: str, event_id: str) -> HeldProposal:
    row = await uow.proposals.get_for_update(event_id)
    if row is None or row.status != PENDING:
        raise NoSuchProposal("no proposal with this id is waiting for an answer")
    if row.front_door != front_door:
        raise ProposalOfAnother("this proposal is for the family's own front door to answer")
    return row


def _opened(row: HeldProposal, deps: "RoutingDeps") -> Event:
    sealed = SealedEvent.model_validate_json(row.sealed_event)
    key = deps.keys.hpke_for(EventHeader.model_validate_json(sealed.header).broker_key_id)
    _, signed = open_event(sealed, key)
    return signed.event()  # its signature was verified when it was first routed


def _released(event: Event, family: Family, row: HeldProposal, now: datetime) -> list[Decision]:
    proposal = Proposal(ProposalKind(row.kind), row.source_org, row.front_door, row.to_area,
                        row.named_orgs)  # fmt: skip
    if isinstance(event, ServiceWithdrawal):
        # The step-down plan goes to the owners it named that were held back: those the
        # directory already linked to the family were told at the step-down.
        linked = linked_orgs(family)
        released = told_on_confirmation(route_step_down(event, family), proposal)
        return [d for d in released if d.addressee.org_id not in linked]
    if not isinstance(event, FamilyMovingArea):
        return []
    return told_on_confirmation(route_move(event, family, now.date()), proposal)


async def _seal(
    uow: UnitOfWork, event: Event, context: FamilyContext, decisions: list[Decision],
    deps: "RoutingDeps", now: datetime,
) -> tuple[list[tuple[NoticeHeader, Decision]], list[Message]]:  # fmt: skip
    # Deadlines run from the confirmation: nobody could act on the notices before it.
    confirmed = Arrival.of(event, now)
    notices = EventNotices(uow, event, confirmed, context, deps)
    reports, sent = await notices.seal_all(decisions)
    homes = dict.fromkeys(m.household_id for m in context.family.members if m.household_id)
    # Written as a group of one writes its lines and audit entries.
    written = GroupState.empty()
    written.chronology += chronology.lines(homes, confirmed, event.occurred_at, frozenset(),
                                           sent, with_event=False)  # fmt: skip
    for notice, decision in sent:
        ids = {"event_id": str(notice.event_id), "recipient_id": notice.recipient_id,
               "rule_id": decision.rule_id, "severity": notice.severity.value}  # fmt: skip
        written.audit.append((now, AuditRecord("notice_produced", "router",
                                               str(notice.notice_id), ids)))  # fmt: skip
    await uow.routed_events.write(written)
    await uow.routed_events.append_audit(written)
    return sent, list(reports)


def _decision_record(row: HeldProposal, status: str, actor: str, notices: int) -> AuditRecord:
    details = {"kind": row.kind, "outcome": status, "source_org": row.source_org,
               "to_area": row.to_area, "notices": notices}  # fmt: skip
    return AuditRecord("directory_proposal", actor, f"event:{row.event_id}", details)


def _details(proposal: Proposal, outcome: str) -> dict[str, str | int | bool | None]:
    return {"kind": proposal.kind.value, "outcome": outcome, "source_org": proposal.source_org,
            "front_door": proposal.front_door, "to_area": proposal.to_area,
            "named_orgs": ",".join(sorted(proposal.named_orgs))}  # fmt: skip
