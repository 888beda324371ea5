"""The gateway's OpenAPI examples: one per event type, each accepted by the contracts, from an
organisation that may publish it, about the sample partnership's Carter family, and telling
the people its description says when routed (through the real routing service, as a
scenario on the sample partnership)."""

from typing import Any

import pytest

from broker.config import Settings
from broker.entrypoints.gateway import create_gateway
from broker.fixtures import partnership
from broker.rules.authorisation import may_publish
from broker.rules.family import OrgKind
from broker.services.scenario import Scenario, Step, run_scenario
from schemas.events import EventAdapter, EventType
from schemas.examples import EVENT_EXAMPLES, openapi_examples

# What each example's description promises, as rule ids (the README's who-is-told table).
TOLD: dict[EventType, set[str]] = {
    EventType.PARENT_MENTAL_HEALTH_CRISIS: {"crisis.child", "crisis.gp", "crisis.front_door"},
    EventType.SERVICE_WITHDRAWAL: {
        "withdrawal.involved_agency",
        "withdrawal.gp",
        "withdrawal.child",
        "withdrawal.front_door",
    },
    EventType.FAMILY_MOVING_AREA: {"move.send_history"},
    EventType.ED_ATTENDANCE: set(),
    EventType.APPOINTMENT_OUTCOME: set(),
    EventType.ATTENDANCE_CONCERN: {"attendance.education_officer", "attendance.gp"},
    EventType.CHILD_MISSING_EDUCATION: {
        "missing_education.education_officer",
        "missing_education.gp",
    },
    EventType.ELECTIVE_HOME_EDUCATION: {"home_education.education_officer", "home_education.gp"},
    EventType.AGENCY_CONTACT: set(),
    EventType.PREGNANCY_NOTIFICATION: {
        "pregnancy.unborn_child_not_in_directory+pregnancy.front_door",
        "pregnancy.gp",
    },
    EventType.POLICE_DOMESTIC_ABUSE_INCIDENT: {
        "domestic_abuse.child",
        "domestic_abuse.gp",
        "domestic_abuse.front_door",
    },
}
KINDS = {org: OrgKind(kind) for org, _, kind in partnership.ORGANISATIONS}
CARTERS = {partnership.MOTHER, partnership.FATHER, partnership.CHILD_B, partnership.TWIN_1,
           partnership.TWIN_2}  # fmt: skip


def _example(event_type: EventType) -> dict[str, Any]:
    return EVENT_EXAMPLES[event_type][2]


class TestExamples:
    def test_every_event_type_has_one(self) -> None:
        """An agency's developer finds an example for every event the gateway takes."""
        assert set(EVENT_EXAMPLES) == set(EventType)
        assert set(TOLD) == set(EventType)

    @pytest.mark.parametrize("event_type", list(EventType))
    def test_the_contract_accepts_it(self, event_type: EventType) -> None:
        """Each example is a valid event of its own type."""
        assert EventAdapter.validate_python(_example(event_type)).event_type is event_type

    @pytest.mark.parametrize("event_type", list(EventType))
    def test_its_source_may_publish_it(self, event_type: EventType) -> None:
        """The example's organisation is one the authorisation table lets publish it."""
        assert may_publish(KINDS[_example(event_type)["source_org"]], event_type)

    @pytest.mark.parametrize("event_type", list(EventType))
    def test_it_names_only_the_sample_family(self, event_type: EventType) -> None:
        """Every person named is a Carter of the sample partnership (invented numbers)."""
        event = EventAdapter.validate_python(_example(event_type))
        assert {p.nhs_number for p in event.people()} <= CARTERS

    def test_the_gateway_documents_them(self) -> None:
        """POST /v1/events shows every example in the OpenAPI document."""
        document = create_gateway(Settings(api_docs=True)).openapi()
        body = document["paths"]["/v1/events"]["post"]["requestBody"]["content"]
        assert set(body["application/json"]["examples"]) == set(openapi_examples())


class TestExamplesRouted:
    @pytest.mark.parametrize("event_type", list(EventType))
    async def test_it_tells_whom_its_description_says(self, event_type: EventType) -> None:
        """Routed on the sample partnership on a Wednesday morning in term, the example produces
        notices under exactly the rules its description names."""
        event = {k: v for k, v in _example(event_type).items()
                 if k not in ("event_id", "occurred_at")}  # fmt: skip
        scenario = Scenario(name=f"example-{event_type.value}", base_directory="demo",
                            start="2026-11-25T10:00:00+00:00",
                            steps=[Step(event=event, only_these=False)])  # fmt: skip
        [result] = await run_scenario(scenario)
        assert {told.rule for told in result.notices} == TOLD[event_type]
