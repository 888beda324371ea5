"""The broker's relational store (SQLAlchemy 2, async): the directory, pattern history, the
router's record of routed events, the gateway's accepted event ids, and recipients' inboxes.

SQLite by default, needing no set-up; PostgreSQL (asyncpg) for production. Times are stored in
UTC and always come back timezone-aware.
"""

import time
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    false,
    func,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import ConnectionPoolEntry


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, whatever the database keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Organisation(Base):
    __tablename__ = "organisations"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32), index=True)
    area: Mapped[str] = mapped_column(String(9), index=True)
    phone: Mapped[str | None] = mapped_column(String(50))
    session_start: Mapped[str | None] = mapped_column(String(5))  # "08:45", schools only
    opens_at: Mapped[str | None] = mapped_column(String(5))  # working hours, "09:00"
    closes_at: Mapped[str | None] = mapped_column(String(5))  # "17:00"
    ods_code: Mapped[str | None] = mapped_column(String(10))  # NHS organisations' ODS code


class SchoolTerm(Base):
    __tablename__ = "school_terms"
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    starts_on: Mapped[date] = mapped_column(Date, primary_key=True)
    ends_on: Mapped[date] = mapped_column(Date)


class OrgSigningKey(Base):
    """A producing organisation's registered Ed25519 key, by key id, with its validity."""

    __tablename__ = "org_signing_keys"
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    public_key: Mapped[str] = mapped_column(String(64))
    valid_from: Mapped[datetime | None] = mapped_column(UtcDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Contact(Base):
    """A recipient: a named role at an organisation, with the public key notices are sealed to."""

    __tablename__ = "contacts"
    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    role: Mapped[str] = mapped_column(String(40))
    hpke_public_key: Mapped[str] = mapped_column(Text)
    key_id: Mapped[str] = mapped_column(String(32))
    daily_digest: Mapped[bool] = mapped_column(Boolean, default=False)
    webhook_url: Mapped[str | None] = mapped_column(String(500))  # notices pushed here too
    mesh_mailbox: Mapped[str | None] = mapped_column(String(20))  # ...and sent through MESH
    __table_args__ = (UniqueConstraint("org_id", "role"),)


class Person(Base):
    __tablename__ = "people"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    nhs_number: Mapped[str | None] = mapped_column(String(10), unique=True)
    upn: Mapped[str | None] = mapped_column(String(13), unique=True)
    given_name: Mapped[str | None] = mapped_column(String(200))
    family_name: Mapped[str | None] = mapped_column(String(200))
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    # An unborn child, expected on ``expected_on``; at birth the record itself becomes the
    # child's (date of birth, NHS number), keeping the history gathered before birth.
    unborn: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    expected_on: Mapped[date | None] = mapped_column(Date)
    # Additional needs (see PersonSpec): they raise was-not-brought and withdrawal notices.
    has_send: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    has_ehcp: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    learning_disability: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    # A language need every notice about the person states (see PersonSpec).
    preferred_language: Mapped[str | None] = mapped_column(String(3))
    interpreter_needed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class PersonAlias(Base):
    """An agency's own record id for a person, learnt when a front door matched it."""

    __tablename__ = "person_aliases"
    source_org: Mapped[str] = mapped_column(String(64), primary_key=True)
    local_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"))


class Household(Base):
    __tablename__ = "households"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    area: Mapped[str] = mapped_column(String(9))


class HouseholdMember(Base):
    __tablename__ = "household_members"
    household_id: Mapped[str] = mapped_column(ForeignKey("households.id"), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(20))


class Relationship(Base):
    """A tie that holds wherever people live: ``parent_of`` (parent or carer to child) or
    ``sibling_of``. ``derived`` marks a parent link inferred from a shared household (by the
    import, or the migration that introduced this table) rather than stated."""

    __tablename__ = "relationships"
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)  # parent_of | sibling_of
    related_person_id: Mapped[str] = mapped_column(
        ForeignKey("people.id"), primary_key=True, index=True
    )
    parental_responsibility: Mapped[bool | None] = mapped_column(Boolean)
    derived: Mapped[bool] = mapped_column(Boolean, default=False)


class Registration(Base):
    """A person's GP practice, school, or health visiting / school nursing team."""

    __tablename__ = "registrations"
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)  # gp | school | health_team
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))


class Involvement(Base):
    __tablename__ = "involvements"
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    opened_on: Mapped[date] = mapped_column(Date, primary_key=True)
    closed_on: Mapped[date | None] = mapped_column(Date)


class Plan(Base):
    """A child protection, child in need or early help plan for a child, open or closed."""

    __tablename__ = "plans"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # child_protection | child_in_need | early_help
    area: Mapped[str] = mapped_column(String(9))
    started_on: Mapped[date] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)
    step_down_until: Mapped[date | None] = mapped_column(Date)  # set when a step-down made it
    if_concerns_return: Mapped[str | None] = mapped_column(Text)


class PlanOwner(Base):
    """The lead professional (is_lead) and the action owners of a plan."""

    __tablename__ = "plan_owners"
    plan_id: Mapped[str] = mapped_column(ForeignKey("plans.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    is_lead: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(200))
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    phone: Mapped[str | None] = mapped_column(String(50))
    email: Mapped[str | None] = mapped_column(String(200))


class DirectoryChange(Base):
    """Every change to the directory: what kind of record, which one, what was done, by whom.
    Field names only, never values: the values are personal data."""

    __tablename__ = "directory_changes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(100))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(20))  # created | updated | deleted
    fields: Mapped[str] = mapped_column(Text)  # comma-separated names of the fields changed


class ChronologyEntry(Base):
    """One line of a household's multi-agency chronology: an event received or a notice sent.
    Ids, types, rules and times only, so the chronology itself holds no personal data."""

    __tablename__ = "chronology"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    household_id: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    kind: Mapped[str] = mapped_column(String(20))  # event | notice | acknowledgement
    event_id: Mapped[str] = mapped_column(String(36), index=True)
    event_type: Mapped[str] = mapped_column(String(40))
    source_org: Mapped[str] = mapped_column(String(64))
    notice_id: Mapped[str | None] = mapped_column(String(36))
    recipient_id: Mapped[str | None] = mapped_column(String(100))
    notice_type: Mapped[str | None] = mapped_column(String(40))
    severity: Mapped[str | None] = mapped_column(String(10))
    rule_id: Mapped[str | None] = mapped_column(Text)
    facts: Mapped[str | None] = mapped_column(Text)  # JSON of the facts that fired the rule
    signals: Mapped[str | None] = mapped_column(String(200))  # comma-separated risk signals


class HouseholdArea(Base):
    """Where a household has lived: the current area and every previous one."""

    __tablename__ = "household_areas"
    household_id: Mapped[str] = mapped_column(ForeignKey("households.id"), primary_key=True)
    area: Mapped[str] = mapped_column(String(9), primary_key=True)
    moved_in: Mapped[date | None] = mapped_column(Date)
    moved_out: Mapped[date | None] = mapped_column(Date)


class MatchingQueueEntry(Base):
    """An event naming someone the directory does not know, held for its front door.
    The event stays sealed to the broker (for the router to publish again once matched); the
    people it names, which the front door reads, are wrapped under the entry's own data key
    (services/matching.py). The queue holds no plaintext."""

    __tablename__ = "matching_queue"
    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    front_door: Mapped[str] = mapped_column(String(64), index=True)
    event_type: Mapped[str] = mapped_column(String(40))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sealed_event: Mapped[str] = mapped_column(Text)  # emptied once matched and routed
    # waiting | accepted (matched, for the router to publish) | publishing | routing | matched
    status: Mapped[str] = mapped_column(String(20))
    people: Mapped[str | None] = mapped_column(Text)  # wrapped; None once matched or purged
    matched_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    matched_by: Mapped[str | None] = mapped_column(String(100))


class DataQualityIssue(Base):
    """Something in the directory that stopped a notice reaching its intended reader, or a
    chain of escalations that ran out: each occurrence, for the data-quality report. Ids,
    kinds and fixed wording only: no personal data."""

    __tablename__ = "data_quality_issues"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    front_door: Mapped[str | None] = mapped_column(String(64), index=True)  # whose report
    org_id: Mapped[str | None] = mapped_column(String(64))  # the record at fault
    role: Mapped[str | None] = mapped_column(String(40))
    event_id: Mapped[str | None] = mapped_column(String(36))
    notice_id: Mapped[str | None] = mapped_column(String(36))
    rule_id: Mapped[str | None] = mapped_column(Text)


class PatternRecord(Base):
    """One ED attendance or appointment outcome, for rolling-window patterns."""

    __tablename__ = "pattern_records"
    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"))
    kind: Mapped[str] = mapped_column(String(20))  # ed | appointment
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    outcome: Mapped[str | None] = mapped_column(String(20))
    __table_args__ = (Index("ix_pattern_person_kind_at", "person_id", "kind", "at"),)


class RoutedEvent(Base):
    """Events the router has finished with, so a redelivered one is not routed twice."""

    __tablename__ = "routed_events"
    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    routed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    notices: Mapped[int] = mapped_column(Integer)
    position: Mapped[str | None] = mapped_column(String(300))  # topic/partition/offset read


class AcceptedEvent(Base):
    """Event ids the gateway has accepted, and a digest of each, for idempotent retries."""

    __tablename__ = "accepted_events"
    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))
    accepted_at: Mapped[datetime] = mapped_column(UtcDateTime)


class InboxNotice(Base):
    """A sealed notice in its recipient's inbox: the broker keeps only ciphertext."""

    __tablename__ = "inbox_notices"
    notice_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    recipient_id: Mapped[str] = mapped_column(String(100), index=True)
    header: Mapped[str] = mapped_column(Text)
    ciphertext: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(String(100))
    deadline: Mapped[datetime] = mapped_column(UtcDateTime)
    held_until: Mapped[datetime | None] = mapped_column(UtcDateTime)  # daily digest
    delivered_at: Mapped[datetime] = mapped_column(UtcDateTime)  # into this inbox


class NoticeRecord(Base):
    """The broker's own record of a notice: its receipts, its deadline and its chain.

    Written in the transaction that decided the notice, with its outbox entry
    (``OutboxNotice``). The body is kept sealed under the household's data key, for
    escalation and re-routing, and is shredded with the household.
    """

    __tablename__ = "notice_records"
    notice_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    chain_id: Mapped[str] = mapped_column(String(36), index=True)  # the first notice's id
    follows: Mapped[str | None] = mapped_column(String(36))
    level: Mapped[int] = mapped_column(Integer, default=0)
    event_id: Mapped[str] = mapped_column(String(36), index=True)
    # Names the data keys: the pseudonyms of the households concerned, joined by "+"
    # (broker/adapters/data_keys.py), so several fit.
    household: Mapped[str] = mapped_column(String(400))
    recipient_id: Mapped[str] = mapped_column(String(100), index=True)
    recipient_org: Mapped[str] = mapped_column(String(64))
    notice_type: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(10))
    rule_id: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    deadline: Mapped[datetime] = mapped_column(UtcDateTime)
    escalate_to: Mapped[str] = mapped_column(Text)  # JSON [[org_id, role], ...] still to go
    reroute_to: Mapped[str | None] = mapped_column(String(200))  # JSON [org_id, role]
    body: Mapped[str] = mapped_column(Text)  # NoticeBody JSON, wrapped under the data key
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    delivered_via: Mapped[str | None] = mapped_column(String(20))  # inbox | webhook
    viewed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    rejected_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    rejection_reason: Mapped[str | None] = mapped_column(Text)  # wrapped under the data key
    # Rejected, and waiting for the router's timer to send it on (the inbox cannot sign).
    reroute_pending_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # chain acknowledged
    __table_args__ = (
        Index("ix_notice_records_open_deadline", "closed_at", "escalated_at", "deadline"),
        # The reroute timer asks every round for the few notices waiting to be sent on:
        # without it, each round read the whole table.
        Index(
            "ix_notice_records_reroute_pending",
            "reroute_pending_since",
            "notice_id",
            postgresql_where=text("reroute_pending_since IS NOT NULL"),
            sqlite_where=text("reroute_pending_since IS NOT NULL"),
        ),
    )


class OutboxNotice(Base):
    """A notice recorded and not yet on the notices topic: its sealed form, as Kafka takes it.

    Written in the transaction that decided the notice, before Kafka sees it, and deleted
    once Kafka has it, so a crash in between is made good by the relay. A table of its own,
    kept small: marking ``notice_records`` rows published rewrote each row under all its
    indexes (issue 14), and the sealed copy must not outlive its household's shredding.
    """

    __tablename__ = "notice_outbox"
    notice_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    recipient_id: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sealed: Mapped[str] = mapped_column(Text)  # the SealedNotice JSON
    __table_args__ = (Index("ix_notice_outbox_order", "created_at", "notice_id"),)


class WebhookDelivery(Base):
    """A notice to push to its recipient's webhook, queued with the inbox copy it pushes.

    ``sequence`` orders each recipient's queue: only the earliest pending delivery of a
    recipient is attempted, so a recipient's notices arrive in order. Claiming an attempt
    counts it and pushes ``next_attempt_at`` past the request's timeout (a lease), so that
    several dispatchers never post the same notice at once and a crash mid-request is retried.
    """

    __tablename__ = "webhook_deliveries"
    sequence: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    notice_id: Mapped[str] = mapped_column(String(36), unique=True)
    recipient_id: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(10))  # pending | delivered | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    enqueued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    first_failed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(String(60))  # a class, never a message
    last_status: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(300))  # topic/partition/offset it came from
    __table_args__ = (Index("ix_webhook_deliveries_queue", "state", "recipient_id", "sequence"),)


class MeshDelivery(Base):
    """A notice to send to its recipient's NHS MESH mailbox, queued with its inbox copy.

    Sent (``pending`` -> ``sent``) when MESH accepts it; ``acknowledged`` when MESH's tracking
    says the recipient's mailbox downloaded and acknowledged it (the transport
    acknowledgement, never a person's); ``dead`` when MESH reports it undeliverable or it
    expired undownloaded, or the send failed for good. A claim leases the attempt as the
    webhook queue does (``next_attempt_at``), and ``message_id`` keeps MESH's id for tracking.
    """

    __tablename__ = "mesh_deliveries"
    sequence: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    notice_id: Mapped[str] = mapped_column(String(36), unique=True)
    recipient_id: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(12))  # pending | sent | acknowledged | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)  # a send, or a tracking poll
    enqueued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    first_failed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    message_id: Mapped[str | None] = mapped_column(String(100))  # MESH's, once accepted
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    transport_acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(String(60))  # a class, never a message
    source: Mapped[str] = mapped_column(String(300))  # topic/partition/offset it came from
    __table_args__ = (Index("ix_mesh_deliveries_queue", "state", "next_attempt_at"),)


# --- Alerts that carry no content (issue 17): a contact's channels, and the alerts queued ---


class AlertChannel(Base):
    """Where a contact's person is alerted that a notice waits: an email address or a mobile
    number (E.164). A professional's personal data: never logged, never in Kafka."""

    __tablename__ = "alert_channels"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # email | sms
    address: Mapped[str] = mapped_column(String(320))
    __table_args__ = (UniqueConstraint("contact_id", "kind", "address"),)


class AlertDelivery(Base):
    """One alert to one channel, queued in the transaction that put the notice in the inbox.

    ``alert_key`` (notice, trigger, channel) makes each alert once however often the notice is
    delivered. A reminder is queued with its notice, due at its time, and sent only if the
    notice is still unanswered then. Claiming an attempt counts it and leases it, as the
    webhook queue does. The text is made when sent, from the directory: nothing of it is kept.
    """

    __tablename__ = "alert_deliveries"
    sequence: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_key: Mapped[str] = mapped_column(String(120), unique=True)
    notice_id: Mapped[str] = mapped_column(String(36), index=True)
    trigger: Mapped[str] = mapped_column(String(30))
    channel_id: Mapped[int] = mapped_column(Integer)  # gone from alert_channels: not sent
    contact_id: Mapped[str] = mapped_column(String(100), index=True)
    deadline: Mapped[datetime] = mapped_column(UtcDateTime)  # the notice's
    state: Mapped[str] = mapped_column(String(10))  # pending | sent | dead | cancelled
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    enqueued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    first_failed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(String(60))  # a class, never a message
    __table_args__ = (Index("ix_alert_deliveries_due", "state", "next_attempt_at"),)


# --- The web inbox's sign-in (issue 17): one-time links and server-side sessions ---


class WebSignInLink(Base):
    """A one-time sign-in link an administrator issued for a contact: only its hash is kept,
    so a copy of the database signs nobody in. Used once, within minutes."""

    __tablename__ = "web_sign_in_links"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    # A contact removed from the directory takes its links and sessions with it.
    contact_id: Mapped[str] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    issued_by: Mapped[str] = mapped_column(String(100))
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class WebSession(Base):
    """A signed-in person's session at a contact's inbox, found by its id's hash (the id is
    only in the browser's cookie). ``signed_in_with`` names how (a link, an invitation or a
    passkey), and ``credential_id`` which passkey opened it: removing that passkey ends it."""

    __tablename__ = "web_sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    # A contact removed from the directory takes its links and sessions with it.
    contact_id: Mapped[str] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(64))
    signed_in_with: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # None for a link's session, and for a passkey's opened before sessions recorded it. No
    # foreign key: a removed passkey's sessions end with it, and keep saying which it was.
    credential_id: Mapped[str | None] = mapped_column(String(1400))


class PasskeyCeremony(Base):
    """A WebAuthn challenge the broker issued: used once, within minutes (rules/passkeys.py).
    A registration's names the contact and the person the passkey will be."""

    __tablename__ = "web_passkey_ceremonies"
    challenge: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    contact_id: Mapped[str | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[str | None] = mapped_column(String(36))
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class PasskeyPerson(Base):
    """A person at a contact's inbox, and the contact's key wrapped under their printed
    recovery key (found by a hash of a value the browser derives from it, never the key)."""

    __tablename__ = "web_passkey_people"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    contact_id: Mapped[str] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    recovery_lookup: Mapped[str] = mapped_column(String(64), unique=True)
    recovery_wrapped_key: Mapped[str] = mapped_column(Text)
    enrolled_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Passkey(Base):
    """A person's passkey: its public key and counter, and the contact's key wrapped under
    its PRF output (which only the browser ever holds)."""

    __tablename__ = "web_passkeys"
    credential_id: Mapped[str] = mapped_column(String(1400), primary_key=True)
    person_id: Mapped[str] = mapped_column(
        ForeignKey("web_passkey_people.id", ondelete="CASCADE"), index=True
    )
    contact_id: Mapped[str] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    public_key: Mapped[str] = mapped_column(Text)
    sign_count: Mapped[int] = mapped_column(BigInteger)
    wrapped_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    aaguid: Mapped[str | None] = mapped_column(String(36))  # the authenticator's kind


# --- HTTP edges: client assertions used once, refused requests counted (issue 12) ---


class UsedAssertion(Base):
    """A client assertion's ``jti``, kept until the assertion expires: shared by every API
    process and surviving restarts, so an assertion gets one token, once, anywhere."""

    __tablename__ = "used_assertions"
    jti: Mapped[str] = mapped_column(String(200), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class RefusalCount(Base):
    """Refused requests counted per window, route template, method, status and caller kind:
    anonymous callers choose how often they are refused, so the audit log gets one entry per
    window for them and the count lives here."""

    __tablename__ = "refusal_counts"
    window_start: Mapped[datetime] = mapped_column(UtcDateTime, primary_key=True)
    route: Mapped[str] = mapped_column(String(200), primary_key=True)
    method: Mapped[str] = mapped_column(String(10), primary_key=True)
    status: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    caller: Mapped[str] = mapped_column(String(100), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


class PendingKeyChange(Base):
    """A change to an organisation's signing keys or a contact's recipient key (creation
    included), held until an administrator other than its requester approves it
    (services/key_changes.py). ``spec`` is the record as sent: organisational data and
    public keys, never personal data."""

    __tablename__ = "pending_key_changes"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    entity: Mapped[str] = mapped_column(String(20))  # organisation | contact
    entity_id: Mapped[str] = mapped_column(String(100))
    org_id: Mapped[str] = mapped_column(String(64), index=True)  # whose keys these are
    spec: Mapped[str] = mapped_column(Text)
    key_ids: Mapped[str] = mapped_column(Text)  # the ids of the keys it puts in place
    # Typed actors, operator:<name> or admin:<org id> (broker.rules.actors); bare names before.
    requested_by: Mapped[str] = mapped_column(String(100))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime)
    approved_by: Mapped[str | None] = mapped_column(String(100))
    approved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # None: still pending
    # Withdrawn by the administrator who asked for it; never approvable after that. (A change
    # also lapses, unrecorded here, once older than the key-change expiry setting.)
    withdrawn_by: Mapped[str | None] = mapped_column(String(100))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class DirectoryProposal(Base):
    """A move or step-down an event proposed, held until the family's front door confirms or
    rejects it (broker.rules.trust). The event stays sealed to the broker, as in the matching
    queue; the other columns are ids, codes and times only."""

    __tablename__ = "directory_proposals"
    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # move | step_down
    source_org: Mapped[str] = mapped_column(String(64))
    front_door: Mapped[str] = mapped_column(String(64), index=True)  # who confirms
    to_area: Mapped[str | None] = mapped_column(String(9))
    named_orgs: Mapped[str] = mapped_column(Text)  # comma-separated organisation ids
    sealed_event: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))  # pending|confirming|confirmed|rejected
    proposed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(100))


class EventReceipt(Base):
    """The one ``event_received`` audit entry of each event, whichever process saw it first
    (the gateway that accepted it or the router that read it from Kafka): whoever inserts
    this row, under the audit chain's lock, writes the entry (adapters/event_receipts.py)."""

    __tablename__ = "event_receipts"
    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    path: Mapped[str] = mapped_column(String(20))  # gateway | kafka
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PlanReminder(Base):
    """A step-down plan's review reminder to its lead professional: scheduled when the lead's
    step-down notice is sealed (``notice_id``), sent by the router's timer at ``due_at``
    as a notice following it (``reminder_id``). Ids and times only."""

    __tablename__ = "plan_reminders"
    notice_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reminder_id: Mapped[str | None] = mapped_column(String(36))
    __table_args__ = (Index("ix_plan_reminders_due", "sent_at", "due_at"),)


# --- Next steps a notice's reader owes, and the broker's own full view (issue 13 section 5) ---


class NoticeMilestone(Base):
    """A next step owed on a notice once it is acknowledged: the front door's decision on a
    referral (Working Together: within one working day), a transfer's written information
    (Wales: 3 working days) and transfer-in conference (15 working days). Each escalates when
    it is not met by its time. Ids, kinds and times only."""

    __tablename__ = "notice_milestones"
    notice_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    step: Mapped[str] = mapped_column(String(40), primary_key=True)
    chain_id: Mapped[str] = mapped_column(String(36), index=True)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    met_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    met_by: Mapped[str | None] = mapped_column(String(100))  # the recipient who recorded it
    outcome: Mapped[str | None] = mapped_column(String(40))  # the front door's decision
    escalated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Recorded by the inbox; the referring agency is told by the router's timer (it signs).
    tell_pending_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    __table_args__ = (Index("ix_notice_milestones_open", "met_at", "escalated_at", "due_at"),)


class NoticeFullView(Base):
    """The notice's body as a front door would read it, kept (wrapped under the household's
    data key, shredded with it) for a notice whose own reader sees less: a re-routed or
    escalated notice is composed for its new reader from this, never from the first
    reader's minimised copy."""

    __tablename__ = "notice_full_views"
    notice_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    body: Mapped[str] = mapped_column(Text)


class Peer(Base):
    """Another partnership's broker, an organisation of kind ``peer_broker``: where its gateway
    is, and the id this broker's own organisation has in the peer's directory (what it signs
    in as when it sends a transfer or a receipt there)."""

    __tablename__ = "peers"
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    gateway_url: Mapped[str] = mapped_column(String(500))
    # Its recipient API (receipts go there): the gateway's URL unless registered apart.
    api_url: Mapped[str | None] = mapped_column(String(500))
    known_there_as: Mapped[str] = mapped_column(String(64))


class PeerArea(Base):
    """An authority a peer broker serves: a move there is transferred to the peer."""

    __tablename__ = "peer_areas"
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    area: Mapped[str] = mapped_column(String(9), primary_key=True, unique=True)


class PeerTransfer(Base):
    """A transfer a peer broker pushed here, sealed as it came (ciphertext only), kept by its
    id: a retried push finds it and is applied once."""

    __tablename__ = "peer_transfers"
    transfer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    peer_org: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    digest: Mapped[str] = mapped_column(String(64))
    sealed: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    applied_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)


class PeerReceipt(Base):
    """A receipt owed to the peer broker a transfer came from, queued until the peer has it:
    one row per transfer and receipt, so a receipt recorded twice is sent once."""

    __tablename__ = "peer_receipts"
    transfer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    receipt: Mapped[str] = mapped_column(String(40), primary_key=True)
    peer_org: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    recipient_id: Mapped[str] = mapped_column(String(100))  # this broker's contact at the peer
    conference_on: Mapped[date | None] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(Text)  # wrapped under the household's data key
    household: Mapped[str | None] = mapped_column(String(100))
    queued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_status: Mapped[int | None] = mapped_column(Integer)
    # Refused by the peer for good (a 4xx it meant): never sent again, never counted as sent.
    dead_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


def make_engine(url: str) -> AsyncEngine:
    engine = create_async_engine(url)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    # WAL lets the gateway, router, delivery worker and inbox share one file; the busy
    # timeout makes a writer wait for another instead of failing.
    cursor = connection.cursor()
    cursor.execute("PRAGMA busy_timeout=10000")
    _switch_to_wal(cursor)
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _switch_to_wal(cursor: Any) -> None:
    """Once a file is in WAL mode the switch is a no-op. On a new file, processes opening it
    at once contend for the switch, which SQLite refuses at once rather than waiting out the
    busy timeout: so wait here, briefly, for whoever is switching it."""
    for _ in range(WAL_SWITCH_ATTEMPTS - 1):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except Exception as exc:  # the driver's OperationalError: "database is locked"
            if "locked" not in str(exc):
                raise
            time.sleep(0.05)
    cursor.execute("PRAGMA journal_mode=WAL")


WAL_SWITCH_ATTEMPTS = 200  # 10 s, the busy timeout


async def create_schema(engine: AsyncEngine) -> None:
    """Brings the database to the newest migration (a no-op when it is there already)."""
    from broker import migrations  # imports this module

    await migrations.upgrade(engine)


async def insert_once(session: AsyncSession, model: type[Base], **values: Any) -> bool:
    """Inserts the row unless one with its key is there, even one another process committed
    a moment ago (where a check-then-insert would fail); answers whether it went in."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    result = await session.execute(insert(model).values(**values).on_conflict_do_nothing())
    return bool(result.rowcount)  # type: ignore[attr-defined]


class RoutingProgress(NamedTuple):
    events: int  # routed
    produced: int  # the notices routing made of them
    stored: int  # those of them in an inbox


async def routing_progress(session: AsyncSession) -> RoutingProgress:
    """How far routing has got, for a wait on it (the demo's, the tests'). Follow-ups are not
    notices routing made: in the hour before a school day starts, the router's own timer
    escalates a school's notice at once, and that escalation is not waited for."""
    events, produced = (await session.execute(
        select(func.count(RoutedEvent.event_id), func.sum(RoutedEvent.notices))
    )).one()  # fmt: skip
    stored = await session.scalar(
        select(func.count(InboxNotice.notice_id))
        .join(NoticeRecord, NoticeRecord.notice_id == InboxNotice.notice_id)
        .where(NoticeRecord.follows.is_(None))
    )
    return RoutingProgress(events or 0, produced or 0, stored or 0)


AUDIT_KEY = "audit_key"  # where a session holds the key its audit entries are made with


def sessions(
    engine: AsyncEngine, audit_key: bytes | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions on ``engine``; with ``audit_key`` (keys.audit_key) they may also append to
    the audit log (adapters/audit.py), which a session without it refuses."""
    info = {AUDIT_KEY: audit_key} if audit_key else {}
    return async_sessionmaker(engine, expire_on_commit=False, info=info)
