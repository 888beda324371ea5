"""A step-down plan's review reminder to its lead professional.

Scheduled (``schedule``) in the transaction that seals the lead's step-down notice, for the
moment a pure rule gives (``step_down.reminder_at``); sent by the router's timer (``due``,
``send``) as a notice following the step-down notice: the plan as the lead received it,
worded as its review, with its own deadline and the step-down notice's escalation steps. Its
id is derived from the step-down notice and it is claimed in its transaction, so there is one
reminder however many timers run.
"""

import uuid
from datetime import date, datetime

import structlog

from broker.adapters.directory import OrgRecord, working_hours_of
from broker.errors import DataKeyShredded, DataKeyUnusable, RecipientKeyUnusable
from broker.ports import AuditRecord, NoticeRecordView, UnitOfWork
from broker.rules.deadlines import deadline_for, nation_of
from broker.rules.family import Addressee, ContactRole, Decision
from broker.rules.minimisation import rule_for_reader
from broker.rules.plan_bodies import review_reminder
from broker.rules.step_down import REMINDER_RULE, is_reminded, reminder_at
from broker.services import notice_records
from broker.services.follow_ups import FollowUpDeps, chronicle
from producers import recipient_keys
from schemas.notices import FollowUp, NoticeHeader, NoticeType, Severity

log = structlog.get_logger(__name__)
REMINDER_NAMESPACE = uuid.UUID("5d7e2a91-0c3b-4f8e-b6a4-9e1d2c7f3a58")
BATCH = 100


async def schedule(
    uow: UnitOfWork, notice: NoticeHeader, decision: Decision, org: OrgRecord | None
) -> None:
    """Schedules the review reminder of a lead professional's step-down notice."""
    review_by = decision.facts.get("review_by")
    if not is_reminded(decision.rule_id, decision.facts.get("step_down_role")):
        return
    if not isinstance(review_by, str):
        return
    due = reminder_at(date.fromisoformat(review_by), working_hours_of(org),
                      nation_of(org.area if org else None))  # fmt: skip
    await uow.plan_reminders.schedule(str(notice.notice_id), due)


async def due(uow: UnitOfWork, now: datetime) -> list[str]:
    """The step-down notices whose reminder is due and not yet sent, oldest first."""
    return await uow.plan_reminders.due(now, BATCH)


async def send(uow: UnitOfWork, notice_id: str, deps: FollowUpDeps, now: datetime) -> str | None:
    """Sends the reminder of this step-down notice, if nobody has; answers its id. A plan
    whose household was shredded, or whose lead can no longer be reached, is reminded to
    nobody (logged by ids)."""
    claimed = await uow.plan_reminders.claim(notice_id, now)
    record = await uow.notice_records.get(notice_id)
    if not claimed or record is None:
        return None
    try:
        return await _remind(uow, record, deps, now)
    except (DataKeyShredded, DataKeyUnusable, RecipientKeyUnusable) as exc:
        log.warning("plan_reminder_not_sent", notice_id=notice_id, error=type(exc).__name__)
        return None


async def _remind(
    uow: UnitOfWork, record: NoticeRecordView, deps: FollowUpDeps, now: datetime
) -> str | None:
    lead = Addressee(record.recipient_org, ContactRole.SAFEGUARDING_LEAD)
    contact = await uow.recipients.contact_record(lead)
    if contact is None:
        log.warning("plan_reminder_no_contact", notice_id=record.notice_id)
        return None
    org = await uow.recipients.organisation(contact.org_id)
    severity = Severity(record.severity)
    header = NoticeHeader(
        notice_id=uuid.uuid5(REMINDER_NAMESPACE, f"{record.notice_id}|{FollowUp.REMINDER}"),
        event_id=uuid.UUID(record.event_id), household=record.household,
        recipient_id=contact.contact_id, recipient_org=contact.org_id,
        notice_type=NoticeType.PLAN_OWNER, severity=severity, created_at=now,
        deadline=deadline_for(NoticeType.PLAN_OWNER, severity, now,
                              nation=nation_of(org.area if org else None),
                              hours=working_hours_of(org)),
        recipient_key_id=contact.key_id, suite=recipient_keys.suite_of(contact.hpke_public_key),
        signing_key_id=deps.keys.public.signing_key_id, follows=uuid.UUID(record.notice_id),
        follow_up=FollowUp.REMINDER,
    )  # fmt: skip
    body = review_reminder(notice_records.body_of(record, deps.data_keys))
    body = body.model_copy(
        update={"rule_id": rule_for_reader(REMINDER_RULE, NoticeType.PLAN_OWNER)}
    )
    await notice_records.add(uow, header, body, contact, deps.keys, deps.data_keys,
                             rule_id=REMINDER_RULE,
                             escalate_to=notice_records.escalation_steps(record),
                             reroute_to=notice_records.reroute_target(record))  # fmt: skip
    reminder_id = str(header.notice_id)
    await uow.plan_reminders.sent_as(record.notice_id, reminder_id)
    await chronicle(uow, record, header, REMINDER_RULE)
    await uow.audit.append(AuditRecord(
        "notice_produced", "broker", reminder_id,
        {"event_id": record.event_id, "recipient_id": header.recipient_id,
         "rule_id": REMINDER_RULE, "severity": severity.value, "follows": record.notice_id},
    ), now)  # fmt: skip
    return reminder_id
