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
from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from broker.adapters import audit, db
from broker.adapters.directory import ContactRecord, SqlDirectory, contact_line
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.errors import DataKeyShredded
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
    session: AsyncSession, org_id: str, notice_id: str, step: NextStep,
    outcome: ReferralOutcome | None, at: datetime, deps: follow_ups.FollowUpDeps,
) -> StepRecorded:  # fmt: skip
    """The front door (``org_id``, which received the notice or a follow-up of it) records a
    step met; a decision acknowledges the notice too. Once only: the same again is answered
    as before, a different one refused."""
    record = await session.get(db.NoticeRecord, notice_id)
    if record is None or record.recipient_org != org_id:
        raise NoticeNotFound("no such notice for this front door")
    if (step is NextStep.DECISION) != (outcome is not None):
        raise StepRefused("a decision, and only a decision, carries an outcome")
    milestone = await session.scalar(select(db.NoticeMilestone).where(
        db.NoticeMilestone.chain_id == record.chain_id, db.NoticeMilestone.step == step.value
    ).with_for_update())  # fmt: skip
    if milestone is None:
        raise StepRefused(f"this notice owes no {step.value}")
    if milestone.met_at is not None:
        if milestone.outcome != (outcome.value if outcome else None):
            raise StepRefused(f"a different {step.value} was recorded already")
        return StepRecorded(notice_id, step, outcome, milestone.met_at, first=False)
    milestone.met_at, milestone.met_by = at, record.recipient_id
    milestone.outcome = outcome.value if outcome else None
    milestone.tell_pending_since = at if step is NextStep.DECISION else None
    if record.acknowledged_at is None and record.rejected_at is None:
        await receipts.record(SqlUnitOfWork.joined(session), record.recipient_id,
                              uuid.UUID(notice_id), Receipt.ACKNOWLEDGED, at,
                              deps.data_keys)  # fmt: skip
    await audit.append(session, "next_step_recorded", org_id, milestone.notice_id,
                       {"step": step.value, "outcome": milestone.outcome,
                        "on_notice": notice_id}, at)  # fmt: skip
    return StepRecorded(notice_id, step, outcome, at, first=True)


async def due_for_telling(session: AsyncSession) -> list[tuple[str, str]]:
    """Decisions recorded whose referring agency the timer has yet to tell."""
    rows = await session.execute(
        select(db.NoticeMilestone.notice_id, db.NoticeMilestone.step)
        .where(db.NoticeMilestone.tell_pending_since.is_not(None))
        .order_by(db.NoticeMilestone.tell_pending_since).limit(BATCH)
    )  # fmt: skip
    return [(n, s) for n, s in rows.all()]


async def tell_referrer(
    session: AsyncSession, notice_id: str, step: str, deps: follow_ups.FollowUpDeps,
    now: datetime,
) -> str | None:  # fmt: skip
    """Sends the referring agency the front door's decision; answers the notice's id."""
    milestone = await session.get(db.NoticeMilestone, (notice_id, step), with_for_update=True)
    if milestone is None or milestone.tell_pending_since is None or milestone.outcome is None:
        return None
    milestone.tell_pending_since = None
    record = await session.get(db.NoticeRecord, notice_id)
    assert record is not None  # a milestone is recorded with its notice
    try:
        referral = notice_records.body_of(record, deps.data_keys)
    except DataKeyShredded:
        return None
    directory = SqlDirectory(session)
    source = await _referrer(session, record, referral)
    contact = await directory.contact_for(Addressee(source, ContactRole.SAFEGUARDING_LEAD))
    if contact is None:
        log.warning("outcome_has_no_referrer_contact", notice_id=notice_id)
        await audit.append(session, "outcome_not_told", "broker", notice_id,
                           {"reason": "no_referrer_contact", "org_id": source}, now)  # fmt: skip
        return None
    front_door = await directory.organisation(record.recipient_org)
    by = Decider(record.recipient_org, front_door.name if front_door else record.recipient_org,
                 contact_line(front_door) if front_door else record.recipient_org)  # fmt: skip
    body = outcome_body(referral, ReferralOutcome(milestone.outcome), milestone.met_at or now,
                        by, await _acknowledged_at(session, record), record.event_id)  # fmt: skip
    source_org = await directory.organisation(source)
    deadline = deadline_for(NoticeType.OUTCOME, Severity(record.severity), now,
                            nation=nation_of(source_org.area if source_org else None))  # fmt: skip
    header = _header(record, contact, deps, now, "outcome", NoticeType.OUTCOME, deadline)
    await follow_ups.add_follow_up(SqlUnitOfWork.joined(session), record, header, body,
                                   contact, deps, f"{record.rule_id}.outcome", escalate_to=[],
                                   reroute_to=None)  # fmt: skip
    return str(header.notice_id)


async def _referrer(session: AsyncSession, record: db.NoticeRecord, body: NoticeBody) -> str:
    """The agency whose event the referral came from, as the chronology recorded it."""
    recorded = await session.scalar(
        select(db.ChronologyEntry.source_org)
        .where(db.ChronologyEntry.event_id == record.event_id).limit(1)
    )  # fmt: skip
    return recorded or body.source_org or record.recipient_org


async def _acknowledged_at(session: AsyncSession, record: db.NoticeRecord) -> datetime | None:
    return await session.scalar(
        select(db.NoticeRecord.acknowledged_at)
        .where(db.NoticeRecord.chain_id == record.chain_id,
               db.NoticeRecord.acknowledged_at.is_not(None))
        .order_by(db.NoticeRecord.acknowledged_at).limit(1)
    )  # fmt: skip


async def due_overdue(session: AsyncSession, now: datetime) -> list[tuple[str, str]]:
    """Steps past their time, neither met nor escalated yet."""
    rows = await session.execute(
        select(db.NoticeMilestone.notice_id, db.NoticeMilestone.step)
        .where(*_overdue(now)).order_by(db.NoticeMilestone.due_at).limit(BATCH)
    )  # fmt: skip
    return [(n, s) for n, s in rows.all()]


def _overdue(now: datetime) -> tuple[ColumnElement[bool], ...]:
    """Unmet, not yet escalated, past its time, and the notice acknowledged: until someone
    has acknowledged it, its own escalation chain is what chases it (one chase, not two)."""
    acknowledged = select(db.NoticeRecord.notice_id).where(
        db.NoticeRecord.chain_id == db.NoticeMilestone.chain_id,
        db.NoticeRecord.acknowledged_at.is_not(None),
    )
    return (db.NoticeMilestone.met_at.is_(None), db.NoticeMilestone.escalated_at.is_(None),
            db.NoticeMilestone.due_at <= now, acknowledged.exists())  # fmt: skip


async def escalate_overdue(
    session: AsyncSession, notice_id: str, step: str, deps: follow_ups.FollowUpDeps,
    now: datetime,
) -> str | None:  # fmt: skip
    """Tells whoever must chase an overdue step: a referral's front door safeguarding lead,
    a transfer's originating authority (the notice's re-route target either way)."""
    claimed = await session.execute(
        update(db.NoticeMilestone)
        .where(db.NoticeMilestone.notice_id == notice_id, db.NoticeMilestone.step == step,
               *_overdue(now))
        .values(escalated_at=now)
    )  # fmt: skip
    if not claimed.rowcount:  # type: ignore[attr-defined]
        return None
    record = await session.get(db.NoticeRecord, notice_id)
    milestone = await session.get(db.NoticeMilestone, (notice_id, step))
    target = notice_records.reroute_target(record) if record else None
    contact = await SqlDirectory(session).contact_for(target) if target else None
    if record is None or milestone is None or contact is None:
        log.warning("overdue_step_has_nobody_to_chase", notice_id=notice_id, step=step)
        return None
    try:
        original = notice_records.body_of(record, deps.data_keys)
    except DataKeyShredded:
        return None
    body = overdue_body(original, NextStep(step), milestone.due_at, record.recipient_org)
    header = _header(record, contact, deps, now, f"overdue.{step}",
                     NoticeType(record.notice_type), now + deps.escalation_period,
                     FollowUp.ESCALATION)  # fmt: skip
    await follow_ups.add_follow_up(SqlUnitOfWork.joined(session), record, header, body,
                                   contact, deps, f"{record.rule_id}.overdue.{step}",
                                   escalate_to=[],
                                   reroute_to=None)  # fmt: skip
    await audit.append(session, "next_step_overdue", "escalator", notice_id,
                       {"step": step, "escalation": str(header.notice_id),
                        "recipient_id": contact.contact_id}, now)  # fmt: skip
    return str(header.notice_id)


def _header(
    record: db.NoticeRecord, contact: ContactRecord, deps: follow_ups.FollowUpDeps,
    now: datetime, kind: str, notice_type: NoticeType, deadline: datetime,
    follow_up: FollowUp | None = None,
) -> NoticeHeader:  # fmt: skip
    level = record.level + (1 if follow_up else 0)
    return follow_ups.follow_up_header(record, contact, deps, now, kind, notice_type, deadline,
                                       follow_up, level)  # fmt: skip
