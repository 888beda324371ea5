"""One worked example of each event, as an agency would publish it about the sample
partnership's Carter family (``broker/fixtures/partnership.py``): shown in the gateway's
OpenAPI document, so that an agency's developer starts from something the broker accepts.

Every name and number is invented (NHS numbers from the 999 test range). The examples are
plain JSON data, validated against the contracts by the tests.
"""

from typing import Any

from schemas.events import EventType

MOTHER = {"nhs_number": "9990000018", "given_name": "Dawn", "family_name": "Carter"}
FATHER = {"nhs_number": "9990000085", "given_name": "Lee", "family_name": "Carter"}
CHILD_B = {"nhs_number": "9990000158", "given_name": "Bella", "family_name": "Carter"}
TWIN_1 = {"nhs_number": "9990000220", "given_name": "Alfie", "family_name": "Carter"}


def _event(number: int, source_org: str, event_type: EventType, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": f"5f0c4b1e-0000-4000-8000-{number:012d}",
        "source_org": source_org,
        "occurred_at": "2026-11-25T09:10:00Z",
        "event_type": event_type.value,
        **fields,
    }


# (summary, description, event): the summary names the case, the description what the
# broker does with it (who is told), in the words of the "who is told" table.
EVENT_EXAMPLES: dict[EventType, tuple[str, str, dict[str, Any]]] = {
    EventType.PARENT_MENTAL_HEALTH_CRISIS: (
        "A parent in mental health crisis, children at home",
        "The crisis team reports the mother's crisis: each child's school key adult (health "
        "visiting for a child under school age) and the GPs of both parents and each child "
        "are told; the front door too, because of a high-risk signal (suicidal ideation).",
        _event(
            1,
            "mh-demo",
            EventType.PARENT_MENTAL_HEALTH_CRISIS,
            subject=MOTHER,
            suicidal_ideation=True,
            children_present=[CHILD_B],
        ),
    ),
    EventType.SERVICE_WITHDRAWAL: (
        "A service closes the case after non-engagement",
        "Community mental health withdraws from the mother: every other agency involved with "
        "the household and the household's GPs are told; as she is a parent disengaging from "
        "mental health services, the children's schools and the front door too.",
        _event(
            2,
            "mh-demo",
            EventType.SERVICE_WITHDRAWAL,
            subject=MOTHER,
            service="Community mental health team",
            reason="non_engagement",
            withdrawn_on="2026-11-25",
        ),
    ),
    EventType.FAMILY_MOVING_AREA: (
        "A family moves to another local authority",
        "The front door reports the move: the receiving authority's front door gets a transfer "
        "notice with the family's history (a new school or GP named would be told too). The "
        "sample partnership holds no front door for E09000098 (nor is it in the table of "
        "authorities), so the originating front door gets the transfer with the task of "
        "sending the history there, chased until it records the history as sent.",
        _event(
            3,
            "la-front-door",
            EventType.FAMILY_MOVING_AREA,
            members=[MOTHER, FATHER, CHILD_B],
            from_authority="E09000099",
            to_authority="E09000098",
            moved_on="2026-12-01",
        ),
    ),
    EventType.ED_ATTENDANCE: (
        "A child at the emergency department with an injury",
        "The acute trust reports the attendance: on its own an injury to a school-age child "
        "tells nobody, but it counts toward the frequent-attender pattern (3 in a year tells "
        "the GPs and the health team); an injury to a baby not yet mobile tells the front door.",
        _event(
            4,
            "acute-demo",
            EventType.ED_ATTENDANCE,
            subject=CHILD_B,
            arrived_at="2026-11-25T08:40:00Z",
            presenting_category="injury",
            intent="unknown",
        ),
    ),
    EventType.APPOINTMENT_OUTCOME: (
        "A child not brought to a health visiting appointment",
        "Health visiting reports the child was not brought: it counts toward the child's "
        "was-not-brought rate, and under 75% of at least 4 appointments in six months tells "
        "the child's GP and health team (and the lead professional of an open plan).",
        _event(
            5,
            "hv-demo",
            EventType.APPOINTMENT_OUTCOME,
            subject=TWIN_1,
            service="12-month review",
            booked_for="2026-11-25T09:00:00Z",
            outcome="was_not_brought",
        ),
    ),
    EventType.POLICE_DOMESTIC_ABUSE_INCIDENT: (
        "Operation Encompass: a domestic abuse incident with children present",
        "Police report the incident: each child's school key adult before the next school day "
        "(health visiting for a baby), the victim's GP, and the front door on medium or high "
        "risk.",
        _event(
            6,
            "police-demo",
            EventType.POLICE_DOMESTIC_ABUSE_INCIDENT,
            incident_at="2026-11-25T07:30:00Z",
            place="family_home",
            police_reference="DP/2026/118204",
            victim=MOTHER,
            alleged_perpetrator=FATHER,
            children=[
                {"child": CHILD_B, "present": True, "where": "elsewhere_in_home"},
                {"child": TWIN_1, "present": False},
            ],
            risk_level="medium",
        ),
    ),
    EventType.ATTENDANCE_CONCERN: (
        "A pupil's persistent absence",
        "The school reports attendance under 90%: the local authority's education "
        "safeguarding officer (in the sample partnership, which registers none, the front "
        "door's safeguarding lead, with the reason), the child's GP and school nursing or "
        "health visiting are told; the front door too when the child has an open plan or the "
        "family a safeguarding history.",
        _event(
            7,
            "school-oakfield",
            EventType.ATTENDANCE_CONCERN,
            subject=CHILD_B,
            setting="school",
            concern="persistent_absence",
            attendance_percent=82,
            period_from="2026-09-02",
            period_to="2026-11-20",
        ),
    ),
    EventType.CHILD_MISSING_EDUCATION: (
        "A child missing education, whereabouts unknown",
        "The school reports a pupil who did not come back after an absence and cannot be "
        "found: high, to the education safeguarding officer and the child's GP (and health "
        "team, and the front door with an open plan or a safeguarding history).",
        _event(
            8,
            "school-oakfield",
            EventType.CHILD_MISSING_EDUCATION,
            subject=CHILD_B,
            missing_since="2026-11-16",
            missing_reason="not_returned",
            whereabouts_known=False,
            last_school="school-oakfield",
        ),
    ),
    EventType.ELECTIVE_HOME_EDUCATION: (
        "Parents declare elective home education",
        "The school reports that the parents will educate the child at home: the education "
        "safeguarding officer and the child's GP are told (high for a child with an "
        "education, health and care plan).",
        _event(
            9,
            "school-oakfield",
            EventType.ELECTIVE_HOME_EDUCATION,
            subject=CHILD_B,
            declared_on="2026-11-24",
            previous_school="school-oakfield",
        ),
    ),
    EventType.AGENCY_CONTACT: (
        "A health visitor's lateral check with the front door",
        "A contact or a check with another agency enters the family's chronology and later "
        "notices' digests; it tells only the lead professional of an open plan (the sample "
        "family has none, so nobody is told).",
        _event(
            10,
            "hv-demo",
            EventType.AGENCY_CONTACT,
            subject=MOTHER,
            contact_kind="lateral_check",
            with_org="la-front-door",
            contacted_at="2026-11-25T09:00:00Z",
            practitioner_role="health visitor",
            outcome="Known to children's services: a child in need plan closed in 2025.",
        ),
    ),
    EventType.PREGNANCY_NOTIFICATION: (
        "A pregnancy booked, a parent with mental health needs",
        "Maternity books the mother's pregnancy and records a mental health concern: both "
        "parents' GPs (the father's as third-party information) and the front door, asked to "
        "consider a pre-birth assessment, are told; so is the unborn child's health visiting "
        "team where the directory holds the unborn child. The sample directory does not, so "
        "the front door is told that the record is missing, in health visiting's place.",
        _event(
            11,
            "maternity-demo",
            EventType.PREGNANCY_NOTIFICATION,
            stage="booking",
            mother=MOTHER,
            father=FATHER,
            expected_on="2027-06-10",
            concerns=["mental_health"],
        ),
    ),
}


def openapi_examples() -> dict[str, dict[str, Any]]:
    """The examples as FastAPI's ``openapi_examples`` (named by event type)."""
    return {
        event_type.value: {"summary": summary, "description": description, "value": event}
        for event_type, (summary, description, event) in EVENT_EXAMPLES.items()
    }
