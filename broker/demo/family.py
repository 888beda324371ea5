"""A partnership and a family like the Child B case: two parents at different GP practices,
an older child at school, twin babies. Mother has long-standing mental ill health and stops
engaging; Child B is not brought to appointments; a twin is injured; Mother is in crisis; the
family moves. Every name and number is invented (NHS numbers from the 999 test range).
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from broker.rules.deadlines import LONDON, is_working_time
from producers import crypto
from producers.recipient_keys import HYBRID_FILE_TAG, new_hybrid
from schemas.directory import (
    ContactSpec,
    DirectorySpec,
    HouseholdMemberSpec,
    HouseholdSpec,
    InvolvementSpec,
    OrganisationSpec,
    PersonSpec,
    RegistrationSpec,
    SigningKeySpec,
    Term,
)
from schemas.events import (
    AppointmentOutcome,
    EdAttendance,
    Event,
    FamilyMovingArea,
    ParentMentalHealthCrisis,
    PersonRef,
    PlanKind,
    PlanRecord,
    PresentingCategory,
    ServiceWithdrawal,
    WithdrawalReason,
)

AREA = "E09000099"
MOTHER, FATHER, CHILD_B, TWIN_1, TWIN_2 = (
    "9990000018", "9990000085", "9990000158", "9990000220", "9990000298",
)  # fmt: skip

ORGANISATIONS = (
    ("la-front-door", "Demo Borough Children's Front Door (MASH)", "front_door"),
    ("school-oakfield", "Oakfield Primary School", "school"),
    ("school-brookside", "Brookside Academy", "school"),
    ("gp-riverside", "Riverside Medical Centre", "gp_practice"),
    ("gp-hillview", "Hillview Surgery", "gp_practice"),
    ("gp-northgate", "Northgate Family Practice", "gp_practice"),
    ("hv-demo", "Demo Health Visiting Team", "health_visiting"),
    ("mh-demo", "Demo Community Mental Health Service", "mental_health"),
    ("acute-demo", "Demo General Hospital NHS Trust", "acute_trust"),
    ("icb-demo", "Demo Integrated Care Board (safeguarding team)", "icb"),
)
CONTACT_ROLES = {
    "front_door": ("duty_manager", "safeguarding_lead", "emergency_duty_team"),
    "school": ("key_adult", "deputy_key_adult"),
    "icb": ("designated_safeguarding",),
}
TERMS_2026_27 = (
    Term(starts_on=date(2026, 9, 2), ends_on=date(2026, 10, 23)),
    Term(starts_on=date(2026, 11, 2), ends_on=date(2026, 12, 18)),
    Term(starts_on=date(2027, 1, 5), ends_on=date(2027, 2, 12)),
    Term(starts_on=date(2027, 2, 22), ends_on=date(2027, 3, 26)),
    Term(starts_on=date(2027, 4, 12), ends_on=date(2027, 5, 28)),
    Term(starts_on=date(2027, 6, 7), ends_on=date(2027, 7, 21)),
)


def contacts() -> list[tuple[str, str, str]]:
    """(contact id, organisation id, role) for every recipient in the demo."""
    return [
        (f"{org}:{role}", org, role)
        for org, _, kind in ORGANISATIONS
        for role in CONTACT_ROLES.get(kind, ("safeguarding_lead",))
    ]


# The front door chose the post-quantum hybrid suite; everyone else has X25519 keys.
POST_QUANTUM_RECIPIENTS = frozenset({"la-front-door:duty_manager"})


@dataclass(frozen=True)
class RecipientKey:
    private: crypto.RecipientPrivateKey
    public_text: str
    secret_file: bytes  # what the recipient keeps on disk


def recipient_keys() -> dict[str, RecipientKey]:
    """A fresh key pair for every demo recipient; the broker only ever sees the public half."""
    keys = {}
    for contact_id, _org, _role in contacts():
        if contact_id in POST_QUANTUM_RECIPIENTS:
            private, public, secret = new_hybrid()
            keys[contact_id] = RecipientKey(private, public, HYBRID_FILE_TAG + secret)
        else:
            classic = X25519PrivateKey.generate()
            pem = classic.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
            keys[contact_id] = RecipientKey(
                classic, crypto.encode_public(classic.public_key()), pem
            )
    return keys


def producer_keys() -> dict[str, Ed25519PrivateKey]:
    """Each organisation's own Ed25519 key for signing the events it publishes."""
    return {org: Ed25519PrivateKey.generate() for org, _, _ in ORGANISATIONS}


def _signing_specs(key: Ed25519PrivateKey | None) -> tuple[SigningKeySpec, ...]:
    if key is None:
        return ()
    return (SigningKeySpec(public_key=crypto.encode_public(key.public_key())),)


def directory(
    public_keys: dict[str, str],
    today: date,
    signing_keys: dict[str, Ed25519PrivateKey] | None = None,
    front_door_hours: tuple[time, time] | None = None,
) -> DirectorySpec:
    """The partnership: organisations (with the public halves of their signing keys, when
    given, and the front door's working hours), recipients with their public keys, and the
    Carter family."""
    signing = signing_keys or {}
    opens, closes = front_door_hours or (None, None)

    def born(years: int, months: int = 0) -> date:
        return today - timedelta(days=int(years * 365.25 + months * 30.5))

    return DirectorySpec(
        organisations=tuple(
            OrganisationSpec(
                id=org,
                name=name,
                kind=kind,
                area=AREA,
                phone=f"01632 960{i:03d}",
                session_start=time(8, 45) if kind == "school" else None,
                terms=TERMS_2026_27 if kind == "school" else (),
                opens_at=opens if kind == "front_door" else None,
                closes_at=closes if kind == "front_door" else None,
                signing_keys=_signing_specs(signing.get(org)),
            )
            for i, (org, name, kind) in enumerate(ORGANISATIONS)
        ),
        contacts=tuple(
            ContactSpec(id=cid, org_id=org, role=role, hpke_public_key=public_keys[cid])
            for cid, org, role in contacts()
        ),
        people=(
            PersonSpec(
                id="p-mother",
                nhs_number=MOTHER,
                given_name="Jess",
                family_name="Carter",
                date_of_birth=born(31),
            ),
            PersonSpec(
                id="p-father",
                nhs_number=FATHER,
                given_name="Dan",
                family_name="Carter",
                date_of_birth=born(34),
            ),
            PersonSpec(
                id="p-child-b",
                nhs_number=CHILD_B,
                given_name="Leo",
                family_name="Carter",
                date_of_birth=born(5, 3),
            ),
            PersonSpec(
                id="p-twin-1",
                nhs_number=TWIN_1,
                given_name="Mia",
                family_name="Carter",
                date_of_birth=born(0, 5),
            ),
            PersonSpec(
                id="p-twin-2",
                nhs_number=TWIN_2,
                given_name="Noah",
                family_name="Carter",
                date_of_birth=born(0, 5),
            ),
        ),
        households=(
            HouseholdSpec(
                id="h-carter",
                area=AREA,
                members=(
                    HouseholdMemberSpec(person_id="p-mother", role="parent_or_carer"),
                    HouseholdMemberSpec(person_id="p-father", role="parent_or_carer"),
                    HouseholdMemberSpec(person_id="p-child-b", role="child"),
                    HouseholdMemberSpec(person_id="p-twin-1", role="child"),
                    HouseholdMemberSpec(person_id="p-twin-2", role="child"),
                ),
            ),
        ),
        registrations=(
            RegistrationSpec(person_id="p-mother", kind="gp", org_id="gp-riverside"),
            RegistrationSpec(person_id="p-father", kind="gp", org_id="gp-hillview"),
            *(
                RegistrationSpec(person_id=child, kind="gp", org_id="gp-northgate")
                for child in ("p-child-b", "p-twin-1", "p-twin-2")
            ),
            RegistrationSpec(person_id="p-child-b", kind="school", org_id="school-oakfield"),
            RegistrationSpec(person_id="p-twin-1", kind="health_team", org_id="hv-demo"),
            RegistrationSpec(person_id="p-twin-2", kind="health_team", org_id="hv-demo"),
        ),
        involvements=(
            InvolvementSpec(person_id="p-mother", org_id="mh-demo", opened_on=born(2)),
            InvolvementSpec(person_id="p-twin-2", org_id="hv-demo", opened_on=born(0, 5)),
            InvolvementSpec(person_id="p-child-b", org_id="acute-demo", opened_on=born(1)),
        ),
    )


def person(nhs_number: str) -> PersonRef:
    return PersonRef(nhs_number=nhs_number)


def timeline(now: datetime) -> list[tuple[str, Event]]:
    """What the agencies publish, oldest first, each with a line saying what happened."""

    def ago(days: int) -> datetime:
        return now - timedelta(days=days)

    def envelope(source: str, days: int) -> dict[str, Any]:
        return {"event_id": uuid.uuid4(), "source_org": source, "occurred_at": ago(days),
                "correlation_id": uuid.uuid4()}  # fmt: skip

    appointments = [
        (f"Child B's paediatric appointment {n}: {outcome.replace('_', ' ')}",
         AppointmentOutcome(event_type="appointment_outcome", **envelope("acute-demo", days),
                            subject=person(CHILD_B), service="Community paediatrics",
                            booked_for=ago(days), outcome=outcome))
        for n, (days, outcome) in enumerate(
            [(120, "was_not_brought"), (90, "was_not_brought"), (60, "attended"),
             (30, "was_not_brought")], start=1)
    ]  # fmt: skip
    return [
        ("Mental health service discharges Mother for non-engagement",
         ServiceWithdrawal(event_type="service_withdrawal", **envelope("mh-demo", 150),
                           subject=person(MOTHER), service="Talking therapies (IAPT)",
                           reason=WithdrawalReason.NON_ENGAGEMENT, withdrawn_on=ago(150).date())),
        *appointments,
        ("A twin attends the emergency department with an injury, aged five months",
         EdAttendance(event_type="ed_attendance", **envelope("acute-demo", 2),
                      subject=person(TWIN_2), arrived_at=ago(2),
                      presenting_category=PresentingCategory.INJURY,
                      accompanied_by="Father", clinical_summary="Bruising to left forearm.")),
        ("Mother in mental health crisis, suicidal ideation disclosed, the twins present",
         ParentMentalHealthCrisis(event_type="parent_mental_health_crisis",
                                  **envelope("mh-demo", 1), subject=person(MOTHER),
                                  admitted=True, suicidal_ideation=True,
                                  children_present=(person(TWIN_1), person(TWIN_2)),
                                  clinical_summary="Low mood, not sleeping, crisis team visit.")),
        ("The family leaves the area; destination unknown, Child B to start at Brookside",
         FamilyMovingArea(event_type="family_moving_area", **envelope("la-front-door", 0),
                          members=tuple(person(n) for n in (MOTHER, FATHER, CHILD_B, TWIN_1,
                                                            TWIN_2)),
                          from_authority=AREA, moved_on=ago(0).date(),
                          plans=(PlanRecord(kind=PlanKind.EARLY_HELP, child=person(CHILD_B),
                                            started_on=ago(400).date(),
                                            ended_on=ago(200).date()),),
                          new_school="school-brookside")),
    ]  # fmt: skip


def closed_front_door_hours(now: datetime) -> tuple[time, time] | None:
    """Working hours for the demo's front door that keep it closed now, opening in an hour,
    so that the demo shows the out-of-hours alert whenever it runs; None when it is out of
    office hours already (evenings, nights, weekends, bank holidays)."""
    if not is_working_time(now):
        return None
    opens = (now.astimezone(LONDON) + timedelta(hours=1)).time().replace(second=0, microsecond=0)
    return opens, time(23, 59)


def now_utc() -> datetime:
    return datetime.now(UTC)
