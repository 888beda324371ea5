"""Plain-data builders shared by the unit tests: families for the rules, payloads for events.

Every name and number is invented; NHS numbers come from the 999 test range.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from broker.rules.family import (
    Family,
    HouseholdHistory,
    HouseholdRole,
    Member,
    OrgKind,
    PastEvent,
    PastNotice,
    PlanView,
    Tie,
)
from schemas.events import Event, EventAdapter
from schemas.notices import NoticeType, Severity

AREA = "E09000099"
OTHER_AREA = "E06000001"
FRONT_DOOR = "la-front-door"
OTHER_FRONT_DOOR = "other-front-door"
ON = date(2027, 5, 10)  # a Monday in term time
RECEIVED = datetime(2027, 5, 10, 10, 0, tzinfo=UTC)

MOTHER_NHS, FATHER_NHS, CHILD_NHS = "9990000018", "9990000085", "9990000158"

ORG_KINDS: dict[str, OrgKind] = {
    "gp-riverside": OrgKind.GP_PRACTICE,
    "gp-hillview": OrgKind.GP_PRACTICE,
    "gp-northgate": OrgKind.GP_PRACTICE,
    "school-oakfield": OrgKind.SCHOOL,
    "school-brookside": OrgKind.SCHOOL,
    "hv-demo": OrgKind.HEALTH_VISITING,
    "mh-demo": OrgKind.MENTAL_HEALTH,
    "iapt-demo": OrgKind.TALKING_THERAPY,
    "housing-demo": OrgKind.HOUSING,
    "early-help-demo": OrgKind.EARLY_HELP,
    "acute-demo": OrgKind.ACUTE_TRUST,
    "police-demo": OrgKind.POLICE,
    "maternity-demo": OrgKind.MATERNITY,
    FRONT_DOOR: OrgKind.FRONT_DOOR,
    OTHER_FRONT_DOOR: OrgKind.FRONT_DOOR,
}
SEVERITY_RANK = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2}


def born(years: int = 0, months: int = 0, on: date = ON) -> date:
    """A birthday that makes someone exactly ``years`` and ``months`` old on ``on``."""
    total = on.year * 12 + on.month - 1 - years * 12 - months
    return date(total // 12, total % 12 + 1, min(on.day, 28))


def parent(
    person_id: str,
    household: str = "h1",
    *,
    gp: str | None = None,
    involved: tuple[str, ...] = (),
    learning_disability: bool = False,
) -> Member:
    return Member(
        person_id, HouseholdRole.PARENT_OR_CARER, household, born(35), gp=gp, involved=involved,
        learning_disability=learning_disability,
    )  # fmt: skip


def child(
    person_id: str,
    household: str = "h1",
    *,
    years: int = 8,
    months: int = 0,
    school: str | None = None,
    health_visiting: str | None = None,
    gp: str | None = None,
    involved: tuple[str, ...] = (),
    has_send: bool = False,
    has_ehcp: bool = False,
) -> Member:
    return Member(
        person_id,
        HouseholdRole.CHILD,
        household,
        born(years, months),
        gp=gp,
        school=school,
        health_visiting=health_visiting,
        involved=involved,
        has_send=has_send,
        has_ehcp=has_ehcp,
    )


def unborn(
    person_id: str = "baby",
    household: str = "h1",
    *,
    due: date = ON + timedelta(days=150),
    health_visiting: str | None = "hv-demo",
) -> Member:
    """An unborn child of the household, expected on ``due``: no date of birth, no GP yet."""
    return Member(person_id, HouseholdRole.CHILD, household, health_visiting=health_visiting,
                  unborn=True, expected_on=due)  # fmt: skip


def family(
    *members: Member,
    subject: str | None = "mum",
    area: str | None = AREA,
    ties: tuple[Tie, ...] = (),
    present: tuple[str, ...] = (),
) -> Family:
    """``present``: the children a crisis names as present, as the directory matched them
    (it lists them after the subject)."""
    return Family(
        subjects=(subject, *present) if subject else (),
        members=members,
        area=area,
        front_doors={AREA: FRONT_DOOR, OTHER_AREA: OTHER_FRONT_DOOR},
        org_kinds=ORG_KINDS,
        ties=ties,
    )


def incident_family(
    *members: Member, children: tuple[str, ...], victim: str | None = "mum",
    perpetrator: str | None = "dad",
) -> Family:  # fmt: skip
    """The family of a domestic abuse incident as the directory matches it: the children the
    police named, then the victim and the alleged perpetrator (``people()``'s order)."""
    named = (*children, *(p for p in (victim, perpetrator) if p))
    return family(*members, subject=named[0], present=named[1:])


def incident_payload(
    children: tuple[tuple[bool, str | None], ...], risk: str = "standard", **overrides: Any
) -> dict[str, Any]:
    """An incident naming one child per ``(present, where)``, with made-up pupil numbers."""
    named = [{"child": {"local_id": f"child-{i}"}, "present": present, "where": where}
             for i, (present, where) in enumerate(children)]  # fmt: skip
    return domestic_abuse_payload(children=named, risk_level=risk, **overrides)


def parent_of(adult: str, child_id: str, *, responsible: bool | None = None) -> Tie:
    """The directory's word that ``adult`` is a parent or carer of ``child_id``, wherever
    each lives."""
    return Tie(adult, "parent_of", child_id, responsible)


def sibling_of(one: str, other: str) -> Tie:
    return Tie(one, "sibling_of", other)


def in_area(member: Member, area: str | None) -> Member:
    """The same household membership, with the household living in ``area``."""
    return replace(member, area=area)


def with_context(
    fam: Family,
    *,
    history: HouseholdHistory | None = None,
    plans: tuple[PlanView, ...] | None = None,
    org_lines: dict[str, str] | None = None,
) -> Family:
    """The same family with what the broker already knows; what is not given is kept."""
    return replace(
        fam,
        history=fam.history if history is None else history,
        plans=fam.plans if plans is None else plans,
        org_lines=fam.org_lines if org_lines is None else org_lines,
    )


def past_event(
    days: int,
    *signals: str,
    event_type: str = "parent_mental_health_crisis",
    before: datetime = RECEIVED,
) -> PastEvent:
    """An earlier household event, ``days`` before ``before``, carrying ``signals``."""
    return PastEvent(before - timedelta(days=days), event_type, frozenset(signals))


def past_notices(
    event_id: str,
    days: int,
    *severities: Severity,
    notice_type: NoticeType = NoticeType.GP_INFORMATION,
    before: datetime = RECEIVED,
) -> tuple[PastNotice, ...]:
    """The notices an earlier event produced, ``days`` before ``before``, one per severity."""
    at = before - timedelta(days=days)
    return tuple(PastNotice(at, event_id, severity, notice_type) for severity in severities)


def plan_view(
    person_id: str = "kid",
    *,
    kind: str = "child_in_need",
    started_on: date = ON - timedelta(days=30),
    ended_on: date | None = None,
    step_down_until: date | None = None,
    lead_org: str | None = None,
    owner_orgs: tuple[str, ...] = (),
    plan_id: str = "plan-1",
) -> PlanView:
    """A plan as routing sees it; by default open, started a month before ``ON``."""
    return PlanView(
        plan_id,
        person_id,
        kind,
        started_on,
        ended_on=ended_on,
        step_down_until=step_down_until,
        lead_org=lead_org,
        owner_orgs=owner_orgs,
    )


def max_severity(decisions: list[Any]) -> int:
    return max((SEVERITY_RANK[d.severity] for d in decisions), default=-1)


# --------------------------------------------------------------------------- event payloads


def _envelope(event_type: str, source_org: str) -> dict[str, Any]:
    return {
        "event_type": event_type,
        "event_id": str(uuid.uuid4()),
        "source_org": source_org,
        "occurred_at": "2027-05-07T21:30:00+01:00",
    }


def crisis_payload(**overrides: Any) -> dict[str, Any]:
    payload = _envelope("parent_mental_health_crisis", "mh-demo")
    payload["subject"] = {"nhs_number": MOTHER_NHS, "given_name": "Jess", "family_name": "Carter"}
    return payload | overrides


def professional(name: str = "Sam Lead") -> dict[str, Any]:
    return {"name": name, "role": "Social worker", "org_id": "csc-demo"}


def step_down_plan(**overrides: Any) -> dict[str, Any]:
    plan = {
        "from_level": "child_protection",
        "to_level": "child_in_need",
        "lead_professional": professional(),
        "action_owners": [professional("Alex Owner")],
        "if_concerns_return": "Call the lead professional the same day.",
        "review_by": "2027-08-01",
    }
    return plan | overrides


def withdrawal_payload(**overrides: Any) -> dict[str, Any]:
    payload = _envelope("service_withdrawal", "mh-demo")
    payload |= {
        "subject": {"nhs_number": MOTHER_NHS},
        "service": "Community mental health",
        "reason": "non_engagement",
        "withdrawn_on": "2027-05-07",
    }
    return payload | overrides


def move_payload(**overrides: Any) -> dict[str, Any]:
    payload = _envelope("family_moving_area", "csc-demo")
    payload |= {
        "members": [{"nhs_number": MOTHER_NHS}, {"nhs_number": CHILD_NHS}],
        "from_authority": AREA,
        "to_authority": OTHER_AREA,
        "moved_on": "2027-05-07",
    }
    return payload | overrides


def ed_payload(**overrides: Any) -> dict[str, Any]:
    payload = _envelope("ed_attendance", "acute-demo")
    payload |= {
        "subject": {"nhs_number": CHILD_NHS},
        "arrived_at": "2027-05-09T18:00:00+01:00",
        "presenting_category": "injury",
    }
    return payload | overrides


def appointment_payload(**overrides: Any) -> dict[str, Any]:
    payload = _envelope("appointment_outcome", "community-health")
    payload |= {
        "subject": {"nhs_number": CHILD_NHS},
        "service": "Speech and language",
        "booked_for": "2027-05-06T10:00:00+01:00",
        "outcome": "was_not_brought",
    }
    return payload | overrides


def domestic_abuse_payload(**overrides: Any) -> dict[str, Any]:
    """A standard-risk incident: the child present in the room, the mother the victim, the
    father the alleged perpetrator. ``people()`` lists the child first, then mother, father."""
    payload = _envelope("police_domestic_abuse_incident", "police-demo")
    payload |= {
        "incident_at": "2027-05-09T22:10:00+01:00",
        "police_reference": "DA/2027/000123",
        "victim": {"nhs_number": MOTHER_NHS},
        "alleged_perpetrator": {"nhs_number": FATHER_NHS},
        "children": [{"child": {"nhs_number": CHILD_NHS}, "present": True, "where": "same_room"}],
        "risk_level": "standard",
    }
    return payload | overrides


def attendance_payload(**overrides: Any) -> dict[str, Any]:
    """A school's report of persistent absence: 82% of sessions this half term."""
    payload = _envelope("attendance_concern", "school-oakfield")
    payload |= {
        "subject": {"nhs_number": CHILD_NHS},
        "setting": "school",
        "concern": "persistent_absence",
        "attendance_percent": 82,
        "period_from": "2027-04-12",
        "period_to": "2027-05-07",
    }
    return payload | overrides


def missing_education_payload(**overrides: Any) -> dict[str, Any]:
    """The education service's child missing education, whereabouts known."""
    payload = _envelope("child_missing_education", "edu-demo")
    payload |= {
        "subject": {"nhs_number": CHILD_NHS},
        "missing_since": "2027-04-12",
        "missing_reason": "not_returned",
        "whereabouts_known": True,
        "last_school": "school-oakfield",
    }
    return payload | overrides


def home_education_payload(**overrides: Any) -> dict[str, Any]:
    """A school's report that the parents declared elective home education."""
    payload = _envelope("elective_home_education", "school-oakfield")
    payload |= {
        "subject": {"nhs_number": CHILD_NHS},
        "declared_on": "2027-05-07",
        "previous_school": "school-oakfield",
    }
    return payload | overrides


def contact_payload(**overrides: Any) -> dict[str, Any]:
    """A midwife's lateral check with the front door about the mother (Child B)."""
    payload = _envelope("agency_contact", "acute-demo")
    payload |= {
        "subject": {"nhs_number": MOTHER_NHS},
        "contact_kind": "lateral_check",
        "with_org": "la-front-door",
        "contacted_at": "2027-05-07T14:00:00+01:00",
        "practitioner_role": "midwife",
        "outcome": "case closed to children's social care in 2026",
    }
    return payload | overrides


def pregnancy_payload(*concerns: str, father: bool = True, **overrides: Any) -> dict[str, Any]:
    """A booking naming the mother (and the father unless ``father=False``), due in October,
    with maternity's ``concerns``. ``people()`` lists the mother first, then the father."""
    payload = _envelope("pregnancy_notification", "maternity-demo")
    payload |= {
        "stage": "booking",
        "mother": {"nhs_number": MOTHER_NHS},
        "expected_on": "2027-10-07",
        "concerns": list(concerns),
    }
    if father:
        payload["father"] = {"nhs_number": FATHER_NHS}
    return payload | overrides


PAYLOADS = {
    "parent_mental_health_crisis": crisis_payload,
    "service_withdrawal": withdrawal_payload,
    "family_moving_area": move_payload,
    "ed_attendance": ed_payload,
    "appointment_outcome": appointment_payload,
    "police_domestic_abuse_incident": domestic_abuse_payload,
    "attendance_concern": attendance_payload,
    "child_missing_education": missing_education_payload,
    "elective_home_education": home_education_payload,
    "agency_contact": contact_payload,
    "pregnancy_notification": pregnancy_payload,
}


def event(payload: dict[str, Any]) -> Event:
    return EventAdapter.validate_python(payload)


def days_before(moment: datetime, *days: int) -> tuple[datetime, ...]:
    return tuple(moment - timedelta(days=d) for d in days)


def with_front_doors(fam: Family, **doors: str) -> Family:
    """The same family with only these front doors in the directory (area code -> front
    door): none given, a directory with no front door at all."""
    return replace(fam, front_doors=dict(doors))
