"""One FHIR resource's fields as an event's fields: Encounter to an ED attendance, Appointment
to an appointment outcome, and the people they name. Pure: no I/O, no clock.

Each function raises ``Refused`` at the first field it cannot map, naming the field (a
FHIRPath) and never quoting its value; ``broker.rules.fhir_mapping`` gathers them into
``FhirRejected``.
"""

from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.reference import Reference
from fhir.resources.R4B.relatedperson import RelatedPerson

from broker.rules import fhir_codes as codes
from schemas.events import EventType, PersonRef
from schemas.nhs import is_valid_nhs_number

Fields = dict[str, Any]
Patients = dict[str, Patient]  # a Bundle's Patient entries by fullUrl


@dataclass(frozen=True)
class Issue:
    """One OperationOutcome issue: its type code, where (a FHIRPath) and what is wrong."""

    code: str  # an OperationOutcome issue type: invalid, required, code-invalid, not-supported
    expression: str
    diagnostics: str


class FhirRejected(Exception):
    def __init__(self, issues: list[Issue]) -> None:
        super().__init__("the FHIR resource was refused")
        self.issues = issues


class Refused(Exception):
    """One resource's first fault; ``fhir_mapping`` gathers them into ``FhirRejected``."""

    def __init__(self, code: str, expression: str, diagnostics: str) -> None:
        super().__init__(diagnostics)
        self.issue = Issue(code, expression, diagnostics)


def ed_attendance(encounter: Encounter, where: str, patients: Patients) -> Fields:
    """An Encounter of class EMER that happened, with a presenting complaint the broker knows."""
    setting = _setting(encounter, where)
    if encounter.status not in codes.ATTENDED_ENCOUNTER_STATUSES:
        raise Refused("not-supported", f"{where}.status", "only an encounter that took place "
                      "(arrived, triaged, in-progress, finished) is an attendance")  # fmt: skip
    if encounter.period is None or encounter.period.start is None:
        raise Refused("required", f"{where}.period.start", "the arrival time is required")
    category, intent = _presenting(encounter.reasonCode or [], f"{where}.reasonCode")
    arrived_at = encounter.period.start
    return {
        "event_type": EventType.ED_ATTENDANCE,
        "occurred_at": arrived_at,
        "arrived_at": arrived_at,
        "subject": person(encounter.subject, f"{where}.subject", encounter.contained, patients),
        "setting": setting,
        "presenting_category": category,
        "intent": intent,
        "accompanied_by": _accompanied_by(encounter, where),
    }


def _setting(encounter: Encounter, where: str) -> Any:
    coding = encounter.class_fhir
    setting = codes.SETTINGS.get((coding.system or "", coding.code or "")) if coding else None
    if setting is None:
        raise Refused("code-invalid", f"{where}.class", "the broker takes emergency encounters "
                      f"only (class EMER, system {codes.ACT_CODE})")  # fmt: skip
    return setting


def _presenting(reasons: list[CodeableConcept], where: str) -> tuple[Any, Any]:
    """The first SNOMED CT chief complaint the table knows, in the order the trust gave them."""
    if not reasons:
        raise Refused("required", where, "the presenting complaint (a SNOMED CT code) is required")
    for reason in reasons:
        for coding in reason.coding or []:
            if coding.system == codes.SNOMED and coding.code in codes.PRESENTING_COMPLAINTS:
                return codes.PRESENTING_COMPLAINTS[coding.code]
    raise Refused("code-invalid", where, "no presenting complaint code the broker knows "
                  "(SNOMED CT, the table in broker.rules.fhir_codes)")  # fmt: skip


def _accompanied_by(encounter: Encounter, where: str) -> str | None:
    """Who brought the patient, by relationship only: each escort participant refers to a
    contained RelatedPerson whose relationship (v3 RoleCode) the table knows."""
    words = []
    for index, participant in enumerate(encounter.participant or []):
        types = [c for t in participant.type or [] for c in t.coding or []]
        if not any(c.system == codes.PARTICIPATION_TYPE and c.code == "ESC" for c in types):
            continue
        words.append(_relationship(participant.individual, encounter.contained or [],
                                   f"{where}.participant[{index}].individual"))  # fmt: skip
    return ", ".join(dict.fromkeys(words)) or None


def _relationship(reference: Reference | None, contained: list[Any], where: str) -> str:
    related = related_person(reference, contained)
    codings = [c for r in (related.relationship or []) for c in r.coding or []] if related else []
    for coding in codings:
        if coding.system == codes.ROLE_CODE and coding.code in codes.ACCOMPANYING_RELATIONSHIPS:
            return codes.ACCOMPANYING_RELATIONSHIPS[coding.code]
    raise Refused("code-invalid", where, "an escort must refer to a contained RelatedPerson "
                  "whose relationship (v3 RoleCode) the broker knows")  # fmt: skip


def appointment_outcome(appointment: Appointment, where: str, patients: Patients) -> Fields:
    """An Appointment whose status is an outcome, for the patient among its participants."""
    if appointment.start is None:
        raise Refused("required", f"{where}.start", "the booked time is required")
    return {
        "event_type": EventType.APPOINTMENT_OUTCOME,
        "occurred_at": appointment.start,
        "booked_for": appointment.start,
        "outcome": _outcome(appointment, where),
        "service": _service(appointment, where),
        "subject": _appointment_patient(appointment, where, patients),
    }


def _outcome(appointment: Appointment, where: str) -> str:
    status = appointment.status or ""
    if status in codes.APPOINTMENT_STATUSES:
        return codes.APPOINTMENT_STATUSES[status]
    if status != codes.CANCELLED:
        raise Refused("not-supported", f"{where}.status", "only an outcome is taken: fulfilled, "
                      "noshow, or cancelled by the patient or their parent or carer")  # fmt: skip
    reasons = appointment.cancelationReason.coding or [] if appointment.cancelationReason else []
    if any(c.system == codes.CANCELLATION_REASON and c.code in codes.CANCELLED_BY_PATIENT
           for c in reasons):  # fmt: skip
        return "cancelled_by_parent"
    raise Refused(
        "not-supported",
        f"{where}.cancelationReason",
        "a cancellation is taken only when the patient's side cancelled "
        "(pat, pat-crs, pat-cpp, pat-fb, pat-lt)",
    )


def _service(appointment: Appointment, where: str) -> str:
    """The service the appointment was with, as the trust names it."""
    for concept in [*(appointment.serviceType or []), *(appointment.specialty or [])]:
        names = [concept.text, *(c.display for c in concept.coding or [])]
        for name in names:
            if name and name.strip():
                return str(name)
    raise Refused("required", f"{where}.serviceType", "the service (serviceType or specialty, "
                  "with its text or display) is required")  # fmt: skip


def _appointment_patient(appointment: Appointment, where: str, patients: Patients) -> PersonRef:
    contained = appointment.contained or []
    for index, participant in enumerate(appointment.participant or []):
        actor = participant.actor
        if actor is not None and _is_patient(actor, contained, patients):
            return person(actor, f"{where}.participant[{index}].actor", contained, patients)
    raise Refused("required", f"{where}.participant", "a participant who is the patient "
                  "(a Patient reference with an NHS number) is required")  # fmt: skip


def _is_patient(actor: Reference, contained: list[Any], patients: Patients) -> bool:
    target = actor.reference or ""
    return (actor.type == "Patient" or target.startswith("Patient/")
            or _patient(actor, contained, patients) is not None
            or (actor.identifier is not None
                and actor.identifier.system == codes.NHS_NUMBER_SYSTEM))  # fmt: skip


def person(
    reference: Reference | None, where: str, contained: list[Any] | None, patients: Patients
) -> PersonRef:
    """The person a reference names, by NHS number: on the reference itself (a logical
    reference), in a contained Patient, or in a Patient entry of the same Bundle."""
    patient = _patient(reference, contained or [], patients)
    identifiers = list(patient.identifier or []) if patient else []
    if reference is not None and reference.identifier is not None:
        identifiers.append(reference.identifier)
    numbers = [i.value for i in identifiers if i.system == codes.NHS_NUMBER_SYSTEM and i.value]
    if not numbers:
        raise Refused("required", f"{where}.identifier",
                      f"an NHS number (system {codes.NHS_NUMBER_SYSTEM}) is required")  # fmt: skip
    digits = numbers[0].replace(" ", "")
    if not is_valid_nhs_number(digits):
        message = "not a valid NHS number (10 digits with a modulus-11 check digit)"
        raise Refused("value", f"{where}.identifier.value", message)
    return PersonRef(nhs_number=digits, **_demographics(patient))


def _patient(
    reference: Reference | None, contained: list[Any], patients: Patients
) -> Patient | None:
    target = reference.reference if reference else None
    if not target:
        return None
    if target.startswith("#"):
        found = [r for r in contained if isinstance(r, Patient) and r.id == target[1:]]
        return found[0] if found else None
    return patients.get(target)


def _demographics(patient: Patient | None) -> Fields:
    """Name and date of birth where the Patient gives them: they help the front door match
    someone the directory does not know."""
    if patient is None:
        return {}
    name = patient.name[0] if patient.name else None
    return {
        "given_name": (name.given or [None])[0] if name else None,
        "family_name": name.family if name else None,
        "date_of_birth": patient.birthDate,
    }


def related_person(reference: Reference | None, contained: list[Any]) -> RelatedPerson | None:
    target = reference.reference if reference else None
    if not target or not target.startswith("#"):
        return None
    found = [r for r in contained if isinstance(r, RelatedPerson) and r.id == target[1:]]
    return found[0] if found else None
