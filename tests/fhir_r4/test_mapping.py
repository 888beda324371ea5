"""FHIR R4 resources to events (broker.rules.fhir_mapping): every code in the tables, and a
clear refusal naming the field for anything else."""

import json
import uuid
from typing import Any

import pytest
from fhir.resources.R4B.operationoutcome import OperationOutcome
from hypothesis import given
from hypothesis import strategies as st

from broker.entrypoints import fhir_http
from broker.rules import fhir_codes as codes
from broker.rules.fhir_mapping import MAX_ENTRIES, events_from_fhir
from broker.rules.fhir_resources import FhirRejected, Issue
from schemas.events import (
    AppointmentOutcome,
    CareSetting,
    EdAttendance,
    EventAdapter,
    Intent,
    PresentingCategory,
)

from .resources import BUNDLE, CANCELLED, ENCOUNTER, NOT_BROUGHT, body, resource, snomed

pytestmark = pytest.mark.fhir
ORG = "acute-demo"
BABY = "9990000298"


def mapped(data: dict[str, Any], endpoint: str | None = None) -> list[Any]:
    return events_from_fhir(body(data), endpoint or data["resourceType"], ORG)


def refusal(data: Any, endpoint: str = "Encounter") -> list[Issue]:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    with pytest.raises(FhirRejected) as refused:
        events_from_fhir(raw, endpoint, ORG)
    return refused.value.issues


def attendance(**changes: Any) -> EdAttendance:
    [event] = mapped(resource(ENCOUNTER) | changes)
    assert isinstance(event, EdAttendance)
    return event


def outcome(name: str = NOT_BROUGHT, **changes: Any) -> AppointmentOutcome:
    [event] = mapped(resource(name) | changes)
    assert isinstance(event, AppointmentOutcome)
    return event


class TestEncounterExample:
    def test_maps_to_an_ed_attendance(self) -> None:
        """The example attendance: the baby, the arrival time, injury, brought by her father."""
        event = attendance()
        assert event.subject.nhs_number == BABY
        assert event.source_org == ORG
        assert event.arrived_at.isoformat() == "2026-11-28T19:42:00+00:00"
        assert event.occurred_at == event.arrived_at
        assert event.setting is CareSetting.EMERGENCY_DEPARTMENT
        assert event.presenting_category is PresentingCategory.INJURY
        assert event.accompanied_by == "father"

    def test_contained_patient_gives_name_and_birth_date(self) -> None:
        """The contained Patient's name and birth date travel for the front door's matching."""
        subject = attendance().subject
        assert (subject.given_name, subject.family_name) == ("Noah", "Carter")
        assert subject.date_of_birth is not None

    def test_free_text_reason_does_not_travel(self) -> None:
        """The reason's free text is not mapped: the category is what the rules need."""
        assert "forearm" not in EventAdapter.dump_json(attendance()).decode()


class TestPresentingComplaints:
    @pytest.mark.parametrize(("code", "expected"), sorted(codes.PRESENTING_COMPLAINTS.items()))
    def test_each_code_maps_to_its_category_and_intent(
        self, code: str, expected: tuple[PresentingCategory, Intent | None]
    ) -> None:
        """Every SNOMED CT chief complaint in the table maps as the table says."""
        event = attendance(reasonCode=snomed(code))
        assert (event.presenting_category, event.intent) == expected

    def test_unknown_code_is_refused_naming_the_field(self) -> None:
        """A code outside the table is a refusal at Encounter.reasonCode, the code not quoted."""
        [issue] = refusal(resource(ENCOUNTER) | {"reasonCode": snomed("22298006")})
        assert (issue.code, issue.expression) == ("code-invalid", "Encounter.reasonCode")
        assert "22298006" not in issue.diagnostics

    def test_first_known_code_wins(self) -> None:
        """An unknown code before a known one does not hide the known one."""
        reasons = snomed("22298006") + snomed("6471006")
        assert (
            attendance(reasonCode=reasons).presenting_category is PresentingCategory.MENTAL_HEALTH
        )

    def test_code_from_another_system_is_not_read_as_snomed(self) -> None:
        """A table code under another system is not the SNOMED CT concept."""
        reasons = [{"coding": [{"system": "http://example.org/local", "code": "125667009"}]}]
        [issue] = refusal(resource(ENCOUNTER) | {"reasonCode": reasons})
        assert issue.code == "code-invalid"

    def test_missing_reason_is_required(self) -> None:
        """An attendance without a presenting complaint is refused, not counted as other."""
        data = resource(ENCOUNTER)
        del data["reasonCode"]
        [issue] = refusal(data)
        assert (issue.code, issue.expression) == ("required", "Encounter.reasonCode")


class TestEncounterClassAndStatus:
    @pytest.mark.parametrize(("system", "code"), sorted(codes.SETTINGS))
    def test_each_class_in_the_table_sets_the_setting(self, system: str, code: str) -> None:
        """Each class the table knows gives its setting."""
        event = attendance(**{"class": {"system": system, "code": code}})
        assert event.setting is codes.SETTINGS[(system, code)]

    @pytest.mark.parametrize("code", ["AMB", "IMP", "VR", "HH"])
    def test_other_classes_are_refused(self, code: str) -> None:
        """An outpatient, inpatient, virtual or home encounter is not an ED attendance."""
        [issue] = refusal(resource(ENCOUNTER) | {"class": {"system": codes.ACT_CODE, "code": code}})
        assert (issue.code, issue.expression) == ("code-invalid", "Encounter.class")

    @pytest.mark.parametrize("status", sorted(codes.ATTENDED_ENCOUNTER_STATUSES))
    def test_encounters_that_took_place_are_taken(self, status: str) -> None:
        """Arrived, triaged, in progress or finished: the patient attended."""
        assert attendance(status=status).presenting_category is PresentingCategory.INJURY

    @pytest.mark.parametrize("status", ["planned", "cancelled", "entered-in-error", "unknown"])
    def test_encounters_that_did_not_take_place_are_refused(self, status: str) -> None:
        """A planned, cancelled or mistaken encounter is no attendance."""
        [issue] = refusal(resource(ENCOUNTER) | {"status": status})
        assert (issue.code, issue.expression) == ("not-supported", "Encounter.status")

    def test_missing_arrival_time_is_required(self) -> None:
        """The arrival time is what the patterns count; without it, a refusal."""
        [issue] = refusal(resource(ENCOUNTER) | {"period": {"end": "2026-11-28T23:10:00Z"}})
        assert (issue.code, issue.expression) == ("required", "Encounter.period.start")


class TestEscorts:
    @pytest.mark.parametrize(("code", "word"), sorted(codes.ACCOMPANYING_RELATIONSHIPS.items()))
    def test_each_relationship_is_named(self, code: str, word: str) -> None:
        """The escort's relationship, in the event's words: never the escort's name."""
        data = resource(ENCOUNTER)
        data["contained"][1]["relationship"][0]["coding"][0]["code"] = code
        assert attendance(contained=data["contained"]).accompanied_by == word

    def test_unknown_relationship_is_refused(self) -> None:
        """An escort the broker cannot name is refused, not dropped."""
        data = resource(ENCOUNTER)
        data["contained"][1]["relationship"][0]["coding"][0]["code"] = "NBOR"
        [issue] = refusal(data)
        assert issue.expression == "Encounter.participant[0].individual"

    def test_no_escort_means_none_recorded(self) -> None:
        """An adult who came alone has no accompanied_by."""
        assert attendance(participant=[]).accompanied_by is None


class TestNhsNumber:
    def test_logical_reference_alone_is_enough(self) -> None:
        """subject.identifier with the NHS number system names the patient."""
        data = resource(ENCOUNTER)
        data["subject"] = {"identifier": data["subject"]["identifier"]}
        assert attendance(subject=data["subject"]).subject.nhs_number == BABY

    def test_spaced_nhs_number_is_read_as_digits(self) -> None:
        """The 3-3-4 printed form is the same number."""
        data = resource(ENCOUNTER)
        data["subject"] = {
            "identifier": {"system": codes.NHS_NUMBER_SYSTEM, "value": "999 000 0298"}
        }
        assert attendance(subject=data["subject"]).subject.nhs_number == BABY

    def test_missing_nhs_number_is_required(self) -> None:
        """A patient named by a local number only is refused at Encounter.subject."""
        data = resource(ENCOUNTER)
        data["contained"] = data["contained"][1:]
        data["subject"] = {"identifier": {"system": "https://example.nhs.uk/mrn", "value": "M1"}}
        [issue] = refusal(data)
        assert (issue.code, issue.expression) == ("required", "Encounter.subject.identifier")
        assert codes.NHS_NUMBER_SYSTEM in issue.diagnostics

    def test_invalid_nhs_number_is_refused_without_echo(self) -> None:
        """A number failing its check digit is refused, and never quoted back."""
        data = resource(ENCOUNTER)
        data["contained"] = data["contained"][1:]
        data["subject"] = {"identifier": {"system": codes.NHS_NUMBER_SYSTEM, "value": "9990000299"}}
        data["participant"] = []
        [issue] = refusal(data)
        assert (issue.code, issue.expression) == ("value", "Encounter.subject.identifier.value")
        assert "9990000299" not in issue.diagnostics


class TestAppointments:
    @pytest.mark.parametrize(("status", "word"), sorted(codes.APPOINTMENT_STATUSES.items()))
    def test_each_outcome_status_maps(self, status: str, word: str) -> None:
        """fulfilled is attended; noshow is was not brought."""
        event = outcome(status=status)
        assert event.outcome == word
        assert event.subject.nhs_number == "9990000158"
        assert event.service == "Community paediatrics"
        assert event.booked_for == event.occurred_at

    @pytest.mark.parametrize("reason", sorted(codes.CANCELLED_BY_PATIENT))
    def test_cancellation_by_the_patients_side_is_an_outcome(self, reason: str) -> None:
        """Each patient-side cancellation reason is a cancellation by the parent or carer."""
        data = resource(CANCELLED)
        data["cancelationReason"]["coding"][0]["code"] = reason
        assert outcome(CANCELLED, cancelationReason=data["cancelationReason"]).outcome == (
            "cancelled_by_parent"
        )

    def test_service_falls_back_to_specialty_display(self) -> None:
        """With no serviceType, the specialty's display names the service."""
        assert outcome(CANCELLED).service == "Paediatric specialty"

    @pytest.mark.parametrize("reason", ["prov", "maint", "pat-dec", "other"])
    def test_other_cancellations_are_refused(self, reason: str) -> None:
        """A provider's cancellation is not about the family: refused, naming the reason."""
        data = resource(CANCELLED)
        data["cancelationReason"]["coding"][0]["code"] = reason
        [issue] = refusal(data, "Appointment")
        assert (issue.code, issue.expression) == ("not-supported", "Appointment.cancelationReason")

    @pytest.mark.parametrize("status", ["proposed", "pending", "booked", "arrived", "checked-in"])
    def test_statuses_that_are_not_outcomes_are_refused(self, status: str) -> None:
        """An appointment not yet over has no outcome."""
        [issue] = refusal(resource(NOT_BROUGHT) | {"status": status}, "Appointment")
        assert (issue.code, issue.expression) == ("not-supported", "Appointment.status")

    def test_appointment_without_the_patient_is_refused(self) -> None:
        """Only a practitioner among the participants: no patient to count against."""
        data = resource(NOT_BROUGHT)
        data["participant"] = data["participant"][1:]
        [issue] = refusal(data, "Appointment")
        assert (issue.code, issue.expression) == ("required", "Appointment.participant")

    def test_appointment_without_a_service_is_refused(self) -> None:
        """The service is what the notice names; without it, a refusal."""
        data = resource(NOT_BROUGHT)
        del data["serviceType"]
        [issue] = refusal(data, "Appointment")
        assert (issue.code, issue.expression) == ("required", "Appointment.serviceType")


class TestBundles:
    def test_transaction_maps_each_entry_in_order(self) -> None:
        """The Patient entry is the Encounter's subject; Encounter and Appointment map."""
        ed, appointment = mapped(resource(BUNDLE))
        assert isinstance(ed, EdAttendance)
        assert isinstance(appointment, AppointmentOutcome)
        assert ed.subject.nhs_number == "9990000018"
        assert ed.subject.given_name == "Jess"
        assert (ed.presenting_category, ed.intent) == (
            PresentingCategory.INGESTION_OR_POISONING,
            Intent.DELIBERATE,
        )

    def test_collection_is_taken_as_a_transaction_is(self) -> None:
        """A collection Bundle carries the same events."""
        assert len(mapped(resource(BUNDLE) | {"type": "collection"})) == 2

    @pytest.mark.parametrize("kind", ["batch", "document", "message", "searchset"])
    def test_other_bundle_types_are_refused(self, kind: str) -> None:
        """Only transaction and collection Bundles are taken."""
        [issue] = refusal(resource(BUNDLE) | {"type": kind}, "Bundle")
        assert (issue.code, issue.expression) == ("not-supported", "Bundle.type")

    def test_every_entry_at_fault_is_named(self) -> None:
        """All-or-nothing: one issue per entry at fault, each naming its entry."""
        data = resource(BUNDLE)
        data["entry"][1]["resource"]["reasonCode"] = snomed("22298006")
        data["entry"][2]["resource"]["status"] = "booked"
        data["entry"].append({"resource": {"resourceType": "Observation", "status": "final",
                                           "code": {"text": "x"}}})  # fmt: skip
        issues = refusal(data, "Bundle")
        assert [i.expression for i in issues] == [
            "Bundle.entry[1].resource.reasonCode",
            "Bundle.entry[2].resource.status",
            "Bundle.entry[3].resource",
        ]

    def test_invalid_field_inside_an_entry_is_named_as_fhirpath(self) -> None:
        """A field fhir.resources refuses is named with FHIRPath indexes."""
        data = resource(BUNDLE)
        data["entry"][1]["resource"]["period"]["start"] = "the small hours"
        [issue] = refusal(data, "Bundle")
        assert issue.expression == "Bundle.entry[1].resource.period.start"

    def test_bundle_at_its_entry_limit_is_taken(self) -> None:
        """MAX_ENTRIES appointments in one Bundle: each maps."""
        data = resource(BUNDLE)
        appointment = data["entry"][2]
        data["entry"] = [
            {**appointment, "fullUrl": f"urn:uuid:{uuid.UUID(int=n)}",
             "resource": appointment["resource"] | {"identifier": [{"value": f"A{n}"}]}}
            for n in range(MAX_ENTRIES)
        ]  # fmt: skip
        assert len(mapped(data)) == MAX_ENTRIES

    def test_bundle_over_its_entry_limit_is_refused(self) -> None:
        """One entry more is too costly: each event carries the whole Bundle as its proof."""
        data = resource(BUNDLE)
        data["entry"] = data["entry"] * (MAX_ENTRIES // 3 + 1)
        [issue] = refusal(data, "Bundle")
        assert (issue.code, issue.expression) == ("too-costly", "Bundle.entry")

    def test_bundle_of_patients_only_is_refused(self) -> None:
        """A Bundle with nothing to publish is refused, not answered as done."""
        data = resource(BUNDLE)
        data["entry"] = data["entry"][:1]
        [issue] = refusal(data, "Bundle")
        assert (issue.code, issue.expression) == ("required", "Bundle.entry")

    def test_entries_are_created_only(self) -> None:
        """A DELETE or PUT entry is not an outcome the broker takes."""
        data = resource(BUNDLE)
        data["entry"][1]["request"]["method"] = "DELETE"
        [issue] = refusal(data, "Bundle")
        assert issue.expression == "Bundle.entry[1].request.method"


class TestWhatIsNotAResource:
    def test_wrong_resource_type_for_the_endpoint(self) -> None:
        """An Appointment posted at /Encounter is refused naming resourceType."""
        [issue] = refusal(resource(NOT_BROUGHT), "Encounter")
        assert issue.expression == "Encounter.resourceType"

    def test_not_json(self) -> None:
        """A body that is not JSON is a structure issue."""
        [issue] = refusal(b"<Encounter/>")
        assert issue.code == "structure"

    def test_json_in_another_encoding(self) -> None:
        """FHIR's JSON is UTF-8: a UTF-16 body is refused, not guessed at."""
        [issue] = refusal(json.dumps(resource(ENCOUNTER)).encode("utf-16"))
        assert issue.code == "structure"

    def test_fhir_invalid_field_is_named_without_its_value(self) -> None:
        """fhir.resources' own validation names the field and never quotes the value."""
        [issue] = refusal(resource(ENCOUNTER) | {"period": {"start": "9990000298"}})
        assert issue.expression.startswith("Encounter.period")
        assert "9990000298" not in issue.diagnostics


class TestEventIds:
    def test_same_resource_is_the_same_event(self) -> None:
        """Sending an attendance again gives the same event id (a duplicate, not a second)."""
        assert attendance().event_id == attendance().event_id

    def test_another_identifier_is_another_event(self) -> None:
        """Two attendances have two ids."""
        other = [{"system": "https://fhir.acute-demo.nhs.uk/Id/ed-attendance", "value": "ED-2"}]
        assert attendance().event_id != attendance(identifier=other).event_id

    def test_another_organisation_is_another_event(self) -> None:
        """The same local identifier at two trusts names two attendances."""
        data = body(resource(ENCOUNTER))
        [one] = events_from_fhir(data, "Encounter", "acute-demo")
        [two] = events_from_fhir(data, "Encounter", "acute-other")
        assert one.event_id != two.event_id

    def test_resource_without_identifier_or_id_is_refused(self) -> None:
        """Without an identifier or id a repeat could not be told from a new attendance."""
        data = resource(ENCOUNTER)
        del data["identifier"], data["id"]
        [issue] = refusal(data)
        assert (issue.code, issue.expression) == ("required", "Encounter.identifier")


# --- Property: whatever arrives, a valid event or an OperationOutcome's issues --------------

VALID_NHS = ["9990000018", "9990000298", "9990000158"]
codes_seen = st.sampled_from([*codes.PRESENTING_COMPLAINTS, "22298006", "1", ""])
encounters = st.fixed_dictionaries(
    {
        "resourceType": st.just("Encounter"),
        "id": st.text(alphabet="abc123-", min_size=1, max_size=12),
        "status": st.sampled_from(["finished", "arrived", "planned", "cancelled", "x"]),
        "class": st.fixed_dictionaries({
            "system": st.sampled_from([codes.ACT_CODE, "http://example.org"]),
            "code": st.sampled_from(["EMER", "AMB", "IMP"]),
        }),
        "subject": st.fixed_dictionaries({"identifier": st.fixed_dictionaries({
            "system": st.sampled_from([codes.NHS_NUMBER_SYSTEM, "https://example.org/mrn"]),
            "value": st.sampled_from([*VALID_NHS, "9990000299", "12345"]),
        })}),
        "period": st.fixed_dictionaries(
            {}, optional={"start": st.just("2026-11-28T19:42:00+00:00")}
        ),
        "reasonCode": st.lists(
            st.fixed_dictionaries({"coding": st.lists(st.fixed_dictionaries({
                "system": st.sampled_from([codes.SNOMED, "http://example.org"]),
                "code": codes_seen,
            }), max_size=2)}), max_size=2
        ),
    }
)  # fmt: skip
cancellations = st.fixed_dictionaries(
    {
        "coding": st.lists(
            st.fixed_dictionaries(
                {
                    "system": st.sampled_from([codes.CANCELLATION_REASON, "http://example.org"]),
                    "code": st.sampled_from([*codes.CANCELLED_BY_PATIENT, "prov", "pat-dec"]),
                }
            ),
            max_size=2,
        )
    }
)
actors = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["Patient", "Practitioner"]),
        "identifier": st.fixed_dictionaries(
            {
                "system": st.sampled_from([codes.NHS_NUMBER_SYSTEM, "https://example.org/mrn"]),
                "value": st.sampled_from([*VALID_NHS, "9990000299", "12345"]),
            }
        ),
    },
)
appointments = st.fixed_dictionaries(
    {
        "resourceType": st.just("Appointment"),
        "status": st.sampled_from([*codes.APPOINTMENT_STATUSES, "cancelled", "booked", "x"]),
        "participant": st.lists(
            st.fixed_dictionaries({"status": st.just("accepted")}, optional={"actor": actors}),
            max_size=2,
        ),
    },
    optional={
        "identifier": st.just([{"system": "https://example.org/opa", "value": "OPA-1"}]),
        "start": st.just("2026-11-24T10:30:00+00:00"),
        "serviceType": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "text": st.sampled_from(["Community paediatrics", "Speech and language"]),
                },
            ),
            max_size=1,
        ),
        "cancelationReason": cancellations,
    },
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=10,
)  # fmt: skip


def _outcome_of(raw: bytes, endpoint: str) -> tuple[list[Any], list[Issue]]:
    try:
        return events_from_fhir(raw, endpoint, ORG), []
    except FhirRejected as refused:
        return [], refused.issues


def _maps_or_refuses(raw: bytes, endpoint: str) -> None:
    events, issues = _outcome_of(raw, endpoint)
    assert bool(events) != bool(issues)
    if issues:  # the answer the gateway would give is a valid FHIR OperationOutcome
        OperationOutcome.model_validate_json(fhir_http.outcome(422, issues).body)
    for issue in issues:
        assert issue.expression
        assert issue.diagnostics
        assert not any(number in issue.diagnostics for number in [*VALID_NHS, "9990000299"])
    for event in events:
        assert EventAdapter.validate_json(EventAdapter.dump_json(event)) == event


class TestMappingProperty:
    @given(encounters)
    def test_any_encounter_maps_to_a_valid_event_or_is_refused(self, data: dict[str, Any]) -> None:
        """An encounter maps to an event that validates as the broker's, or every fault comes
        back as an issue that names a field and quotes no NHS number."""
        _maps_or_refuses(json.dumps(data).encode(), "Encounter")

    @given(appointments)
    def test_any_appointment_maps_to_a_valid_event_or_is_refused(
        self, data: dict[str, Any]
    ) -> None:
        """The same for appointments: an outcome event, or issues naming fields."""
        _maps_or_refuses(json.dumps(data).encode(), "Appointment")

    @given(json_values, st.sampled_from(["Encounter", "Appointment", "Bundle"]))
    def test_any_json_is_mapped_or_refused_never_an_error(self, data: Any, endpoint: str) -> None:
        """No body, however odd, escapes as anything but an event or a refusal."""
        _maps_or_refuses(json.dumps(data).encode(), endpoint)
