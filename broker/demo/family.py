"""A partnership and a family like the Child B case: two parents at different GP practices,
an older child at school, twin babies. Mother has long-standing mental ill health and stops
engaging; Child B is not brought to appointments; a twin is injured; Mother is in crisis; the
family moves. Every name and number is invented (NHS numbers from the 999 test range).
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from broker.fixtures.partnership import (
    AREA,
    CHILD_B,
    CONTACT_ROLES,
    FATHER,
    MOTHER,
    ORGANISATIONS,
    TERMS_2026_27,
    TWIN_1,
    TWIN_2,
    contacts,
    directory,
)
from broker.rules.deadlines import LONDON, is_working_time
from producers import crypto
from producers.recipient_keys import HYBRID_FILE_TAG, new_hybrid
from schemas.events import (
    AppointmentOutcome,
    ChildAtIncident,
    EdAttendance,
    Event,
    FamilyMovingArea,
    ParentMentalHealthCrisis,
    PersonRef,
    PlanKind,
    PlanRecord,
    PoliceDomesticAbuseIncident,
    PresentingCategory,
    RiskLevel,
    ServiceWithdrawal,
    Whereabouts,
    WithdrawalReason,
)

# The partnership's directory lives with the scenario files' sample data; the demo and its
# tests read it from here as before.
__all__ = [
    "AREA",
    "CHILD_B",
    "CONTACT_ROLES",
    "FATHER",
    "HOUSEHOLD",
    "MOTHER",
    "ORGANISATIONS",
    "POST_QUANTUM_RECIPIENTS",
    "TERMS_2026_27",
    "TWIN_1",
    "TWIN_2",
    "RecipientKey",
    "closed_front_door_hours",
    "contacts",
    "directory",
    "now_utc",
    "person",
    "producer_keys",
    "recipient_keys",
    "timeline",
]  # fmt: skip

HOUSEHOLD = "h-carter"  # the Carters, in the partnership's directory
NEIGHBOUR_AREA = "W06000022"  # Newport: where they move (broker.demo.neighbour)

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
        ("Police attend a domestic abuse incident at home: Child B in the room, the twins "
         "asleep upstairs; medium risk",
         PoliceDomesticAbuseIncident(
             event_type="police_domestic_abuse_incident", **envelope("police-demo", 3),
             incident_at=ago(3), police_reference="DA/DEMO/000417", victim=person(MOTHER),
             alleged_perpetrator=person(FATHER), risk_level=RiskLevel.MEDIUM,
             children=(
                 ChildAtIncident(child=person(CHILD_B), present=True,
                                 where=Whereabouts.SAME_ROOM),
                 *(ChildAtIncident(child=person(twin), present=True,
                                   where=Whereabouts.ELSEWHERE_IN_HOME)
                   for twin in (TWIN_1, TWIN_2))))),
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
        ("The family moves to Newport, in Wales, whose partnership runs a broker of its own",
         FamilyMovingArea(event_type="family_moving_area", **envelope("la-front-door", 0),
                          members=tuple(person(n) for n in (MOTHER, FATHER, CHILD_B, TWIN_1,
                                                            TWIN_2)),
                          from_authority=AREA, to_authority=NEIGHBOUR_AREA,
                          moved_on=ago(0).date(),
                          plans=(PlanRecord(kind=PlanKind.EARLY_HELP, child=person(CHILD_B),
                                            started_on=ago(400).date(),
                                            ended_on=ago(200).date()),))),
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
