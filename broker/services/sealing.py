"""Sealing an event's decisions into notices, in the routing transaction.

Each decision becomes a notice sealed to its addressee's key, deadlined and recorded. One the
addressee cannot receive (no contact registered, a key that cannot be sealed to, a household
key that cannot be used) goes to the front door instead, with the reason, and out of hours to
its emergency duty team too; each such gap is recorded for the data-quality report, and only
a notice not even the front door can receive is parked as a dead letter. A bad directory
record costs its own notice, never the event's other notices nor anyone else's.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

import structlog

from broker.adapters.data_keys import key_name
from broker.adapters.data_quality import Gap, Issue
from broker.adapters.directory import (
    ContactRecord,
    FamilyContext,
    OrgRecord,
    working_hours_of,
)
from broker.errors import RecipientKeyUnusable, Unsealable
from broker.keys import KeyStore
from broker.ports import FamilyDirectory, Message, UnitOfWork
from broker.pseudonyms import unmatched_key_name
from broker.rules.accuracy import Reading, reading
from broker.rules.admission import Arrival
from broker.rules.deadlines import SchoolCalendar, deadline_for, digest_hold, nation_of
from broker.rules.digest import digest_for
from broker.rules.escalation import escalation_chain, reroute_target
from broker.rules.fallback import (
    INTENDED_FOR,
    fallback_reason,
    missing_front_door,
    to_front_door,
)
from broker.rules.family import Addressee, ContactRole, Decision
from broker.rules.language import languages_for
from broker.rules.minimisation import compose_body, event_detail
from broker.rules.move import area_without_front_door, unlisted_authority
from broker.rules.out_of_hours import with_out_of_hours
from broker.rules.plan_bodies import CONCERN_RETURNED, digest_kind, plan_blocks
from broker.rules.reader_view import sees_everything
from broker.rules.school_deputy import is_deputy_copy, key_adult_of
from broker.rules.school_notice import SchoolNotice, for_school, school_guidance
from broker.services import notice_records, reader_views, reminders, steps_owed
from broker.services.plan_details import told_step_downs
from producers import recipient_keys
from producers.pseudonyms import person_identifier, pseudonym
from schemas.events import Event
from schemas.notices import (
    HistoryDigest,
    NoticeBody,
    NoticeHeader,
    NoticeType,
    StepDownView,
)

if TYPE_CHECKING:
    from broker.services.routing import RoutingDeps

log = structlog.get_logger(__name__)
NOTICE_NAMESPACE = uuid.UUID("6b1f3c2e-5a0d-4f5e-9a53-0c1f5b7d2e11")
NO_CONTACT = frozenset({Gap.RECIPIENT_NOT_ONBOARDED, Gap.NO_FRONT_DOOR_CONTACT,
                        Gap.NO_EMERGENCY_DUTY_CONTACT})  # fmt: skip
Sent = list[tuple[NoticeHeader, Decision]]


@dataclass
class EventNotices:
    """The notices of one event: what was sealed, what goes to Kafka after the commit (the
    notices, audit copies, dead letters), and the data-quality gaps met on the way."""

    uow: UnitOfWork
    event: Event
    arrival: Arrival
    context: FamilyContext
    deps: RoutingDeps
    sent: Sent = field(default_factory=list)
    decided: list[Decision] = field(default_factory=list)  # whom the event's rules told
    messages: list[Message] = field(default_factory=list)
    # Each notice as sealed, for the notices topic once the transaction has committed: sent
    # from memory, its outbox record is not read back (the relay still sends any left).
    outbox: list[tuple[NoticeHeader, Message]] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    step_downs: dict[str, StepDownView] | None = None
    # What each body is composed from that is the same for all the event's bodies, made once:
    # the history digest by reader kind and people, and the event's flattened detail.
    digests: dict[tuple[NoticeType, tuple[str, ...]], HistoryDigest] = field(default_factory=dict)
    detail: Mapping[str, str | int | bool | None] | None = None

    @property
    def directory(self) -> FamilyDirectory:
        return self.uow.directory

    async def seal_all(self, decisions: list[Decision]) -> tuple[list[Message], Sent]:
        pending, self.decided = list(decisions), list(decisions)
        while pending:
            pending += await self._place(pending.pop(0))
        await self.uow.data_quality.record(self.issues, self.deps.clock())
        return self.messages, self.sent

    async def _place(self, decision: Decision) -> list[Decision]:
        """Seals the decision's notice; answers what must be tried instead when it cannot."""
        if is_deputy_copy(decision) and not await self._registered(decision.addressee):
            return []  # no deputy registered: the key adult's own notice stands
        if (area := missing_front_door(decision)) is not None:
            return self._nobody_to_tell(decision, area)
        contact = await self.directory.contact_for(decision.addressee)
        outcome = _unreachable(decision) if contact is None else await self._try(decision, contact)
        if isinstance(outcome, NoticeHeader):
            self.messages.append(self._audit(outcome))
            self.sent.append((outcome, decision))
            # A fallback's gap is reported with the notice that carries it to the front door
            # (not again with the emergency duty team's copy of it).
            reason = fallback_reason(decision)
            if reason and decision.notice_type is NoticeType.FRONT_DOOR_REFERRAL:
                self._report(Gap(reason), decision, outcome.recipient_org, outcome)
            if code := unlisted_authority(decision):  # a move's (rules/move.py)
                self._report(Gap.AUTHORITY_NOT_IN_TABLE, decision, None, outcome, code)
            if area := area_without_front_door(decision):  # a move's, sent by a fallback
                self._report(Gap.NO_FRONT_DOOR_FOR_AREA, decision, outcome.recipient_org,
                             outcome, area)  # fmt: skip
            return []
        family = self.context.family
        fallback = to_front_door(decision, family, outcome.value)
        if contact is not None or fallback is None:
            self.messages.append(self._dead_letter(decision, outcome))
        if fallback is None:  # nobody left to tell: reported here, with what was meant
            self._report(outcome, decision, None, at_fault=decision.addressee.org_id)
            if reason := fallback_reason(decision):
                self._report(Gap(reason), decision, None)
            return []
        # Reported once, when the fallback carrying the reason is sealed.
        return with_out_of_hours([fallback], family, self.arrival.received_at)

    def _nobody_to_tell(self, decision: Decision, area: str) -> list[Decision]:
        """No front door anywhere (rules/fallback.py ``nobody_to_tell``): parked as a dead
        letter naming the authority code, and reported with it, never dropped. An
        out-of-hours alert beside such a referral is that referral's already."""
        if decision.notice_type is not NoticeType.OUT_OF_HOURS:
            parked = replace(decision, addressee=Addressee(area, decision.addressee.role))
            self.messages.append(self._dead_letter(parked, Gap.NO_FRONT_DOOR))
            self._report(Gap.NO_FRONT_DOOR, decision, None, at_fault=area)
            reason = fallback_reason(decision)  # whom the front door was to stand in for
            if reason and reason != Gap.NO_FRONT_DOOR_FOR_AREA:  # that one is said already
                self._report(Gap(reason), decision, None)
        return []

    async def _try(self, decision: Decision, contact: ContactRecord) -> NoticeHeader | Gap:
        try:
            return await self._seal(decision, contact)
        except Unsealable as exc:
            log.error("notice_unsealable", error=type(exc).__name__, rule_id=decision.rule_id)
            if isinstance(exc, RecipientKeyUnusable):
                return Gap.UNSEALABLE_RECIPIENT_KEY
            return Gap.HOUSEHOLD_DATA_KEY_UNUSABLE

    async def _seal(self, decision: Decision, contact: ContactRecord) -> NoticeHeader:
        family, deps, received_at = self.context.family, self.deps, self.arrival.received_at
        calendar = await self._calendar_for(decision)
        held = digest_hold(received_at, contact.daily_digest, decision.severity)
        due_from = held or received_at
        org = await self.directory.organisation(contact.org_id)
        if calendar.is_stale(due_from.date()):
            self._report(Gap.STALE_TERM_DATES, decision, family.front_door())
        notice = NoticeHeader(
            notice_id=self._notice_id(contact.contact_id, decision),
            event_id=self.event.event_id,
            correlation_id=self.event.correlation_id,
            household=self._household(decision),
            recipient_id=contact.contact_id,
            recipient_org=contact.org_id,
            notice_type=decision.notice_type,
            severity=decision.severity,
            created_at=deps.clock(),
            held_until=held,
            deadline=deadline_for(decision.notice_type, decision.severity, due_from, calendar,
                                  nation_of(org.area if org else None), deps.deadline_periods,
                                  hours=working_hours_of(org)),
            recipient_key_id=contact.key_id,
            suite=recipient_keys.suite_of(contact.hpke_public_key),
            signing_key_id=_signing_key_id(deps.keys),
        )  # fmt: skip
        read = reading(decision, self.event, family)
        body = await self._body(decision, read, notice, calendar)
        body = body.model_copy(update={"languages": languages_for(org.area if org else None)})
        chain = self._key_adult_chain(decision)
        sealed = await notice_records.add(
            self.uow, notice, body, contact, deps.keys,
            deps.data_keys, rule_id=decision.rule_id,
            escalate_to=escalation_chain(decision, family),
            reroute_to=reroute_target(decision, family), chain_id=chain,
            companion=chain is not None,
        )  # fmt: skip
        self.outbox.append((notice, self._outbound(notice, sealed)))
        await reminders.schedule(self.uow, notice, decision, org)  # a step-down's review
        await self._owed_and_full_view(notice, decision, org, calendar, read)
        return notice

    async def _registered(self, addressee: Addressee) -> bool:
        """Whether the organisation has a contact in exactly this role (no stand-in)."""
        contacts = (await self.directory.organisations()).contacts
        return (addressee.org_id, addressee.role) in contacts

    def _key_adult_chain(self, decision: Decision) -> uuid.UUID | None:
        """A deputy's copy joins the chain of the key adult's notice, sealed just before it,
        so that either acknowledging stops it; None for any other notice."""
        if not is_deputy_copy(decision):
            return None
        key_adult = key_adult_of(decision)
        found = (h.notice_id for h, d in self.sent if d == key_adult)
        return next(found, None)

    async def _body(
        self, decision: Decision, read: Reading, notice: NoticeHeader, calendar: SchoolCalendar
    ) -> NoticeBody:
        """The body as this decision's reader may see it: the minimised view, the plans and
        history it acts on, and for a school's key adult what to do, by when, whom to call."""
        family, received_at = self.context.family, self.arrival.received_at
        front_door = family.front_door()
        body = compose_body(
            decision,
            self.event,
            self.context.people,
            family.org_lines.get(self.event.source_org),
            family.org_lines.get(front_door) if front_door else None,
            self._digest(digest_kind(decision, family), decision.about),
            read,
            detail=self._event_detail(),
        )
        # Plans and history, structured, for the readers that act on them (plan_bodies.py).
        told = await self._told_step_downs() if CONCERN_RETURNED in decision.rule_id else {}
        blocks = plan_blocks(decision, self.event, family, self.context.people,
                             received_at.date(), told)  # fmt: skip
        body = body.model_copy(update=blocks)
        if decision.notice_type is NoticeType.SCHOOL_SUPPORT:
            body = self._for_school(body, decision, notice, calendar)
        return body

    def _digest(self, kind: NoticeType, about: tuple[str, ...]) -> HistoryDigest:
        """The family's history as a reader of ``kind`` sees it, made once per event for each
        reader kind and set of people (the rest of digest_for's inputs are the event's)."""
        key = (kind, about)
        if (found := self.digests.get(key)) is None:
            found = self.digests[key] = digest_for(
                kind, self.context.family, self.arrival.received_at, about=about,
                people=self.context.people, event_id=str(self.event.event_id),
            )  # fmt: skip
        return found

    def _event_detail(self) -> Mapping[str, str | int | bool | None]:
        """The event's own facts, flattened once for all its bodies (each keeps a copy)."""
        if self.detail is None:
            self.detail = event_detail(self.event)
        return self.detail

    async def _owed_and_full_view(
        self, notice: NoticeHeader, decision: Decision, org: OrgRecord | None,
        calendar: SchoolCalendar, read: Reading,
    ) -> None:  # fmt: skip
        """The next steps the reader owes (a front door's decision, a transfer's conference),
        and, for a reader who sees less, the front door's view of the notice: a follow-up
        to a front door is composed from it (issue 13 section 5)."""
        area = nation_of(org.area if org else None)
        await steps_owed.owe(self.uow, notice, decision.facts, area, working_hours_of(org))
        if not sees_everything(decision.notice_type):
            whole = replace(decision, notice_type=NoticeType.FRONT_DOOR_REFERRAL)
            # The front door hears of the whole family: no relation, the same children present.
            full = await self._body(whole, Reading(None, read.present), notice, calendar)
            await reader_views.keep(self.uow, notice, full, self.deps.data_keys)

    def _for_school(
        self, body: NoticeBody, decision: Decision, notice: NoticeHeader, calendar: SchoolCalendar
    ) -> NoticeBody:
        """What the school's key adult is asked to do, by when, and whom to call."""
        timing = SchoolNotice(notice.notice_id, notice.deadline, self.arrival.received_at,
                              calendar, self.decided)  # fmt: skip
        guidance, caller = school_guidance(decision, self.event, self.context.family,
                                           self.context.people, timing)  # fmt: skip
        return for_school(body, guidance, caller)

    async def _told_step_downs(self) -> dict[str, StepDownView]:
        """The family's step-down plans as their notices told them, read once per event."""
        if self.step_downs is None:
            self.step_downs = await told_step_downs(self.uow, self.context.family.plans,
                                                    self.deps.data_keys)  # fmt: skip
        return self.step_downs

    async def _calendar_for(self, decision: Decision) -> SchoolCalendar:
        if decision.notice_type is NoticeType.SCHOOL_SUPPORT:
            return await self.directory.school_calendar(decision.addressee.org_id)
        return SchoolCalendar()

    def _notice_id(self, recipient_id: str, decision: Decision) -> uuid.UUID:
        """The same for the same decision, however often the event is routed; keyed, because
        the header shows the event and recipient ids: an unkeyed id would let a reader of
        Kafka try each rule name until one gave the id, and so learn the rule."""
        about = ",".join(decision.about)
        name = f"{self.event.event_id}|{recipient_id}|{decision.rule_id}|{about}"
        keyed = pseudonym(self.deps.keys.pseudonym_secret, "notice", name)
        return uuid.uuid5(NOTICE_NAMESPACE, keyed)

    def _household(self, decision: Decision) -> str:
        """Names the data keys the notice is kept under: one per household of each person it
        concerns (the subject and whom it is about), so shredding any of them deletes it. An
        event about someone unknown is kept under a key of that person's own identifier,
        which goes when a household they are later matched to is shredded."""
        family, secret = self.context.family, self.deps.keys.pseudonym_secret
        if family.subject is None or not family.subject.household_id:
            return unmatched_key_name(secret, person_identifier(self.event.people()[0],
                                                                self.event.source_org))  # fmt: skip
        concerned = {family.subject.person_id, *decision.about}
        homes = {m.household_id for m in family.members
                 if m.person_id in concerned and m.household_id}  # fmt: skip
        return key_name(_household_key(secret, home) for home in homes)

    def _report(
        self, gap: Gap, decision: Decision, front_door: str | None,
        notice: NoticeHeader | None = None, at_fault: str | None = None,
    ) -> None:  # fmt: skip
        self.issues.append(Issue(
            gap,
            front_door=front_door or self.context.family.front_door(),
            org_id=at_fault or self._at_fault(decision),
            role=None if notice else decision.addressee.role.value,
            event_id=str(self.event.event_id),
            notice_id=str(notice.notice_id) if notice else None,
            rule_id=decision.rule_id,
        ))  # fmt: skip

    @staticmethod
    def _at_fault(decision: Decision) -> str | None:
        """The organisation whose record is at fault: the one a fallback was meant for (none
        for a child with no health visiting registration), else the addressee."""
        if fallback_reason(decision):
            intended = decision.facts.get(INTENDED_FOR)
            return str(intended) if intended else None
        return decision.addressee.org_id

    def _outbound(self, header: NoticeHeader, sealed: str) -> Message:
        # As the outbox relay sends a notice record (services/outbox.py): the same bytes.
        key = _recipient_key(self.deps.keys.pseudonym_secret, header.recipient_id)
        return Message(self.deps.topics.notices, key, sealed.encode())

    def _audit(self, header: NoticeHeader) -> Message:
        # Ids only, no rule nor event kind: the audit topic is read outside the broker, and
        # a rule's name tells what happened. The audit log in the database keeps the rule.
        record = {
            "action": "notice_produced",
            "at": self.deps.clock().isoformat(),
            "notice_id": str(header.notice_id),
            "event_id": str(header.event_id),
            "recipient_id": header.recipient_id,
        }
        key = _recipient_key(self.deps.keys.pseudonym_secret, header.recipient_id)
        return Message(self.deps.topics.audit, key, json.dumps(record).encode())

    def _dead_letter(self, decision: Decision, gap: Gap) -> Message:
        """A notice nobody can receive is parked, not dropped, and reported. The topic is read
        outside the broker: the record names no rule (its data-quality issue does)."""
        addressee = decision.addressee
        log.warning("notice_undeliverable", org_id=addressee.org_id, gap=gap.value,
                    role=addressee.role.value, rule_id=decision.rule_id)  # fmt: skip
        record = {
            "reason": "no_recipient_contact" if gap in NO_CONTACT else gap.value,
            "event_id": str(self.event.event_id),
            "org_id": addressee.org_id,
            "role": addressee.role.value,
            "notice_type": decision.notice_type.value,
        }
        key = pseudonym(self.deps.keys.pseudonym_secret, "organisation", addressee.org_id)
        return Message(self.deps.topics.dead_letters, key, json.dumps(record).encode())


@lru_cache(maxsize=4096)
def _recipient_key(secret: bytes, recipient_id: str) -> str:
    """A recipient's Kafka key, an HMAC made once per recipient: the recipients are few (the
    directory's contacts), their notices and audit copies many."""
    return pseudonym(secret, "recipient", recipient_id)


@lru_cache(maxsize=8192)
def _household_key(secret: bytes, household_id: str) -> str:
    """A household's data key name, an HMAC made once per household: its notices are many."""
    return pseudonym(secret, "household", household_id)


# A key store never changes its keys (a rotation makes a new one): its signing key's id is
# worked out (a serialisation and a SHA-256) once, not for every notice.
_SIGNING_KEY_IDS: WeakKeyDictionary[KeyStore, str] = WeakKeyDictionary()


def _signing_key_id(keys: KeyStore) -> str:
    found = _SIGNING_KEY_IDS.get(keys)
    if found is None:
        found = _SIGNING_KEY_IDS[keys] = keys.public.signing_key_id
    return found


def _unreachable(decision: Decision) -> Gap:
    if decision.addressee.role is ContactRole.EMERGENCY_DUTY:
        return Gap.NO_EMERGENCY_DUTY_CONTACT
    if decision.notice_type is NoticeType.FRONT_DOOR_REFERRAL:
        return Gap.NO_FRONT_DOOR_CONTACT
    return Gap.RECIPIENT_NOT_ONBOARDED
