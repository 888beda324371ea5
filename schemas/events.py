"""Events that agencies publish, one model per event type, under one envelope.

Every event carries its envelope (id, type, schema version, source, times, correlation) and
names the people it is about through ``PersonRef``. An event is told apart by ``event_type``.
"""

from datetime import date
from enum import StrEnum
from typing import Annotated, Final, Literal, Self
from uuid import UUID

from pydantic import AwareDatetime, ConfigDict, Field, TypeAdapter, model_validator

from schemas.common import AreaCode, Contract, FreeText, OrgId, ShortText, Upn
from schemas.nhs import NhsNumber

SCHEMA_VERSION: Final = 1


class EventType(StrEnum):
    PARENT_MENTAL_HEALTH_CRISIS = "parent_mental_health_crisis"
    SERVICE_WITHDRAWAL = "service_withdrawal"
    FAMILY_MOVING_AREA = "family_moving_area"
    ED_ATTENDANCE = "ed_attendance"
    APPOINTMENT_OUTCOME = "appointment_outcome"
    POLICE_DOMESTIC_ABUSE_INCIDENT = "police_domestic_abuse_incident"
    PREGNANCY_NOTIFICATION = "pregnancy_notification"


class PersonRef(Contract):
    """Who an event is about, as the producing agency knows them.

    The NHS number is the identifier shared across health and care; a pupil number or the
    agency's own record id will do where it is missing. Name and date of birth help the
    front door match a person the directory does not know yet.
    """

    nhs_number: NhsNumber | None = None
    upn: Upn | None = None
    local_id: ShortText | None = None
    given_name: ShortText | None = None
    family_name: ShortText | None = None
    date_of_birth: date | None = None

    @model_validator(mode="after")
    def _has_an_identifier(self) -> Self:
        if not (self.nhs_number or self.upn or self.local_id):
            raise ValueError("a person needs an nhs_number, a upn or a local_id")
        return self


class Professional(Contract):
    """A named professional who owns part of a plan."""

    name: ShortText
    role: ShortText
    org_id: OrgId
    phone: ShortText | None = None
    email: ShortText | None = None
    action: FreeText | None = None  # what this owner agreed to do (a step-down's action owner)


class EventBase(Contract):
    event_id: UUID
    schema_version: Literal[1] = SCHEMA_VERSION
    source_org: OrgId
    occurred_at: AwareDatetime
    received_at: AwareDatetime | None = None
    correlation_id: UUID | None = None


# Each event type below also answers ``people()``: every person it names, the subject first.


class ParentMentalHealthCrisis(EventBase):
    """A parent or carer in mental health crisis (crisis team, police, liaison psychiatry, GP)."""

    event_type: Literal[EventType.PARENT_MENTAL_HEALTH_CRISIS]
    subject: PersonRef
    sectioned: bool = False
    admitted: bool = False
    suicidal_ideation: bool = False
    threats_to_kill: bool = False
    threats_to_harm_others: bool = False
    domestic_abuse: bool = False
    substance_misuse: bool = False
    children_present: tuple[PersonRef, ...] = ()
    clinical_summary: FreeText | None = None

    def people(self) -> tuple[PersonRef, ...]:
        return (self.subject, *self.children_present)


class WithdrawalReason(StrEnum):
    COMPLETED = "completed"
    NON_ENGAGEMENT = "non_engagement"
    DECLINED = "declined"
    MOVED = "moved"
    STEPPED_DOWN = "stepped_down"


class StepDownPlan(Contract):
    """Who owns the family after a step-down, and what happens if concerns return."""

    from_level: Literal["child_protection", "child_in_need"]
    to_level: Literal["child_in_need", "early_help"]
    lead_professional: Professional
    action_owners: tuple[Professional, ...] = Field(min_length=1)
    if_concerns_return: FreeText
    review_by: date


class ServiceWithdrawal(EventBase):
    """A service stops working with a person: discharge, closure, step-down."""

    event_type: Literal[EventType.SERVICE_WITHDRAWAL]
    subject: PersonRef
    service: ShortText
    reason: WithdrawalReason
    withdrawn_on: date
    step_down: StepDownPlan | None = None

    @model_validator(mode="after")
    def _step_down_iff_stepped_down(self) -> Self:
        stepped_down = self.reason is WithdrawalReason.STEPPED_DOWN
        if stepped_down and self.step_down is None:
            raise ValueError("a step-down needs its step_down plan")
        if not stepped_down and self.step_down is not None:
            raise ValueError("step_down is only for reason 'stepped_down'")
        return self

    def people(self) -> tuple[PersonRef, ...]:
        return (self.subject,)


class PlanKind(StrEnum):
    CHILD_PROTECTION = "child_protection"
    CHILD_IN_NEED = "child_in_need"
    EARLY_HELP = "early_help"


class PlanRecord(Contract):
    """A plan, open or closed, that travels with a family when it moves."""

    kind: PlanKind
    child: PersonRef
    started_on: date
    ended_on: date | None = None
    category: ShortText | None = None  # a child protection plan's category (e.g. neglect)
    lead_professional: Professional | None = None


class FamilyMovingArea(EventBase):
    """A household moves from one local authority area to another (or to somewhere unknown)."""

    event_type: Literal[EventType.FAMILY_MOVING_AREA]
    members: tuple[PersonRef, ...] = Field(min_length=1)
    from_authority: AreaCode
    to_authority: AreaCode | None = None
    moved_on: date
    plans: tuple[PlanRecord, ...] = ()
    new_school: OrgId | None = None
    new_gp: OrgId | None = None
    # The school the children leave, where the producer knows it: the new school asks it for
    # the child protection file. Only named, never told; the directory's record comes first.
    previous_school: OrgId | None = None

    def people(self) -> tuple[PersonRef, ...]:
        return self.members


class PresentingCategory(StrEnum):
    INJURY = "injury"
    INGESTION_OR_POISONING = "ingestion_or_poisoning"
    SELF_HARM = "self_harm"
    MENTAL_HEALTH = "mental_health"
    OTHER = "other"


class Intent(StrEnum):
    """Whether the harm was meant: a deliberate overdose or ingestion is self-harm."""

    ACCIDENTAL = "accidental"
    DELIBERATE = "deliberate"
    UNKNOWN = "unknown"


class EdAttendance(EventBase):
    """An attendance at an emergency department (acute trusts only).

    ``not_yet_mobile`` is what the clinician observed (not yet crawling or walking); when it is
    not given, the broker falls back on the child's age. Both it and ``intent`` are optional so
    that producers of the first edition stay valid.
    """

    event_type: Literal[EventType.ED_ATTENDANCE]
    subject: PersonRef
    arrived_at: AwareDatetime
    presenting_category: PresentingCategory
    intent: Intent | None = None
    not_yet_mobile: bool | None = None
    accompanied_by: ShortText | None = None
    clinical_summary: FreeText | None = None

    def people(self) -> tuple[PersonRef, ...]:
        return (self.subject,)


class AppointmentOutcome(EventBase):
    """A child's booked appointment: attended, or was not brought (WNB)."""

    event_type: Literal[EventType.APPOINTMENT_OUTCOME]
    subject: PersonRef
    service: ShortText
    booked_for: AwareDatetime
    outcome: Literal["attended", "was_not_brought"]

    def people(self) -> tuple[PersonRef, ...]:
        return (self.subject,)


class RiskLevel(StrEnum):
    """The police's risk assessment of the incident (DASH: standard, medium, high)."""

    STANDARD = "standard"
    MEDIUM = "medium"
    HIGH = "high"


class IncidentPlace(StrEnum):
    """Where the incident happened, coarsely: never an address (a victim may have fled)."""

    FAMILY_HOME = "family_home"
    OTHER_HOME = "other_home"
    PUBLIC_PLACE = "public_place"
    OTHER = "other"


class Whereabouts(StrEnum):
    """Where a child present was: in the room, or elsewhere in the home, hearing it."""

    SAME_ROOM = "same_room"
    ELSEWHERE_IN_HOME = "elsewhere_in_home"
    OTHER = "other"


class ChildAtIncident(Contract):
    """A child of the household, and whether and where they were at the incident."""

    child: PersonRef
    present: bool
    where: Whereabouts | None = None

    @model_validator(mode="after")
    def _where_only_if_present(self) -> Self:
        if self.where is not None and not self.present:
            raise ValueError("where is only for a child who was present")
        return self


class PoliceDomesticAbuseIncident(EventBase):
    """A domestic abuse incident police attended (Operation Encompass: Victims and Prisoners
    Act 2024). Victim and alleged perpetrator are each optional: police may not know or name
    them; the children of the household are what the notice is for."""

    event_type: Literal[EventType.POLICE_DOMESTIC_ABUSE_INCIDENT]
    incident_at: AwareDatetime
    place: IncidentPlace = IncidentPlace.FAMILY_HOME
    police_reference: ShortText
    victim: PersonRef | None = None
    alleged_perpetrator: PersonRef | None = None
    children: tuple[ChildAtIncident, ...] = Field(min_length=1)
    risk_level: RiskLevel

    def people(self) -> tuple[PersonRef, ...]:
        # The children first: the family is found from the first person named
        # (directory.family_for), and the children, known to their schools, are whom Operation
        # Encompass is for; an adult the directory does not know must not keep them untold.
        victim = (self.victim,) if self.victim else ()
        perpetrator = (self.alleged_perpetrator,) if self.alleged_perpetrator else ()
        return (*(c.child for c in self.children), *victim, *perpetrator)


class PregnancyStage(StrEnum):
    """A booking (the first antenatal appointment) or a concern raised later in pregnancy."""

    BOOKING = "booking"
    CONCERN = "concern"


class PregnancyConcern(StrEnum):
    """What maternity learnt at booking or since (NICE antenatal care for pregnant women with
    complex social factors; Child B: the parents disclosed the earlier plan at booking)."""

    PREVIOUS_CHILD_PROTECTION = "previous_child_protection"
    PREVIOUS_CHILDREN_REMOVED = "previous_children_removed"
    MENTAL_HEALTH = "mental_health"
    DOMESTIC_ABUSE = "domestic_abuse"
    SUBSTANCE_MISUSE = "substance_misuse"
    PARENT_LEARNING_DISABILITY = "parent_learning_disability"
    LATE_BOOKING = "late_booking"  # booked after 20 weeks, or a concealed pregnancy


class PregnancyNotification(EventBase):
    """Maternity services' booking of a pregnancy, or a concern raised during it. The unborn
    baby has no NHS number yet: the event names the mother, and the father or partner when
    known; the directory holds the unborn child (see PersonSpec.unborn)."""

    event_type: Literal[EventType.PREGNANCY_NOTIFICATION]
    stage: PregnancyStage = PregnancyStage.BOOKING
    mother: PersonRef
    father: PersonRef | None = None  # the father or the mother's partner, when known
    expected_on: date  # the expected date of delivery
    babies: int = Field(1, ge=1, le=6)  # twins: two (Child B's siblings)
    concerns: tuple[PregnancyConcern, ...] = ()

    def people(self) -> tuple[PersonRef, ...]:
        return (self.mother, *((self.father,) if self.father else ()))


EVENT_MODELS: dict[EventType, type[EventBase]] = {
    EventType.PARENT_MENTAL_HEALTH_CRISIS: ParentMentalHealthCrisis,
    EventType.SERVICE_WITHDRAWAL: ServiceWithdrawal,
    EventType.FAMILY_MOVING_AREA: FamilyMovingArea,
    EventType.ED_ATTENDANCE: EdAttendance,
    EventType.APPOINTMENT_OUTCOME: AppointmentOutcome,
    EventType.POLICE_DOMESTIC_ABUSE_INCIDENT: PoliceDomesticAbuseIncident,
    EventType.PREGNANCY_NOTIFICATION: PregnancyNotification,
}

Event = Annotated[
    ParentMentalHealthCrisis
    | ServiceWithdrawal
    | FamilyMovingArea
    | EdAttendance
    | AppointmentOutcome
    | PoliceDomesticAbuseIncident
    | PregnancyNotification,
    Field(discriminator="event_type"),
]
EventAdapter: TypeAdapter[Event] = TypeAdapter(Event, config=ConfigDict(hide_input_in_errors=True))
