"""Notices the broker sends: a cleartext header for routing, a body only the recipient reads.

On the wire a notice is a ``SealedNotice``: the header as the exact JSON text that was bound
into the HPKE encryption and the broker's signature, the body's ciphertext, and the signature.
Receivers verify and decrypt over those exact bytes, never over a re-serialisation.
"""

from datetime import date, datetime
from enum import StrEnum
from typing import Final, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field, field_serializer, model_validator

from schemas.common import AreaCode, Contract, OrgId
from schemas.events import PlanKind

NOTICE_SCHEMA_VERSION: Final = 1


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class NoticeType(StrEnum):
    SCHOOL_SUPPORT = "school_support"
    HEALTH_VISITING = "health_visiting"
    GP_INFORMATION = "gp_information"
    AGENCY_INFORMATION = "agency_information"
    FRONT_DOOR_REFERRAL = "front_door_referral"
    TRANSFER = "transfer"
    PLAN_OWNER = "plan_owner"
    OUT_OF_HOURS = "out_of_hours_referral"  # to the emergency duty team, at once
    OUTCOME = "referral_outcome"  # to the referring agency: what the front door decided
    # To police and health partners: the front door is convening a strategy discussion today.
    STRATEGY_DISCUSSION = "strategy_discussion"
    # To the local authority's education safeguarding officer: an education event it acts on
    # (attendance, a child missing education, home education), with the detail it needs.
    EDUCATION_SAFEGUARDING = "education_safeguarding"


class FollowUp(StrEnum):
    """Why a notice follows an earlier one: it was not acknowledged in time, was rejected, or
    its plan's review date has come."""

    ESCALATION = "escalation"
    REROUTE = "reroute"
    REMINDER = "reminder"  # a step-down plan's review date has come


class Receipt(StrEnum):
    """A notice's receipts, each distinct: a transport receipt is never a business one."""

    DELIVERED = "delivered"  # the recipient's system has it
    VIEWED = "viewed"  # a person opened it
    ACKNOWLEDGED = "acknowledged"  # the recipient accepts responsibility
    REJECTED = "rejected"  # with a reason; the notice goes on to the front door


class HpkeSuiteName(StrEnum):
    X25519_SHA256_AES256GCM = "DHKEM(X25519,HKDF-SHA256)/HKDF-SHA256/AES-256-GCM"
    MLKEM768_X25519_SHA256_AES256GCM = "MLKEM768-X25519/HKDF-SHA256/AES-256-GCM"


class NoticeHeader(Contract):
    """Routing metadata: what the transport and the inbox may see. No personal data, and
    nothing that tells what happened: the rule that decided the notice names the event's
    kind (a mental health crisis, an ED attendance), so it travels only inside the sealed
    body (``NoticeBody.rule_id``); the broker keeps it in its own database."""

    schema_version: Literal[1] = NOTICE_SCHEMA_VERSION
    notice_id: UUID
    event_id: UUID
    correlation_id: UUID | None = None
    household: str
    recipient_id: str
    recipient_org: OrgId
    notice_type: NoticeType
    severity: Severity
    created_at: AwareDatetime
    deadline: AwareDatetime
    held_until: AwareDatetime | None = None  # a low-severity notice waiting for the daily digest
    suite: HpkeSuiteName = HpkeSuiteName.X25519_SHA256_AES256GCM
    recipient_key_id: str
    signing_key_id: str
    follows: UUID | None = None  # the notice this one escalates or re-routes
    follow_up: FollowUp | None = None
    escalation_level: int = Field(0, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _legacy_rule_id(cls, data: object) -> object:
        # Notices sealed before the rule left the header still open and list; the rule in
        # them is dropped here, so it is never shown or passed on again.
        if isinstance(data, dict) and "rule_id" in data:
            return {k: v for k, v in data.items() if k != "rule_id"}
        return data


class Relation(StrEnum):
    """Whose event a notice is, in relation to the recipient's own people (its patients,
    pupils, the children it sees): its wording says "a parent of your patient(s)", never
    another person's event under its patient's name."""

    SELF = "self"  # the event is about the recipient's own patient or pupil
    PARENT = "parent"  # about a parent or carer of theirs
    CHILD = "child"  # about a child of theirs
    SIBLING = "sibling"  # about a brother or sister of theirs
    CO_PARENT = "co_parent"  # about another parent of their children
    HOUSEHOLD_MEMBER = "household_member"  # about someone they live with
    FAMILY_MEMBER = "family_member"  # about someone else in the family


class PersonView(Contract):
    """A person as the recipient may see them."""

    given_name: str | None = None
    family_name: str | None = None
    date_of_birth: date | None = None
    nhs_number: str | None = None
    role: Literal["parent_or_carer", "child"] | None = None
    present: bool | None = None  # a child at the incident (None: the event says nothing)
    # A language need, stated to every reader who sees the person: the preferred language
    # (ISO 639 code) and whether an interpreter is needed.
    preferred_language: str | None = None
    interpreter_needed: bool | None = None


class PlanSummary(Contract):
    kind: str
    started_on: date
    ended_on: date | None = None
    open: bool
    # Whose plan, as the recipient may see the child, and who leads it (its organisation's
    # contact line); None in notices sealed before plans were attributed.
    child: PersonView | None = None
    lead_professional: str | None = None


class HistoryDigest(Contract):
    """What the broker already knew of the household, within what the recipient may see.

    ``earlier_incidents_12_months`` counts earlier events (incidents), each once however
    many notices it produced. ``earlier_notices_12_months`` counted notice copies; it is no
    longer produced, and is kept only so that notices sealed before can still be read."""

    earlier_incidents_12_months: int = 0
    earlier_notices_12_months: int | None = None
    events_12_months: dict[str, int] = Field(default_factory=dict)
    plans: tuple[PlanSummary, ...] = ()
    previous_areas: tuple[AreaCode, ...] = ()
    agencies: tuple[str, ...] = ()


class SchoolMatter(StrEnum):
    """What a school's key adult is told happened, as the school may know it: never which
    service, condition or event kind lies behind it."""

    INCIDENT_AT_HOME = "incident_at_home"  # a parent's crisis, an incident in the home
    ABOUT_THIS_CHILD = "about_this_child"  # the child's own attendance at hospital
    SERVICE_STOPPED = "service_stopped"  # a service stopped working with the child or family
    JOINING_SCHOOL = "joining_school"  # a child joining the school after a move
    # Operation Encompass: police attended a domestic abuse incident in the child's home. The
    # statutory scheme tells the school that much, never who did what to whom.
    DOMESTIC_ABUSE_INCIDENT = "domestic_abuse_incident"


class PlanContact(Contract):
    """The social worker or lead professional of a plan, as the directory holds them."""

    name: str | None = None
    role: str | None = None
    organisation: str | None = None  # its name and phone, as the directory holds them
    phone: str | None = None
    email: str | None = None


class PlanForSchool(Contract):
    """An open plan of a child joining the school: its kind only, and whom to contact."""

    about_index: int = Field(ge=0)  # which child of ``NoticeBody.about``
    kind: PlanKind
    lead_professional: PlanContact | None = None
    previous_school: str | None = None  # to ask for the child protection file, where known


class SchoolGuidance(Contract):
    """What a school's key adult needs (Operation Encompass practice): what happened and
    when, a reference to quote, whom to call and what to do by when. Instructions are fixed
    wording keys the school's system words ("school.action.offer_quiet_support")."""

    matter: SchoolMatter
    reference: str  # derived from the notice id; reveals nothing
    happened_at: datetime | None = None  # London time; an incident's
    stopped_on: date | None = None  # the day a service stopped
    act_by: datetime  # London time: the notice's deadline
    act_by_wording: str  # "school.act_by.on_day": "before school on Monday 10 May"
    who_to_call_role: str | None = None  # "school.call.front_door", ...
    actions: tuple[str, ...] = ()
    open_plans: tuple[PlanForSchool, ...] = ()
    # The police's own reference for an Operation Encompass notice, to quote to the police.
    police_reference: str | None = None

    @field_serializer("happened_at", "act_by", when_used="json")
    def _with_london_offset(self, moment: datetime | None) -> str | None:
        # London's winter offset is written "+00:00", not "Z": a school reads local time.
        return moment.isoformat() if moment else None


class ProfessionalView(Contract):
    """A professional who owns part of a plan, and how to reach them."""

    name: str | None = None
    role: str | None = None
    org_id: OrgId
    organisation: str | None = None  # the organisation's name and phone, as the directory has it
    phone: str | None = None
    email: str | None = None
    action: str | None = None  # what this owner agreed to do


class HistoryPlan(Contract):
    """One plan in a transfer's history: whose, what kind, when, and who led it."""

    kind: str
    category: str | None = None  # a child protection plan's category, where given
    started_on: date
    ended_on: date | None = None
    open: bool
    child: PersonView | None = None
    lead_professional: ProfessionalView | None = None
    recorded_by: Literal["event", "directory"]  # listed in the move, or kept by the broker


class TransferHistory(Contract):
    """The history a receiving authority takes over, structured."""

    plans: tuple[HistoryPlan, ...] = ()
    previous_areas: tuple[AreaCode, ...] = ()


class StepDownView(Contract):
    """A step-down plan as its owners act on it: who continues to support the family, each
    owner's action, what to do if concerns return, and the review date."""

    from_level: str | None = None
    to_level: str
    children: tuple[PersonView, ...] = ()
    lead_professional: ProfessionalView | None = None
    action_owners: tuple[ProfessionalView, ...] = ()
    your_role: Literal["lead_professional", "action_owner"] | None = None
    if_concerns_return: str | None = None
    review_by: date | None = None


class NoticeBody(Contract):
    """What the recipient reads once decrypted, already minimised for its role."""

    summary: str
    event_type: str
    occurred_at: datetime
    source_org: OrgId | None = None
    about: tuple[PersonView, ...] = ()
    facts: dict[str, str | int | bool | float] = Field(default_factory=dict)
    detail: dict[str, str | int | bool | None] = Field(default_factory=dict)
    area: AreaCode | None = None
    who_to_call: str | None = None
    digest: HistoryDigest | None = None
    # The rule that decided the notice, where its reader may know it (minimisation.py);
    # None where the rule's name would tell a school what it may not know: the notice's id
    # is then the reference to quote, which the front door finds in the chronology.
    rule_id: str | None = None
    # Accuracy about people: whose event this is to the recipient's own people (None for a
    # front door, which hears of the whole family); third-party information (about someone
    # who is not the recipient's patient) must not be shown to the patient through online
    # record access. ``wording`` holds fixed keys the recipient's system words, e.g.
    # "relation.parent.patient" ("a parent of your patient(s)").
    relation: Relation | None = None
    third_party: bool = False
    wording: tuple[str, ...] = ()
    # The languages the recipient's system renders the wording keys in, in order: Welsh and
    # English for a recipient in Wales (the Welsh Language Standards), else English. The
    # broker ships keys, not prose; each key has its Welsh equivalent in the key catalogue.
    languages: tuple[Literal["cy", "en"], ...] = ("en",)
    # A school's key adult: what happened and when, the reference to quote, whom to call
    # and what to do by when (broker.rules.school_notice); None for every other reader.
    school: SchoolGuidance | None = None

    # Plans and history as their readers act on them: a transfer's history, structured (no
    # flattened event keys); a step-down plan for its lead professional and action owners,
    # at the step-down, at its review date and when concerns return within its window.
    history: TransferHistory | None = None
    step_down: StepDownView | None = None


class ReferralOutcome(StrEnum):
    """The front door's decision on a referral (Working Together 2023: made within one working
    day), recorded by the front door and told to the referring agency."""

    NO_FURTHER_ACTION = "no_further_action"
    EARLY_HELP = "early_help"
    ASSESSMENT = "assessment"
    STRATEGY_DISCUSSION = "strategy_discussion"
    TRANSFERRED = "transferred"


class NextStep(StrEnum):
    """A next step owed on a notice once acknowledged, each with its own time that escalates:
    the front door's decision on a referral, and on a high-risk domestic abuse referral its
    consideration of a MARAC referral; after a transfer, the written information (Wales)
    and the transfer-in conference (England and Wales); after a move to an authority the
    partnership cannot reach, the originating front door's sending of the history to it."""

    DECISION = "decision"
    WRITTEN_INFORMATION = "written_information"
    TRANSFER_IN_CONFERENCE = "transfer_in_conference"
    MARAC_REFERRAL_CONSIDERED = "marac_referral_considered"
    HISTORY_SENT = "history_sent"


class SealedNotice(Contract):
    """A notice as it travels on Kafka and sits in an inbox."""

    header: str
    ciphertext: str
    signature: str
