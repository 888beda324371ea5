"""Next steps owed on a notice: recorded when the notice is sealed, met when its reader says
so (a front door's decision, a transfer's written information or conference), told to the
referring agency, and escalated when overdue (rules: broker/rules/next_steps.py).

The inbox process records a step (it holds no signing key); the router's timer tells the
referring agency of a decision and escalates overdue steps, each in its own transaction and
claimed in it, so two timers send each notice once.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime

import structlog

from broker.adapters.directory import ContactRecord, contact_line
from broker.errors import DataKeyShredded
from broker.ports import AuditRecord, NoticeRecordView, StepState, UnitOfWork
from broker.rules.deadlines import deadline_for, nation_of
from broker.rules.family import Addressee, ContactRole
from broker.rules.next_steps import Decider, outcome_body, overdue_body
from broker.services import follow_ups, notice_records, receipts
from broker.services.inbox import NoticeNotFound
from schemas.notices import (
    FollowUp,
    NextStep,
    NoticeBody,
    NoticeHeader,
    NoticeType,
    Receipt,
    ReferralOutcome,
    Severity,
)

log = structlog.get_logger(__name__)
BATCH = 100


class StepRefused(receipts.ReceiptRefused):
    """A step this notice does not owe, or one that contradicts what was recorded (409)."""


@dataclass(frozen=True)
class StepRecorded:
    notice_id: str
    step: NextStep
    outcome: ReferralOutcome | None
    at: datetime
    first: bool


async def record_step(
    uow: UnitOfWork, org_id: str, notice_id: str, step: NextStep,
    outcome: ReferralOutcome | None, at: datetime, deps: follow_ups.FollowUpDeps,
) -> StepRecorded:  # fmt: skip
    """The front door (``org_id``, which received the notice or a follow-up of it) records a
    step met; a decision acknowledges the notice too. Once only: the same again is answered
    as before, a different one refused."""
    record = await uow.notice_records.get(notice_id)
    if record is None or record.recipient_org != org_id:
        raise NoticeNotFound("no such notice for this front door")
    if (step is NextStep.DECISION) != (outcome is not None):
        raise StepRefused("a decision, and only a decision, carries an outcome")
    owed = await uow.steps_owed.in_chain(record.chain_id, step.value)
    if owed is None:
        raise StepRefused(f"this notice owes no {step.value}")
    if owed.met_at is not None:
        if owed.outcome != (outcome.value if outcome else None):
            raise StepRefused(f"a different {step.value} was recorded already")
        return StepRecorded(notice_id, step, outcome, owed.met_at, first=False)
    await uow.steps_owed.meet(owed.notice_id, owed.step, record.recipient_id,
                              outcome.value if outcome else None, at,
                              tell=step is NextStep.DECISION)  # fmt: skip
    if record.acknowledged_at is None and record.rejected_at is None:
        await receipts.record(uow, record.recipient_id, uuid.UUID(notice_id),
                              Receipt.ACKNOWLEDGED, at, deps.data_keys)  # fmt: skip
    await uow.audit.append(AuditRecord(
        "next_step_recorded", org_id, owed.notice_id,
        {"step": step.value, "outcome": outcome.value if outcome else None,
         "on_notice": notice_id},
    ), at)  # fmt: skip
    return StepRecorded(notice_id, step, outcome, at, first=True)


async def due_for_telling(uow: UnitOfWork) -> list[tuple[str, str]]:
    """Decisions recorded whose referring agency the timer has yet to tell."""
    return await uow.steps_owed.awaiting_telling(BATCH)


async def tell_referrer(
    uow: UnitOfWork, notice_id: str, step: str, deps: follow_ups.FollowUpDeps, now: datetime
) -> str | None:
    """Sends the referring agency the front door's decision; answers the notice's id."""
    decided = await uow.steps_owed.take_telling(notice_id, step)
    if decided is None or decided.outcome is None:
        return None
    record = await uow.notice_records.get(notice_id)
    assert record is not None  # a milestone is recorded with its notice
    try:
        referral = notice_records.body_of(record, deps.data_keys)
    except DataKeyShredded:
        return None
    source = await _referrer(uow, record, referral)
    contact = await uow.recipients.contact_record(Addressee(source, ContactRole.SAFEGUARDING_LEAD))
    if contact is None:
        log.warning("outcome_has_no_referrer_contact", notice_id=notice_id)
        await uow.audit.append(AuditRecord("outcome_not_told", "broker", notice_id,
                                           {"reason": "no_referrer_contact", "org_id": source}),
                               now)  # fmt: skip
        return None
    header, body = await _outcome(uow, record, referral, decided, source, contact, deps, now)
    await follow_ups.add_follow_up(uow, record, header, body, contact, deps,
                                   f"{record.rule_id}.outcome", escalate_to=[],
                                   reroute_to=None)  # fmt: skip
    return str(header.notice_id)


async def _outcome(
    uow: UnitOfWork, record: NoticeRecordView, referral: NoticeBody, decided: StepState,
    source: str, contact: ContactRecord, deps: follow_ups.FollowUpDeps, now: datetime,
) -> tuple[NoticeHeader, NoticeBody]:  # fmt: skip
    """The outcome notice to the referrer: the decision, by whom and when, due by the
    referrer's own calendar."""
    assert decided.outcome is not None  # told only of a decision
    front_door = await uow.recipients.organisation(record.recipient_org)
    by = Decider(record.recipient_org, front_door.name if front_door else record.recipient_org,
                 contact_line(front_door) if front_door else record.recipient_org)  # fmt: skip
    acknowledged = await uow.notice_records.first_acknowledged(record.chain_id)
    body = outcome_body(referral, ReferralOutcome(decided.outcome), decided.met_at or now, by,
                        acknowledged, record.event_id)  # fmt: skip
    source_org = await uow.recipients.organisation(source)
    deadline = deadline_for(NoticeType.OUTCOME, Severity(record.severity), now,
                            nation=nation_of(source_org.area if source_org else None))  # fmt: skip
    return _header(record, contact, deps, now, "outcome", NoticeType.OUTCOME, deadline), body


async def _referrer(uow: UnitOfWork, record: NoticeRecordView, body: NoticeBody) -> str:
    """The agency whose event the referral came from, as the chronology recorded it."""
    recorded = await uow.chronologies.source_of_event(record.event_id)
    return recorded or body.source_org or record.recipient_org


async def due_overdue(uow: UnitOfWork, now: datetime) -> list[tuple[str, str]]:
    """Steps past their time, neither met nor escalated yet, in a chain someone has
    acknowledged: until then its own escalation chain is what chases it (one chase, not two)."""
    return await uow.steps_owed.overdue(now, BATCH)


async def escalate_overdue(
    uow: UnitOfWork, notice_id: str, step: str, deps: follow_ups.FollowUpDeps, now: datetime
) -> str | None:
    """Tells whoever must chase an overdue step: a referral's front door safeguarding lead,
    a transfer's originating authority (the notice's re-route target either way)."""
    claimed = await uow.steps_owed.claim_overdue(notice_id, step, now)
    if claimed is None:
        return None
    record = await uow.notice_records.get(notice_id)
    target = notice_records.reroute_target(record) if record else None
    contact = await uow.recipients.contact_record(target) if target else None
    if record is None or contact is None:
        log.warning("overdue_step_has_nobody_to_chase", notice_id=notice_id, step=step)
        return None
    try:
        original = notice_records.body_of(record, deps.data_keys)
    except DataKeyShredded:
        return None
    body = overdue_body(original, NextStep(step), claimed.due_at, record.recipient_org)
    header = _header(record, contact, deps, now, f"overdue.{step}",
                     NoticeType(record.notice_type), now + deps.escalation_period,
                     FollowUp.ESCALATION)  # fmt: skip
    await follow_ups.add_follow_up(uow, record, header, body, contact, deps,
                                   f"{record.rule_id}.overdue.{step}", escalate_to=[],
                                   reroute_to=None)  # fmt: skip
    await uow.audit.append(AuditRecord("next_step_overdue", "escalator", notice_id,
                                       {"step": step, "escalation": str(header.notice_id),
                                        "recipient_id": contact.contact_id}), now)  # fmt: skip
    return str(header.notice_id)


def _header(
    record: NoticeRecordView, contact: ContactRecord, deps: follow_ups.FollowUpDeps,
    now: datetime, kind: str, notice_type: NoticeType, deadline: datetime,
    follow_up: FollowUp | None = None,
) -> NoticeHeader:  # fmt: skip
    level = record.level + (1 if follow_up else 0)
    return follow_ups.follow_up_header(record, contact, deps, now, kind, notice_type, deadline,
                                       follow_up, level)  # fmt: skip
