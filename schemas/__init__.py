"""Versioned wire contracts between agencies, the broker and recipients.

Pydantic v2 models, frozen and strict about unknown fields. This package imports nothing from
``broker``: agencies' systems depend on it alone.
"""

from schemas.events import (
    EVENT_MODELS,
    AgencyContact,
    AppointmentOutcome,
    AttendanceConcern,
    ChildMissingEducation,
    EdAttendance,
    ElectiveHomeEducation,
    Event,
    EventAdapter,
    EventType,
    FamilyMovingArea,
    ParentMentalHealthCrisis,
    PersonRef,
    PoliceDomesticAbuseIncident,
    PregnancyNotification,
    ServiceWithdrawal,
)
from schemas.nhs import NhsNumber, is_valid_nhs_number

__all__ = [
    "EVENT_MODELS",
    "AgencyContact",
    "AppointmentOutcome",
    "AttendanceConcern",
    "ChildMissingEducation",
    "EdAttendance",
    "ElectiveHomeEducation",
    "Event",
    "EventAdapter",
    "EventType",
    "FamilyMovingArea",
    "NhsNumber",
    "ParentMentalHealthCrisis",
    "PersonRef",
    "PoliceDomesticAbuseIncident",
    "PregnancyNotification",
    "ServiceWithdrawal",
    "is_valid_nhs_number",
]
