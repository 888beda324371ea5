"""The directory as data: what an administrator loads (organisations, recipients with their
public keys, people, households, registrations, involvements, school terms)."""

from datetime import date, time
from ipaddress import ip_address
from typing import Literal, Self
from urllib.parse import urlsplit

from pydantic import AwareDatetime, Field, ValidationInfo, field_validator, model_validator

from schemas.common import AreaCode, ContactId, Contract, OrgId, Phone, RecordId, ShortText, Upn
from schemas.nhs import NhsNumber

OrgKindName = Literal[
    "school", "gp_practice", "health_visiting", "school_nursing", "front_door",
    "mental_health", "talking_therapy", "early_help", "acute_trust", "police", "housing",
    "icb",  # an integrated care board: its designated safeguarding professionals
    "urgent_care", "nhs_111",  # urgent treatment and walk-in centres; NHS 111
    "education_service",  # the local authority's education service (attendance, CME, EHE)
    "maternity",  # maternity services (midwifery): they book pregnancies
    "peer_broker",  # another partnership's broker (registered through /v1/admin/peers)
]  # fmt: skip
ContactRoleName = Literal[
    "key_adult", "deputy_key_adult", "safeguarding_lead", "duty_manager",
    "education_safeguarding_officer", "emergency_duty_team",
    "designated_safeguarding",  # an ICB's designated or named safeguarding professional
]  # fmt: skip


class Term(Contract):
    starts_on: date
    ends_on: date


class SigningKeySpec(Contract):
    """An organisation's Ed25519 key for signing events, and when it may be used."""

    public_key: str = Field(pattern=r"^[A-Za-z0-9+/]{43}=$")
    valid_from: AwareDatetime | None = None
    valid_until: AwareDatetime | None = None


class OrganisationSpec(Contract):
    id: OrgId
    name: ShortText
    kind: OrgKindName
    area: AreaCode
    phone: Phone | None = None
    session_start: time | None = None
    # Working hours on working days (London time): a front door's office hours, outside which
    # its emergency duty team is told; any recipient's working day, for its deadlines.
    opens_at: time | None = None
    closes_at: time | None = None
    terms: tuple[Term, ...] = ()
    signing_keys: tuple[SigningKeySpec, ...] = ()
    ods_code: str | None = Field(
        None,
        pattern=r"^[A-Z0-9]{3,10}$",
        description="the NHS Organisation Data Service code (GP practices, NHS trusts)",
    )

    @model_validator(mode="after")
    def _opens_before_it_closes(self) -> Self:
        if (self.opens_at is None) != (self.closes_at is None):
            raise ValueError("give both opens_at and closes_at, or neither")
        if self.opens_at and self.closes_at and self.opens_at >= self.closes_at:
            raise ValueError("opens_at must be before closes_at")
        return self


class ContactSpec(Contract):
    id: ContactId
    org_id: OrgId
    role: ContactRoleName
    hpke_public_key: str = Field(
        pattern=r"^[A-Za-z0-9+/]+={0,2}$",
        max_length=2000,
        description="base64 of an X25519 key (32 bytes) or, for the post-quantum hybrid "
        "suite, an ML-KEM-768 key (1184 bytes) followed by an X25519 key",
    )
    daily_digest: bool = False  # gather this recipient's low-severity notices once a day
    webhook_url: str | None = Field(
        None,
        max_length=500,
        description="where the broker also POSTs each sealed notice, signed: https, or http "
        "on loopback only; no credentials or fragment in the URL",
    )
    mesh_mailbox: str | None = Field(
        None,
        pattern=r"^[A-Z0-9]{3,20}$",
        description="the contact's NHS MESH mailbox id: each sealed notice is also sent there",
    )

    @field_validator("hpke_public_key")
    @classmethod
    def _a_key_of_a_known_suite(cls, value: str) -> str:
        raw_length = len(value) * 3 // 4 - value.count("=")
        if raw_length not in (32, 1216):
            raise ValueError("must be an X25519 key or an ML-KEM-768+X25519 key")
        return value

    @field_validator("webhook_url")
    @classmethod
    def _a_safe_endpoint(cls, value: str | None) -> str | None:
        if value is None:
            return None
        url = urlsplit(value)
        if url.scheme not in ("https", "http") or not url.hostname or not _valid_port(value):
            raise ValueError("must be an https URL")
        if url.scheme == "http" and not _loopback(url.hostname):
            raise ValueError("plain http is allowed on loopback only")
        if url.username or url.password or url.fragment:
            raise ValueError("must carry no credentials or fragment")
        return value


def _valid_port(value: str) -> bool:
    try:
        urlsplit(value).port  # noqa: B018  reading it is the check: it raises when malformed
    except ValueError:
        return False
    return True


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


class PersonSpec(Contract):
    id: RecordId
    nhs_number: NhsNumber | None = None
    upn: Upn | None = None
    given_name: ShortText | None = None
    family_name: ShortText | None = None
    date_of_birth: date | None = None
    # An unborn child: a household member (role child) with an expected date of delivery. At
    # birth the same record is updated (date of birth, NHS number, no longer unborn), so the
    # child keeps the history gathered before birth.
    unborn: bool = False
    expected_on: date | None = None
    # Needs that make a missed appointment or a service withdrawing weigh more (the Child B
    # review: a father's learning disability, a child's education, health and care plan):
    # a child's special educational needs and disabilities (SEND), a child's education,
    # health and care plan (EHCP), a parent's or carer's learning disability.
    has_send: bool = False
    has_ehcp: bool = False
    learning_disability: bool = False
    # A language need every notice about the person states (issue 15, item 7): the language
    # the person prefers (an ISO 639 code: "cy" Welsh, "pl" Polish...) and whether an
    # interpreter is needed to speak with them.
    preferred_language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}$")
    interpreter_needed: bool = False

    @model_validator(mode="after")
    def _unborn_has_an_expected_date(self) -> Self:
        if self.unborn and (self.expected_on is None or self.date_of_birth is not None):
            raise ValueError("an unborn child has an expected_on date and no date_of_birth")
        return self


class HouseholdMemberSpec(Contract):
    person_id: RecordId
    role: Literal["parent_or_carer", "child"]


class HouseholdSpec(Contract):
    id: RecordId
    area: AreaCode
    members: tuple[HouseholdMemberSpec, ...]


class RelationshipSpec(Contract):
    """A family tie that does not depend on who lives where: a parent or carer of a child
    (living with the child or not, with or without parental responsibility), or siblings
    (brothers and sisters, half and step included, wherever each lives)."""

    person_id: RecordId
    kind: Literal["parent_of", "sibling_of"]
    related_person_id: RecordId
    parental_responsibility: bool | None = None  # parent_of only; None when not known

    # Field validators (not one for the model), so that an error names the field at fault:
    # a CSV import reports file, row and field, the admin API the body field.
    @field_validator("related_person_id")
    @classmethod
    def _a_tie_between_two_people(cls, value: str, info: ValidationInfo) -> str:
        if value == info.data.get("person_id"):
            raise ValueError("a relationship joins two different people")
        return value

    @field_validator("parental_responsibility")
    @classmethod
    def _for_parents_only(cls, value: bool | None, info: ValidationInfo) -> bool | None:
        if value is not None and info.data.get("kind") == "sibling_of":
            raise ValueError("parental_responsibility is for parent_of only")
        return value


class RegistrationSpec(Contract):
    person_id: RecordId
    kind: Literal["gp", "school", "health_team"]
    org_id: OrgId


class InvolvementSpec(Contract):
    person_id: RecordId
    org_id: OrgId
    opened_on: date
    closed_on: date | None = None


class PlanOwnerSpec(Contract):
    name: ShortText
    role: ShortText
    org_id: OrgId
    phone: Phone | None = None
    email: ShortText | None = None


class PlanSpec(Contract):
    id: RecordId
    person_id: RecordId
    kind: Literal["child_protection", "child_in_need", "early_help"]
    area: AreaCode
    started_on: date
    ended_on: date | None = None
    lead_professional: PlanOwnerSpec | None = None
    action_owners: tuple[PlanOwnerSpec, ...] = ()
    step_down_until: date | None = None
    if_concerns_return: str | None = None


class DirectorySpec(Contract):
    organisations: tuple[OrganisationSpec, ...] = ()
    contacts: tuple[ContactSpec, ...] = ()
    people: tuple[PersonSpec, ...] = ()
    households: tuple[HouseholdSpec, ...] = ()
    relationships: tuple[RelationshipSpec, ...] = ()
    registrations: tuple[RegistrationSpec, ...] = ()
    involvements: tuple[InvolvementSpec, ...] = ()
    plans: tuple[PlanSpec, ...] = ()
