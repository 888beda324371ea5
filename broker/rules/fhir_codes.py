"""The FHIR codes the broker understands, as tables: anything else is refused, never guessed.

A code outside these tables is a 422 naming the field, so that a trust sees at once that its
feed sends something the broker cannot place, rather than an attendance counted as "other".
The presenting complaints are SNOMED CT concepts an emergency department records as the chief
complaint (Encounter.reasonCode, as the Emergency Care Data Set does); the statuses are FHIR
R4's own value sets; the relationships are HL7 v3 RoleCode, as UK Core's RelatedPerson uses.
"""

from typing import Final, Literal

from schemas.events import CareSetting, Intent, PresentingCategory

NHS_NUMBER_SYSTEM: Final = "https://fhir.nhs.uk/Id/nhs-number"
SNOMED: Final = "http://snomed.info/sct"
ACT_CODE: Final = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ROLE_CODE: Final = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
PARTICIPATION_TYPE: Final = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
CANCELLATION_REASON: Final = "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason"

# Encounter.class (v3 ActCode) to the attendance's setting. UK Core distinguishes an
# emergency encounter by class EMER only: it has no class for an urgent treatment centre or
# NHS 111, so those settings still arrive as native events (POST /v1/events).
SETTINGS: Final[dict[tuple[str, str], CareSetting]] = {
    (ACT_CODE, "EMER"): CareSetting.EMERGENCY_DEPARTMENT,
}

# An attendance the patient made: a planned, cancelled or mistaken encounter is none.
ATTENDED_ENCOUNTER_STATUSES: Final = frozenset({"arrived", "triaged", "in-progress", "finished"})

# Chief complaint (SNOMED CT) to the presenting category and, where the concept says so, the
# intent: a deliberate overdose is self-harm whoever it is (broker.rules.ed_attendance).
PRESENTING_COMPLAINTS: Final[dict[str, tuple[PresentingCategory, Intent | None]]] = {
    "417163006": (PresentingCategory.INJURY, None),  # traumatic or non-traumatic injury
    "82271004": (PresentingCategory.INJURY, None),  # injury of head
    "125605004": (PresentingCategory.INJURY, None),  # fracture of bone
    "125667009": (PresentingCategory.INJURY, None),  # contusion (bruising)
    "48333001": (PresentingCategory.INJURY, None),  # burn injury
    "75478009": (PresentingCategory.INGESTION_OR_POISONING, None),  # poisoning
    "72431002": (PresentingCategory.INGESTION_OR_POISONING, Intent.ACCIDENTAL),  # accidental
    "55680006": (PresentingCategory.INGESTION_OR_POISONING, None),  # drug overdose
    "59274003": (PresentingCategory.INGESTION_OR_POISONING, Intent.DELIBERATE),  # intentional
    "248062006": (PresentingCategory.SELF_HARM, Intent.DELIBERATE),  # self-injurious behaviour
    "276853009": (PresentingCategory.SELF_HARM, Intent.DELIBERATE),  # self-inflicted injury
    "74732009": (PresentingCategory.MENTAL_HEALTH, None),  # mental disorder
    "6471006": (PresentingCategory.MENTAL_HEALTH, None),  # suicidal thoughts
    "271825005": (PresentingCategory.OTHER, None),  # respiratory distress
    "386661006": (PresentingCategory.OTHER, None),  # fever
}

# Who brought the patient (a contained RelatedPerson's relationship, v3 RoleCode), in the
# words the ED-attendance event carries. Only the relationship travels, never a name.
ACCOMPANYING_RELATIONSHIPS: Final[dict[str, str]] = {
    "MTH": "mother",
    "FTH": "father",
    "PRN": "parent",
    "STPPRN": "step-parent",
    "FTHFOST": "foster father",
    "MTHFOST": "foster mother",
    "GRPRN": "grandparent",
    "SIB": "sibling",
    "GUARD": "guardian",
    "FAMMEMB": "family member",
    "FRND": "friend",
}

AppointmentOutcomeWord = Literal["attended", "was_not_brought", "cancelled_by_parent"]

# Appointment.status to the outcome. "cancelled" is an outcome only when the patient's side
# cancelled (CANCELLED_BY_PATIENT); every other status is not an outcome yet, and refused.
APPOINTMENT_STATUSES: Final[dict[str, AppointmentOutcomeWord]] = {
    "fulfilled": "attended",
    "noshow": "was_not_brought",
}
CANCELLED: Final = "cancelled"
# Appointment.cancelationReason codes that mean the patient (for a child: the parent or carer)
# cancelled; a provider's cancellation is not about the family, and refused.
CANCELLED_BY_PATIENT: Final = frozenset({"pat", "pat-crs", "pat-cpp", "pat-fb", "pat-lt"})
