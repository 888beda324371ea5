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
    # Education (issue 15, item 3): schools and the local authority's education service.
    ATTENDANCE_CONCERN = "attendance_concern"
    CHILD_MISSING_EDUCATION = "child_missing_education"
    ELECTIVE_HOME_EDUCATION = "elective_home_education"
    # Contacts and lateral checks (issue 15, item 4): any practitioner.
    AGENCY_CONTACT = "agency_contact"
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
    threats_to_kill_a_child: bool = False  # a strategy discussion the same day
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


class CarriedHistory(Contract):
    """What a peer broker's transfer brought beyond its plans (which travel as the move's
    ``plans``): the areas the family lived in before, and which transfer it came in."""

    transfer_id: UUID
    from_peer: OrgId
    previous_areas: tuple[AreaCode, ...] = ()
    # Plans of the peer's history whose child it named by no NHS number: not matched here,
    # so counted for the receiving front door to ask the peer for.
    plans_not_carried: int = Field(0, ge=0)


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
    # Set only on a move a peer broker transferred here (broker.rules.peers): its history.
    carried_history: CarriedHistory | None = None

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


class CareSetting(StrEnum):
    """Where an ED-type attendance happened: a child brought to urgent care or described to
    NHS 111 again and again is the same pattern as one brought to the emergency department."""

    EMERGENCY_DEPARTMENT = "emergency_department"
    URGENT_TREATMENT_CENTRE = "urgent_treatment_centre"  # minor injury units included
    WALK_IN_CENTRE = "walk_in_centre"
    NHS_111 = "nhs_111"  # a call or online contact: ``arrived_at`` is when it was made


class EdAttendance(EventBase):
    """An attendance at an emergency department, an urgent treatment or walk-in centre, or a
    contact with NHS 111 (acute trusts, urgent care services and NHS 111 only); ``setting``
    says which, and every setting counts toward the same patterns.

    ``not_yet_mobile`` is what the clinician observed (not yet crawling or walking); when it is
    not given, the broker falls back on the child's age. Both it and ``intent`` are optional so
    that producers of the first edition stay valid.
    """

    event_type: Literal[EventType.ED_ATTENDANCE]
    subject: PersonRef
    arrived_at: AwareDatetime
    setting: CareSetting = CareSetting.EMERGENCY_DEPARTMENT
    presenting_category: PresentingCategory
    intent: Intent | None = None
    not_yet_mobile: bool | None = None
    accompanied_by: ShortText | None = None
    clinical_summary: FreeText | None = None

    def people(self) -> tuple[PersonRef, ...]:
        return (self.subject,)


class AppointmentOutcome(EventBase):
    """A child's booked appointment: attended, was not brought (WNB), or cancelled by the
    parent or carer (an outcome of its own: one cancellation is not a concern, several in a
    row count toward the was-not-brought pattern)."""

    event_type: Literal[EventType.APPOINTMENT_OUTCOME]
    subject: PersonRef
    service: ShortText
    booked_for: AwareDatetime
    outcome: Literal["attended", "was_not_brought", "cancelled_by_parent"]

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
    threats_to_kill_a_child: bool = False  # a strategy discussion the same day

    def people(self) -> tuple[PersonRef, ...]:
        # The children first: the family is found from the first person named
        # (directory.family_for), and the children, known to their schools, are whom Operation
        # Encompass is for; an adult the directory does not know must not keep them untold.
        victim = (self.victim,) if self.victim else ()
        perpetrator = (self.alleged_perpetrator,) if self.alleged_perpetrator else ()
        return (*(c.child for c in self.children), *victim, *perpetrator)


# --- Education (issue 15, item 3) -----------------------------------------------------------
# ``has_ehcp``: the directory holds no education, health and care plan fact yet (issue 15, item
# 6), so the school or education service says so on the event.


class Setting(StrEnum):
    """Where the child's place is: a school, or an early-years or nursery place."""

    SCHOOL = "school"
    EARLY_YEARS = "early_years"


class AttendanceConcernKind(StrEnum):
    PERSISTENT_ABSENCE = "persistent_absence"  # under 90% of sessions (DfE)
    SHARP_FALL = "sharp_fall"  # a fall the school judges sharp, from ``previous_percent``
    PLACE_NOT_TAKEN_UP = "place_not_taken_up"  # an early-years place secured, never used


class AttendanceConcern(EventBase):
    """A child's attendance worries the school or nursery: persistent absence, a sharp fall,
    or an early-years place not taken up (Child B: nursery 29-31%, then a place never used)."""

    event_type: Literal[EventType.ATTENDANCE_CONCERN]
    subject: PersonRef
    setting: Setting
    concern: AttendanceConcernKind
    attendance_percent: int = Field(ge=0, le=100)
    previous_percent: int | None = Field(default=None, ge=0, le=100)
    period_from: date
    period_to: date
    has_ehcp: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.period_from > self.period_to:
            raise ValueError("period_from must not be after period_to")
        if self.concern is AttendanceConcernKind.SHARP_FALL and self.previous_percent is None:
            raise ValueError("a sharp fall needs previous_percent")
        if (self.concern is AttendanceConcernKind.PLACE_NOT_TAKEN_UP
                and self.setting is not Setting.EARLY_YEARS):  # fmt: skip
            raise ValueError("place_not_taken_up is for an early-years place")
        return self

    def people(self) -> tuple[PersonRef, ...]:
        return (self.subject,)


class MissingReason(StrEnum):
    """Why the child is missing education, as the school or education service found it."""

    LEFT_WITHOUT_DESTINATION = "left_without_destination"  # off roll, no new school known
    NOT_RETURNED = "not_returned"  # did not come back after a holiday or an absence
    NEVER_STARTED = "never_started"  # a school place offered and never taken up
    NOT_ON_ANY_ROLL = "not_on_any_roll"  # of school age, found on no school's roll


class ChildMissingEducation(EventBase):
    """A child of compulsory school age not on a school roll and not educated otherwise."""

    event_type: Literal[EventType.CHILD_MISSING_EDUCATION]
    subject: PersonRef
    missing_since: date
    missing_reason: MissingReason
    whereabouts_known: bool
    last_school: OrgId | None = None
    has_ehcp: bool = False

    def people(self) -> tuple[PersonRef, ...]:
        return (self.subject,)


class ElectiveHomeEducation(EventBase):
    """Parents declare they will educate the child at home; the school takes the child off its
    roll (Child B: "Mother sent school transport away as she was now home schooling")."""

    event_type: Literal[EventType.ELECTIVE_HOME_EDUCATION]
    subject: PersonRef
    declared_on: date
    previous_school: OrgId | None = None
    has_ehcp: bool = False

    def people(self) -> tuple[PersonRef, ...]:
        return (self.subject,)


EducationEvent = AttendanceConcern | ChildMissingEducation | ElectiveHomeEducation


# --- Contacts and lateral checks (issue 15, item 4) -----------------------------------------


class ContactKind(StrEnum):
    CONTACT = "contact"  # a practitioner spoke to or met another agency about the family
    # What another agency knows, asked as part of a practitioner's own safeguarding checks
    # (Child B: midwifery's call to the front door was never recorded, so nobody saw it).
    LATERAL_CHECK = "lateral_check"


class AgencyContact(EventBase):
    """A practitioner records a contact or a lateral check with another agency about a
    person: it is not a concern, but it belongs in the family's chronology."""

    event_type: Literal[EventType.AGENCY_CONTACT]
    subject: PersonRef
    contact_kind: ContactKind
    with_org: OrgId  # the agency contacted or checked with
    contacted_at: AwareDatetime
    practitioner_role: ShortText  # "midwife", "health visitor"
    outcome: ShortText | None = None  # what the other agency said ("case closed in 2020")

    def people(self) -> tuple[PersonRef, ...]:
        return (self.subject,)


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
    EventType.ATTENDANCE_CONCERN: AttendanceConcern,
    EventType.CHILD_MISSING_EDUCATION: ChildMissingEducation,
    EventType.ELECTIVE_HOME_EDUCATION: ElectiveHomeEducation,
    EventType.AGENCY_CONTACT: AgencyContact,
    EventType.PREGNANCY_NOTIFICATION: PregnancyNotification,
}

Event = Annotated[
    ParentMentalHealthCrisis
    | ServiceWithdrawal
    | FamilyMovingArea
    | EdAttendance
    | AppointmentOutcome
    | PoliceDomesticAbuseIncident
    | AttendanceConcern
    | ChildMissingEducation
    | ElectiveHomeEducation
    | AgencyContact
    | PregnancyNotification,
    Field(discriminator="event_type"),
]
EventAdapter: TypeAdapter[Event] = TypeAdapter(Event, config=ConfigDict(hide_input_in_errors=True))
