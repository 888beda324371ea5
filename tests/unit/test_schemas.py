"""Wire contracts: one valid event per type, each invalid field rejected, schemas current."""

from typing import Any

import pytest
from pydantic import ValidationError

from schemas import generate
from schemas.directory import PersonSpec, PlanSpec
from schemas.events import (
    EVENT_MODELS,
    AgencyContact,
    AppointmentOutcome,
    AttendanceConcern,
    ChildMissingEducation,
    EdAttendance,
    ElectiveHomeEducation,
    EventAdapter,
    EventType,
    FamilyMovingArea,
    Intent,
    ParentMentalHealthCrisis,
    PersonRef,
    PoliceDomesticAbuseIncident,
    PregnancyNotification,
    ServiceWithdrawal,
)
from schemas.notices import NoticeHeader
from unit.builders import (
    PAYLOADS,
    crisis_payload,
    ed_payload,
    move_payload,
    pregnancy_payload,
    step_down_plan,
    withdrawal_payload,
)

MODELS = {
    "parent_mental_health_crisis": ParentMentalHealthCrisis,
    "service_withdrawal": ServiceWithdrawal,
    "family_moving_area": FamilyMovingArea,
    "ed_attendance": EdAttendance,
    "appointment_outcome": AppointmentOutcome,
    "police_domestic_abuse_incident": PoliceDomesticAbuseIncident,
    "attendance_concern": AttendanceConcern,
    "child_missing_education": ChildMissingEducation,
    "elective_home_education": ElectiveHomeEducation,
    "agency_contact": AgencyContact,
    "pregnancy_notification": PregnancyNotification,
}


def rejects(payload: dict[str, Any]) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        EventAdapter.validate_python(payload)
    return caught.value


class TestValidEvents:
    @pytest.mark.parametrize("event_type", list(PAYLOADS))
    def test_each_event_type_parses_to_its_model(self, event_type: str) -> None:
        """The discriminated union picks the model named by event_type."""
        parsed = EventAdapter.validate_python(PAYLOADS[event_type]())
        assert type(parsed) is MODELS[event_type]

    def test_every_event_type_has_an_example(self) -> None:
        """The examples above cover every event type the schema knows."""
        assert set(PAYLOADS) == {t.value for t in EventType}

    def test_json_round_trip(self) -> None:
        """An event dumped to JSON parses back to an equal event."""
        parsed = EventAdapter.validate_python(crisis_payload(children_present=[{"local_id": "c"}]))
        assert EventAdapter.validate_json(EventAdapter.dump_json(parsed)) == parsed

    def test_step_down_with_its_plan_is_valid(self) -> None:
        """A withdrawal for reason stepped_down with a plan parses."""
        payload = withdrawal_payload(reason="stepped_down", step_down=step_down_plan())
        assert EventAdapter.validate_python(payload).step_down is not None

    def test_move_with_unknown_destination_is_valid(self) -> None:
        """A move may leave to_authority out: the destination can be unknown."""
        assert EventAdapter.validate_python(move_payload(to_authority=None)).to_authority is None


class TestNhsNumberInEvents:
    def test_bad_nhs_number_rejected(self) -> None:
        """An event naming a person by an invalid NHS number is rejected."""
        rejects(crisis_payload(subject={"nhs_number": "9434765910"}))

    def test_error_text_does_not_contain_the_submitted_number(self) -> None:
        """The validation error, as text, never quotes the near-miss NHS number."""
        error = rejects(crisis_payload(subject={"nhs_number": "943 476 5910"}))
        text = str(error)
        assert "943 476 5910" not in text
        assert "9434765910" not in text


class TestRejectedFields:
    def test_unknown_top_level_field(self) -> None:
        """A field nobody agreed on at the top level is rejected."""
        rejects(crisis_payload(favourite_colour="blue"))

    def test_unknown_nested_field(self) -> None:
        """A field nobody agreed on inside a nested person is rejected."""
        rejects(crisis_payload(subject={"nhs_number": "9990000018", "religion": "x"}))

    def test_naive_occurred_at(self) -> None:
        """occurred_at without a timezone is rejected."""
        rejects(crisis_payload(occurred_at="2027-05-07T21:30:00"))

    def test_naive_arrived_at(self) -> None:
        """An ED arrival time without a timezone is rejected."""
        rejects(ed_payload(arrived_at="2027-05-09T18:00:00"))

    @pytest.mark.parametrize("event_id", ["not-a-uuid", "12345", ""])
    def test_non_uuid_event_id(self, event_id: str) -> None:
        """event_id must be a UUID."""
        rejects(crisis_payload(event_id=event_id))

    @pytest.mark.parametrize("event_type", ["parent_crisis", "PARENT_MENTAL_HEALTH_CRISIS", ""])
    def test_unknown_event_type(self, event_type: str) -> None:
        """An event_type outside the enum matches no model."""
        rejects(crisis_payload(event_type=event_type))

    def test_missing_event_type(self) -> None:
        """Without event_type the union cannot tell the model."""
        payload = crisis_payload()
        del payload["event_type"]
        rejects(payload)

    def test_schema_version_other_than_one(self) -> None:
        """Only schema version 1 is accepted."""
        rejects(crisis_payload(schema_version=2))

    @pytest.mark.parametrize("subject", [{}, {"given_name": "Jess", "family_name": "Carter"}])
    def test_person_without_identifier(self, subject: dict[str, str]) -> None:
        """A person with no NHS number, UPN or local id is rejected."""
        rejects(crisis_payload(subject=subject))

    @pytest.mark.parametrize("upn", ["A12345678901B", "H123456789019", "Z12345678901Z"])
    def test_valid_upn(self, upn: str) -> None:
        """A check letter, eleven digits and a final digit or letter is a UPN."""
        assert PersonRef(upn=upn).upn == upn

    @pytest.mark.parametrize(
        "upn", ["I12345678901B", "O12345678901B", "A1234567890B", "a12345678901B", "A12345678901I"]
    )
    def test_bad_upn(self, upn: str) -> None:
        """Excluded letters (I, O, S), wrong length or lower case make no UPN."""
        rejects(crisis_payload(subject={"upn": upn}))

    @pytest.mark.parametrize("area", ["S12000033", "E0900009", "E090000999", "e09000099", "X"])
    def test_bad_area_code(self, area: str) -> None:
        """An area must be an English or Welsh ONS code: E or W and eight digits."""
        rejects(move_payload(from_authority=area))

    def test_welsh_area_code_accepted(self) -> None:
        """A Welsh ONS code is an area code."""
        assert EventAdapter.validate_python(move_payload(to_authority="W06000015"))

    def test_stepped_down_without_plan(self) -> None:
        """Reason stepped_down without its step_down plan is rejected."""
        rejects(withdrawal_payload(reason="stepped_down"))

    @pytest.mark.parametrize("reason", ["completed", "non_engagement", "declined", "moved"])
    def test_plan_with_another_reason(self, reason: str) -> None:
        """A step_down plan with any reason but stepped_down is rejected."""
        rejects(withdrawal_payload(reason=reason, step_down=step_down_plan()))

    def test_step_down_without_action_owners(self) -> None:
        """A step-down plan needs at least one action owner."""
        plan = step_down_plan(action_owners=[])
        rejects(withdrawal_payload(reason="stepped_down", step_down=plan))

    def test_unknown_withdrawal_reason(self) -> None:
        """A withdrawal reason outside the enum is rejected."""
        rejects(withdrawal_payload(reason="lost_interest"))

    def test_move_without_members(self) -> None:
        """A family move naming no members is rejected."""
        rejects(move_payload(members=[]))

    def test_unknown_presenting_category(self) -> None:
        """An ED presenting category outside the enum is rejected."""
        rejects(ed_payload(presenting_category="broken_heart"))

    def test_unknown_intent(self) -> None:
        """An ED attendance's intent outside accidental, deliberate, unknown is rejected."""
        rejects(ed_payload(intent="careless"))


class TestPregnancy:
    def test_a_booking_names_the_mother_then_the_father(self) -> None:
        """``people()`` lists the mother first: the family is found from her."""
        parsed = EventAdapter.validate_python(pregnancy_payload())
        assert isinstance(parsed, PregnancyNotification)
        assert [p.nhs_number for p in parsed.people()] == ["9990000018", "9990000085"]

    def test_the_father_may_be_unknown(self) -> None:
        """A booking without a father or partner names the mother alone."""
        parsed = EventAdapter.validate_python(pregnancy_payload(father=False))
        assert len(parsed.people()) == 1

    @pytest.mark.parametrize("babies", [0, 7])
    def test_babies_are_counted_sensibly(self, babies: int) -> None:
        """At least one baby, and not an implausible number."""
        with pytest.raises(ValidationError):
            EventAdapter.validate_python(pregnancy_payload(babies=babies))

    def test_an_unknown_concern_is_refused(self) -> None:
        """Concerns come from the published list only."""
        with pytest.raises(ValidationError):
            EventAdapter.validate_python(pregnancy_payload("bad_vibes"))


class TestUnbornPerson:
    @pytest.mark.parametrize(
        "fields", [{}, {"expected_on": "2027-10-07", "date_of_birth": "2027-10-01"}]
    )
    def test_an_unborn_child_has_an_expected_date_and_no_birthday(
        self, fields: dict[str, str]
    ) -> None:
        """Unborn without an expected date, or with a date of birth, is refused."""
        with pytest.raises(ValidationError):
            PersonSpec.model_validate({"id": "p-1", "unborn": True, **fields})

    def test_a_born_child_may_keep_its_expected_date(self) -> None:
        """At birth the record keeps the date it was expected (prematurity is a fact)."""
        born = PersonSpec(id="p-1", date_of_birth="2027-09-20", expected_on="2027-10-07")
        assert not born.unborn


class TestEdAttendanceSecondEdition:
    def test_first_edition_attendance_still_valid(self) -> None:
        """An attendance without intent or mobility parses, both left unknown (None)."""
        parsed = EventAdapter.validate_python(ed_payload())
        assert isinstance(parsed, EdAttendance)
        assert (parsed.intent, parsed.not_yet_mobile) == (None, None)

    def test_intent_and_mobility_are_recorded(self) -> None:
        """A deliberate ingestion by a child not yet mobile keeps both facts."""
        payload = ed_payload(
            presenting_category="ingestion_or_poisoning", intent="deliberate", not_yet_mobile=True
        )
        parsed = EventAdapter.validate_python(payload)
        assert isinstance(parsed, EdAttendance)
        assert (parsed.intent, parsed.not_yet_mobile) == (Intent.DELIBERATE, True)


class TestFrozen:
    @pytest.mark.parametrize("event_type", list(PAYLOADS))
    def test_events_cannot_be_changed(self, event_type: str) -> None:
        """An event's fields cannot be reassigned after parsing."""
        parsed = EventAdapter.validate_python(PAYLOADS[event_type]())
        with pytest.raises(ValidationError):
            parsed.source_org = "someone-else"  # type: ignore[misc]

    def test_person_ref_cannot_be_changed(self) -> None:
        """A nested person cannot be reassigned either."""
        person = PersonRef(local_id="x")
        with pytest.raises(ValidationError):
            person.local_id = "y"  # type: ignore[misc]


class TestPublishedJsonSchemas:
    def test_json_schemas_are_current(self) -> None:
        """The JSON Schemas in schemas/json match the models (python -m schemas.generate)."""
        assert generate.stale(generate.rendered()) == []

    @pytest.mark.parametrize("event_type", list(EVENT_MODELS))
    def test_every_event_type_has_a_schema_file(self, event_type: EventType) -> None:
        """Each event type is published as <event_type>.schema.json."""
        assert (generate.OUT / f"{event_type.value}.schema.json").is_file()


class TestUnstorableText:
    """NUL cannot be kept in PostgreSQL text: refused at the edge, wherever it hides."""

    @pytest.mark.parametrize(
        "where",
        [
            {"if_concerns_return": "call\x00us"},
            {"action_owners": [{"name": "Sam\x00", "role": "lead", "org_id": "la-front-door"}]},
        ],
    )
    def test_nul_is_refused_without_quoting_the_value(self, where: dict[str, Any]) -> None:
        plan = {"id": "plan-1", "person_id": "p-1", "kind": "early_help", "area": "E09000099",
                "started_on": "2027-01-04", **where}  # fmt: skip
        with pytest.raises(ValidationError) as refused:
            PlanSpec.model_validate(plan)
        assert "NUL" in str(refused.value)
        assert "Sam" not in str(refused.value)
        assert "call" not in str(refused.value)

    def test_other_unusual_text_is_kept(self) -> None:
        plan = PlanSpec.model_validate({"id": "plan-1", "person_id": "p-1", "kind": "early_help",
                                        "area": "E09000099", "started_on": "2027-01-04",
                                        "if_concerns_return": "Zoë \t 😀 ‮"})  # fmt: skip
        assert plan.if_concerns_return == "Zoë \t 😀 ‮"


LEGACY_HEADER = {
    "notice_id": "9f1c3a52-6a0e-4c59-8a0b-0b1f0c2d3e4f",
    "event_id": "0a6c2b8e-3d41-4a7e-8c5b-2e9d7a1f4c60", "household": "h",
    "recipient_id": "school-oakfield:key_adult", "recipient_org": "school-oakfield",
    "notice_type": "school_support", "severity": "high", "rule_id": "crisis.child",
    "created_at": "2027-05-10T10:00:00Z", "deadline": "2027-05-11T07:45:00Z",
    "recipient_key_id": "k", "signing_key_id": "s",
}  # fmt: skip


class TestNoticeHeaderHasNoRule:
    def test_a_header_sealed_before_still_reads_without_its_rule(self) -> None:
        """A notice sealed while the header named its rule still lists and opens; the rule
        is dropped, so it is never shown or passed on again."""
        header = NoticeHeader.model_validate(LEGACY_HEADER)
        assert "rule_id" not in header.model_dump()
        assert "crisis" not in header.model_dump_json()
