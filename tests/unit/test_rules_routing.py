"""The table of rules: every event type dispatched, unknown people sent to the front door."""

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, time
from typing import Any

import pytest

from broker.rules.family import NOT_A_CONCERN, Addressee, ContactRole, Family
from broker.rules.history import PersonHistory
from broker.rules.routing import decide, recorded_signals
from broker.rules.unmatched import route_unmatched
from schemas.events import EventType
from schemas.notices import NoticeType, Severity
from unit.builders import (
    AREA,
    FRONT_DOOR,
    ON,
    OTHER_AREA,
    OTHER_FRONT_DOOR,
    PAYLOADS,
    child,
    crisis_payload,
    event,
    family,
    parent,
    plan_view,
    step_down_plan,
    with_context,
)

AT = datetime.combine(ON, time(10), tzinfo=UTC)


def households(subject: str) -> Family:
    return family(
        parent("mum", gp="gp-riverside", involved=("mh-demo", "housing-demo")),
        child("kid", years=3, school=None, health_visiting="hv-demo", gp="gp-northgate"),
        subject=subject,
    )


CASES: dict[EventType, tuple[dict[str, Any], str, str]] = {
    EventType.PARENT_MENTAL_HEALTH_CRISIS: (
        PAYLOADS["parent_mental_health_crisis"](),
        "mum",
        "crisis.",
    ),
    EventType.SERVICE_WITHDRAWAL: (PAYLOADS["service_withdrawal"](), "mum", "withdrawal."),
    EventType.FAMILY_MOVING_AREA: (PAYLOADS["family_moving_area"](), "mum", "move."),
    EventType.ED_ATTENDANCE: (
        PAYLOADS["ed_attendance"](presenting_category="ingestion_or_poisoning"),
        "kid",
        "ed.",
    ),
    EventType.APPOINTMENT_OUTCOME: (PAYLOADS["appointment_outcome"](), "kid", "was_not_brought"),
    EventType.POLICE_DOMESTIC_ABUSE_INCIDENT: (
        PAYLOADS["police_domestic_abuse_incident"](),
        "kid",
        "domestic_abuse.",
    ),
    EventType.ATTENDANCE_CONCERN: (PAYLOADS["attendance_concern"](), "kid", "attendance."),
    EventType.CHILD_MISSING_EDUCATION: (
        PAYLOADS["child_missing_education"](),
        "kid",
        "missing_education.",
    ),
    EventType.ELECTIVE_HOME_EDUCATION: (
        PAYLOADS["elective_home_education"](),
        "kid",
        "home_education.",
    ),
    EventType.AGENCY_CONTACT: (PAYLOADS["agency_contact"](), "mum", "contact."),
    EventType.PREGNANCY_NOTIFICATION: (PAYLOADS["pregnancy_notification"](), "mum", "pregnancy."),
}


def wnb_history(booked_for: Any) -> PersonHistory:
    return PersonHistory(appointments=tuple((booked_for, "was_not_brought") for _ in range(4)))


# A contact tells only an open plan's lead: the family needs one for there to be a notice.
CONTEXT: dict[EventType, Callable[[Family], Family]] = {
    EventType.AGENCY_CONTACT: lambda f: with_context(f, plans=(plan_view("kid", lead_org="eh"),)),
}
HISTORY: dict[EventType, Callable[[Any], PersonHistory]] = {
    EventType.APPOINTMENT_OUTCOME: lambda e: wnb_history(e.booked_for),
}


class TestDecide:
    def test_every_event_type_has_a_case(self) -> None:
        """The table below covers every event type the schema defines."""
        assert set(CASES) == set(EventType)

    @pytest.mark.parametrize("event_type", list(EventType))
    def test_dispatches_every_event_type(self, event_type: EventType) -> None:
        """Each event type reaches its own rule, which names itself in rule_id."""
        payload, subject, prefix = CASES[event_type]
        parsed = event(payload)
        history = HISTORY.get(event_type, lambda _e: PersonHistory())(parsed)
        fam = CONTEXT.get(event_type, lambda f: f)(households(subject))
        decisions = decide(parsed, fam, history, AT)
        assert decisions
        assert all(d.rule_id.startswith(prefix) for d in decisions)

    def test_unknown_subject_goes_to_unmatched(self) -> None:
        """An event whose subject the directory does not know goes to the matching queue."""
        parsed = event(crisis_payload(children_present=[{"local_id": "a"}, {"local_id": "b"}]))
        unknown = family(subject=None)
        [decision] = decide(parsed, unknown, PersonHistory(), AT)
        assert decision.addressee == Addressee(FRONT_DOOR, ContactRole.DUTY_MANAGER)
        assert decision.rule_id == "unmatched_person.front_door"
        assert decision.about == ("unmatched:0", "unmatched:1", "unmatched:2")
        assert decision.facts["unmatched_people"] == 3

    def test_people_to_match_join_the_events_referral(self) -> None:
        """A known mother's high-risk crisis naming an unknown child: one referral to the front
        door, HIGH, naming the child to match as well."""
        known = replace(households("mum"), unmatched=("unmatched:1",))
        parsed = event(crisis_payload(suicidal_ideation=True))
        referrals = [
            d for d in decide(parsed, known, PersonHistory(), AT)
            if d.notice_type is NoticeType.FRONT_DOOR_REFERRAL
        ]  # fmt: skip
        [one] = referrals
        assert (one.severity, one.rule_id) == (
            Severity.HIGH,
            "crisis.front_door+unmatched_person.front_door",
        )
        assert "unmatched:1" in one.about


class TestUnmatched:
    def test_goes_to_the_front_door_of_the_source_area(self) -> None:
        """The front door of the event's area receives the unmatched people."""
        [decision] = route_unmatched(family(subject=None, area=OTHER_AREA), 1)
        assert decision.addressee.org_id == OTHER_FRONT_DOOR
        assert (decision.notice_type, decision.severity) == (
            NoticeType.FRONT_DOOR_REFERRAL,
            Severity.MEDIUM,
        )

    def test_names_a_placeholder_per_person(self) -> None:
        """Each person the event named is one unmatched id."""
        [decision] = route_unmatched(family(subject=None, area=AREA), 2)
        assert decision.about == ("unmatched:0", "unmatched:1")


class TestRecordedSignals:
    @pytest.mark.parametrize(
        "ending",
        [{"reason": "completed"}, {"reason": "stepped_down", "step_down": step_down_plan()}],
        ids=["completed", "stepped_down"],
    )
    def test_a_planned_ending_is_marked_not_a_concern(self, ending: dict[str, Any]) -> None:
        """A completed discharge or a step-down is recorded as no concern."""
        parsed = event(PAYLOADS["service_withdrawal"](**ending))
        assert recorded_signals(parsed) == {NOT_A_CONCERN}

    @pytest.mark.parametrize("reason", ["non_engagement", "declined", "moved"])
    def test_other_withdrawals_are_concerns(self, reason: str) -> None:
        """Disengaging, declining or moving away is not a planned ending."""
        parsed = event(PAYLOADS["service_withdrawal"](reason=reason))
        assert NOT_A_CONCERN not in recorded_signals(parsed)

    def test_a_crisis_keeps_its_risk_signals(self) -> None:
        """Other events are recorded with the household risk signals they carry."""
        parsed = event(crisis_payload(substance_misuse=True))
        assert recorded_signals(parsed) == {"mental_health", "substance_misuse"}
