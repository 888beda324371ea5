"""Notices that follow others: escalations of missed deadlines, and re-routed rejections.

Each follow-up is an ordinary notice, sealed for its own recipient with its own deadline,
recorded in the transaction that decided it and published through the outbox. Its id is
derived from the notice it follows, so however often a decision is retried (a restart, two
escalators at once) there is one follow-up, and the claim on the earlier notice
(``escalated_at``) is taken in the same transaction, so none is missed or repeated.
"""

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import structlog
from cryptography.exceptions import InvalidTag

from broker.adapters import metrics
from broker.adapters.data_quality import Gap, Issue
from broker.adapters.directory import ContactRecord, working_hours_of
from broker.errors import DataKeyShredded, DataKeyUnusable, KeyFileError, RecipientKeyUnusable
from broker.keys import KeyStore
from broker.ports import (
    AuditDetails,
    AuditRecord,
    ChronologyLine,
    DataKeyStore,
    Message,
    NoticeRecordView,
    RecipientDirectory,
    UnitOfWork,
)
from broker.rules.deadlines import deadline_for, is_working_time, nation_of
from broker.rules.escalation import (
    ESCALATION_PERIOD,
    SCHOOL_ESCALATION_LEAD,
    alert_deadline,
    escalated_body,
    exhausted_body,
    follow_up_rule,
    onward_from_front_door,
    rerouted_body,
)
from broker.rules.family import Addressee, ContactRole
from broker.rules.minimisation import rule_for_reader
from broker.services import notice_records, reader_views, steps_owed
from producers import recipient_keys
from producers.pseudonyms import pseudonym
from schemas.notices import FollowUp, NoticeBody, NoticeHeader, NoticeType, Severity

log = structlog.get_logger(__name__)
FOLLOW_UP_NAMESPACE = uuid.UUID("0f6c2b8e-3d41-4a7e-8c5b-2e9d7a1f4c60")
ESCALATION_BATCH = 100


@dataclass(frozen=True)
class FollowUpDeps:
    keys: KeyStore
    data_keys: DataKeyStore
    escalation_period: timedelta = ESCALATION_PERIOD
    dead_letters: str | None = None  # the topic of escalations no key can be sealed to
    # A school's notice escalates this long before its session starts (its deadline), so
    # that the deputy can still act before the children arrive.
    school_lead: timedelta = SCHOOL_ESCALATION_LEAD


class Followed(reader_views.InChain, Protocol):
    """What a follow-up reads of the notice it follows (the port's record)."""

    @property
    def event_id(self) -> str: ...

    @property
    def severity(self) -> str: ...


async def due_for_escalation(
    uow: UnitOfWork, now: datetime, school_lead: timedelta = timedelta(0)
) -> list[str]:
    """The open notices past their deadline (a school's first notice ``school_lead`` before
    it), oldest deadline first."""
    return await uow.notice_records.due_for_escalation(now, school_lead, ESCALATION_BATCH)


async def escalate(
    uow: UnitOfWork, notice_id: str, deps: FollowUpDeps, now: datetime,
    letters: list[Message] | None = None,
) -> str | None:  # fmt: skip
    """Escalates the notice if it is still due and nobody else has; returns the new id.
    ``letters`` gathers the dead letters to publish once the transaction has committed."""
    if not await uow.notice_records.claim_escalation(notice_id, now, deps.school_lead):
        return None  # acknowledged, rejected or escalated meanwhile
    record = await uow.notice_records.get(notice_id)
    assert record is not None  # just claimed
    return await _escalate(uow, record, deps, now, [] if letters is None else letters)


async def can_reroute(uow: UnitOfWork, record: NoticeRecordView) -> bool:
    """Whether a rejected notice has a front door contact to go on to (directory only: the
    inbox asks this before it records a rejection, and holds no key to seal the notice)."""
    target = notice_records.reroute_target(record)
    if target is None:
        return False
    onward = onward_from_front_door(target)
    return await _contact(uow, [target] + ([onward] if onward else []), record) is not None


def reroute_id(notice_id: str) -> str:
    """The id the re-routed notice will carry, known when the rejection is recorded."""
    return str(uuid.uuid5(FOLLOW_UP_NAMESPACE, f"{notice_id}|{FollowUp.REROUTE.value}"))


async def due_for_reroute(uow: UnitOfWork) -> list[str]:
    """Rejected notices the router's timer has yet to send on, oldest first."""
    return await uow.notice_records.due_for_reroute(ESCALATION_BATCH)


async def reroute_pending(uow: UnitOfWork, notice_id: str, deps: FollowUpDeps) -> str | None:
    """Sends on a rejected notice the inbox marked (with its reason, as rejected, at the time
    of the rejection); answers the new notice's id. Claimed by clearing the mark, so two
    timers send it once (the row is locked while it is read)."""
    record = await uow.notice_records.take_reroute(notice_id)
    if record is None or record.reroute_pending_since is None:
        return None
    at = record.reroute_pending_since
    try:
        reason = notice_records.unwrap(
            deps.data_keys,
            record.household,
            notice_id,
            "rejection_reason",
            record.rejection_reason or "",
        )
    except DataKeyShredded:
        log.info("reroute_of_shredded_household_skipped", notice_id=notice_id)
        return None
    return await reroute(uow, record, reason, deps, at)


async def reroute(
    uow: UnitOfWork, record: NoticeRecordView, reason: str, deps: FollowUpDeps, now: datetime
) -> str | None:
    """Sends a rejected notice on to the front door concerned; returns the new notice's id."""
    target = notice_records.reroute_target(record)
    if target is None:
        log.warning("rejected_notice_has_nowhere_to_go", notice_id=record.notice_id)
        return None
    onward = onward_from_front_door(target)
    contact = await _contact(uow, [target] + ([onward] if onward else []), record)
    if contact is None:
        log.warning("rejected_notice_has_no_front_door_contact", notice_id=record.notice_id)
        return None
    step, recipient = contact
    onward = onward_from_front_door(step)
    org = await uow.recipients.organisation(recipient.org_id)
    header = _header(record, recipient, deps, now, FollowUp.REROUTE, record.level,
                     NoticeType.FRONT_DOOR_REFERRAL,
                     deadline_for(NoticeType.FRONT_DOOR_REFERRAL, Severity(record.severity), now,
                                  nation=nation_of(org.area if org else None)))  # fmt: skip
    # Composed for the front door from the broker's full view, not the rejecting reader's copy.
    original = await reader_views.body_for(uow, record, header.notice_type, deps.data_keys)
    body = rerouted_body(original, record.recipient_org, reason)
    await _add(uow, record, header, body, recipient, deps,
               follow_up_rule(record.rule_id, FollowUp.REROUTE, record.level),
               escalate_to=[onward] if onward else [], reroute_to=onward)  # fmt: skip
    await steps_owed.owe(uow, header, {},
                         nation_of(org.area if org else None), working_hours_of(org))  # fmt: skip
    return str(header.notice_id)


async def _escalate(
    uow: UnitOfWork, record: NoticeRecordView, deps: FollowUpDeps, now: datetime,
    letters: list[Message],
) -> str | None:  # fmt: skip
    """To the first step in the chain that can take it. A step whose key cannot be sealed to
    is dead-lettered and reported once (the claim commits with it, so it is never tried
    again) and the chain goes on, as routing falls back for a first notice."""
    steps = notice_records.escalation_steps(record)
    level = record.level + 1
    for step, recipient in await _contacts(uow, steps, record):
        # A front door's people read it as a front door: its type and body are theirs.
        kind = NoticeType(record.notice_type)
        reader = await reader_views.kind_of_reader(uow, kind, recipient.org_id)
        header = _header(record, recipient, deps, now, FollowUp.ESCALATION, level, reader,
                         now + deps.escalation_period)  # fmt: skip
        original = await _body_of(uow, record, deps, now, reader)
        if original is None:
            return None
        body = escalated_body(original, level, record.deadline, record.recipient_org)
        remaining = steps[steps.index(step) + 1 :]
        try:
            await _add(uow, record, header, body, recipient, deps,
                       follow_up_rule(record.rule_id, FollowUp.ESCALATION, level),
                       escalate_to=remaining, reroute_to=notice_records.reroute_target(record),
                       reader=reader)  # fmt: skip
        except RecipientKeyUnusable:
            letters.append(await _undeliverable(uow, record, recipient, deps, now, level))
            continue
        details: AuditDetails = {"level": level, "escalation": str(header.notice_id),
                                 "recipient_id": recipient.contact_id}  # fmt: skip
        await uow.audit.append(
            AuditRecord("notice_escalated", "escalator", record.notice_id, details), now
        )
        log.info("notice_escalated", notice_id=record.notice_id, level=level)
        metrics.ESCALATIONS.labels(level=str(level)).inc()
        return str(header.notice_id)
    return await _exhausted(uow, record, deps, now, level, letters)


async def _undeliverable(
    uow: UnitOfWork, record: NoticeRecordView, recipient: ContactRecord,
    deps: FollowUpDeps, now: datetime, level: int,
) -> Message:  # fmt: skip
    """An escalation its recipient's key cannot be sealed to: reported to the front door's
    data-quality report, audited, and a dead letter (ids only) to publish after the commit."""
    gap = Gap.UNSEALABLE_RECIPIENT_KEY
    log.error("escalation_unsealable", notice_id=record.notice_id, org_id=recipient.org_id)
    door = notice_records.reroute_target(record)
    await uow.data_quality.record([Issue(gap, door.org_id if door else None, recipient.org_id,
                                         notice_id=record.notice_id, event_id=record.event_id,
                                         rule_id=record.rule_id)], now)  # fmt: skip
    reason = {"reason": gap.value, "event_id": record.event_id, "notice_id": record.notice_id,
              "org_id": recipient.org_id, "recipient_id": recipient.contact_id,
              "escalation_level": level}  # fmt: skip
    await uow.audit.append(AuditRecord("notice_undeliverable", "escalator", record.notice_id,
                                       reason), now)  # fmt: skip
    key = pseudonym(deps.keys.pseudonym_secret, "organisation", recipient.org_id)
    return Message(deps.dead_letters or "", key, json.dumps(reason).encode())


EXHAUSTED = ".exhausted"


async def _body_of(
    uow: UnitOfWork, record: NoticeRecordView, deps: FollowUpDeps, now: datetime,
    reader: NoticeType,
) -> NoticeBody | None:  # fmt: skip
    """The notice as a reader of ``reader``'s kind may read it, or None when it can no longer
    be read: its household was shredded (retention, by design), or its data key is unusable,
    which is reported rather than retried on every round for ever."""
    try:
        return await reader_views.body_for(uow, record, reader, deps.data_keys)
    except DataKeyShredded:
        log.info("escalation_of_shredded_household_skipped", notice_id=record.notice_id)
    except (ValueError, InvalidTag, KeyFileError, DataKeyUnusable) as exc:
        log.error("escalation_unreadable", notice_id=record.notice_id, error=type(exc).__name__)
        door = notice_records.reroute_target(record)
        issue = Issue(Gap.HOUSEHOLD_DATA_KEY_UNUSABLE, door.org_id if door else None,
                      record.recipient_org, notice_id=record.notice_id,
                      event_id=record.event_id, rule_id=record.rule_id)  # fmt: skip
        await uow.data_quality.record([issue], now)
    return None


async def _exhausted(
    uow: UnitOfWork, record: NoticeRecordView, deps: FollowUpDeps, now: datetime,
    level: int, letters: list[Message],
) -> str | None:  # fmt: skip
    """Nobody left in the chain: the authority's safeguarding lead is alerted, or out of
    hours its emergency duty team, once (an alert that itself lapses is not alerted again),
    and the data-quality report shows it."""
    log.warning("escalation_chain_exhausted", notice_id=record.notice_id, level=level)
    authority = notice_records.reroute_target(record)
    door = authority.org_id if authority else None
    await uow.data_quality.record([Issue(Gap.ESCALATION_EXHAUSTED, door, record.recipient_org,
                                         notice_id=record.notice_id, event_id=record.event_id,
                                         rule_id=record.rule_id)], now)  # fmt: skip
    alert = None
    if door is not None and not record.rule_id.endswith(EXHAUSTED):
        alert = await _alert(uow, record, deps, now, level, door, letters)
    # The audit entry last, as everywhere: the audit chain's lock is then held only for the
    # commit, never while waiting on another transaction's rows.
    await uow.audit.append(AuditRecord("notice_escalated", "escalator", record.notice_id,
                                       {"level": level, "exhausted": True}), now)  # fmt: skip
    return alert


async def _alert(
    uow: UnitOfWork, record: NoticeRecordView, deps: FollowUpDeps, now: datetime,
    level: int, door: str, letters: list[Message],
) -> str | None:  # fmt: skip
    found = await _alerted(uow.recipients, door, now)
    if found is None:
        return None
    kind, recipient = found
    due = alert_deadline(now, kind, deps.escalation_period)
    header = _header(record, recipient, deps, now, FollowUp.ESCALATION, level, kind, due)
    rule_id = follow_up_rule(record.rule_id, FollowUp.ESCALATION, level) + EXHAUSTED
    reader = await reader_views.kind_of_reader(uow, kind, recipient.org_id)
    original = await _body_of(uow, record, deps, now, reader)
    if original is None:
        return None
    body = exhausted_body(original, level, record.deadline, record.recipient_org)
    try:
        await _add(uow, record, header, body, recipient, deps, rule_id, escalate_to=[],
                   reroute_to=notice_records.reroute_target(record), reader=reader)  # fmt: skip
    except RecipientKeyUnusable:  # the last one to tell: reported and dead-lettered, once
        letters.append(await _undeliverable(uow, record, recipient, deps, now, level))
        return None
    metrics.ESCALATIONS.labels(level=str(level)).inc()
    return str(header.notice_id)


async def _alerted(
    directory: RecipientDirectory, door: str, now: datetime
) -> tuple[NoticeType, ContactRecord] | None:
    """Who hears of a chain that ran out: the emergency duty team while the front door is
    closed (if it has one), else the authority's safeguarding lead."""
    org = await directory.organisation(door)
    closed = not is_working_time(now, working_hours_of(org), nation_of(org.area if org else None))
    edt = Addressee(door, ContactRole.EMERGENCY_DUTY)
    if closed and (duty := await directory.contact_record(edt)):
        return NoticeType.OUT_OF_HOURS, duty
    lead = await directory.contact_record(Addressee(door, ContactRole.SAFEGUARDING_LEAD))
    return (NoticeType.FRONT_DOOR_REFERRAL, lead) if lead else None


async def _contact(
    uow: UnitOfWork, steps: list[Addressee], record: NoticeRecordView
) -> tuple[Addressee, ContactRecord] | None:
    """The first step with a contact who has not had this notice already in its chain."""
    found = await _contacts(uow, steps, record)
    return found[0] if found else None


async def _contacts(
    uow: UnitOfWork, steps: list[Addressee], record: NoticeRecordView
) -> list[tuple[Addressee, ContactRecord]]:
    """The steps with a contact who has not had this notice already in its chain, in order."""
    directory = uow.recipients  # one store, so the directory is read once for the steps
    had = await uow.notice_records.chain_recipients(record.chain_id)
    found = []
    for step in steps:
        contact = await directory.contact_record(step)
        if contact is not None and contact.contact_id not in had:
            found.append((step, contact))
    return found


def follow_up_header(
    record: Followed, contact: ContactRecord, deps: FollowUpDeps, now: datetime,
    name: str, notice_type: NoticeType, deadline: datetime, follow_up: FollowUp | None,
    level: int,
) -> NoticeHeader:  # fmt: skip
    """The header of a notice that follows ``record`` to ``contact``; its id is the same
    for the same ``name`` however often the follow-up is made."""
    return NoticeHeader(
        notice_id=uuid.uuid5(FOLLOW_UP_NAMESPACE, f"{record.notice_id}|{name}"),
        event_id=uuid.UUID(record.event_id),
        household=record.household,
        recipient_id=contact.contact_id,
        recipient_org=contact.org_id,
        notice_type=notice_type,
        severity=Severity(record.severity),
        created_at=now,
        deadline=deadline,
        recipient_key_id=contact.key_id,
        suite=recipient_keys.suite_of(contact.hpke_public_key),
        signing_key_id=deps.keys.public.signing_key_id,
        follows=uuid.UUID(record.notice_id),
        follow_up=follow_up,
        escalation_level=level,
    )


def _header(
    record: NoticeRecordView, contact: ContactRecord, deps: FollowUpDeps, now: datetime,
    kind: FollowUp, level: int, notice_type: NoticeType, deadline: datetime,
) -> NoticeHeader:  # fmt: skip
    return follow_up_header(record, contact, deps, now, kind.value, notice_type, deadline,
                            kind, level)  # fmt: skip


async def _add(
    uow: UnitOfWork, record: Followed, header: NoticeHeader, body: NoticeBody,
    contact: ContactRecord, deps: FollowUpDeps, rule_id: str, *, escalate_to: list[Addressee],
    reroute_to: Addressee | None, reader: NoticeType | None = None,
) -> None:  # fmt: skip
    """Seals and records the follow-up; its rule is in the body only where its new reader
    (of ``reader``'s kind, by default the header's type) may see it, and in the broker's
    own records."""
    kind = reader or header.notice_type
    body = body.model_copy(update={"rule_id": rule_for_reader(rule_id, kind)})
    await notice_records.add(uow, header, body, contact, deps.keys, deps.data_keys,
                             rule_id=rule_id, escalate_to=escalate_to, reroute_to=reroute_to,
                             chain_id=uuid.UUID(record.chain_id))  # fmt: skip
    await chronicle(uow, record, header, rule_id)
    await uow.audit.append(AuditRecord(
        "notice_produced", "broker", str(header.notice_id),
        {"event_id": record.event_id, "recipient_id": header.recipient_id, "rule_id": rule_id,
         "severity": header.severity.value, "follows": record.notice_id},
    ), header.created_at)  # fmt: skip


async def chronicle(uow: UnitOfWork, record: Followed, header: NoticeHeader, rule_id: str) -> None:
    """The follow-up goes into the chronology of every household the first notice did."""
    facts: dict[str, object] = {"follows": record.notice_id, "follow_up": str(header.follow_up),
                                "escalation_level": header.escalation_level}  # fmt: skip
    await uow.chronologies.add([
        (household, ChronologyLine(
            at=header.created_at, kind="notice", event_id=line.event_id,
            event_type=line.event_type, source_org=line.source_org,
            notice_id=str(header.notice_id), recipient_id=header.recipient_id,
            notice_type=header.notice_type.value, severity=header.severity.value,
            rule_id=rule_id, facts=facts,
        ))
        for household, line in await uow.chronologies.of_notice(record.notice_id)
    ])  # fmt: skip


# Other services' follow-ups (a referral's outcome for its referrer, an overdue next step)
# are sealed, recorded, chronicled and audited as these are.
add_follow_up = _add
