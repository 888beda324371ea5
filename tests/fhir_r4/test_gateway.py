"""The gateway's FHIR R4 routes against the real database and Kafka broker: accepted bodies
are sealed events on Kafka, refusals are OperationOutcomes naming the field."""

import json
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome
from support import records_up_to_the_end, rejected_at_the_gateway, sealed_events

from broker.config import Settings
from broker.entrypoints.fhir_http import MAX_BODY
from broker.keys import KeyStore
from broker.services.fhir_proof import signature_header
from producers.envelopes import open_event
from producers.sdk import signature_header as event_signature_header
from schemas.transport import SealedEvent

from .conftest import ACT_AS, TRUST
from .resources import (
    BUNDLE,
    CANCELLED,
    ENCOUNTER,
    FHIR_JSON,
    NOT_BROUGHT,
    body,
    post_fhir,
    resource,
    snomed,
)

pytestmark = [pytest.mark.fhir, pytest.mark.integration]
Keys = dict[str, Ed25519PrivateKey]


def outcome_of(answer: httpx.Response) -> OperationOutcome:
    """The answer's body, parsed as FHIR: it must be a valid OperationOutcome."""
    assert answer.headers["content-type"].startswith(FHIR_JSON)
    return OperationOutcome.model_validate_json(answer.content)


class TestAcceptingResources:
    async def test_encounter_is_accepted_and_sealed_on_kafka(
        self, fhir_gateway: httpx.AsyncClient, settings: Settings, producer_keys: Keys
    ) -> None:
        """A 202 with an informational OperationOutcome; on Kafka the event is sealed, the NHS
        number and the escort nowhere in clear."""
        answer = await post_fhir(fhir_gateway, "Encounter", resource(ENCOUNTER),
                                 producer_keys[TRUST])  # fmt: skip
        assert answer.status_code == 202
        [issue] = outcome_of(answer).issue
        assert (issue.severity, issue.code) == ("information", "informational")
        [value] = await sealed_events(settings, 1)
        assert b"9990000298" not in value
        assert b"father" not in value
        assert b"Carter" not in value

    async def test_sealed_event_keeps_the_signed_fhir_body_as_proof(
        self, fhir_gateway: httpx.AsyncClient, settings: Settings, producer_keys: Keys
    ) -> None:
        """Opened with the broker's key, the event carries the exact bytes the trust signed."""
        raw = body(resource(NOT_BROUGHT))
        await post_fhir(fhir_gateway, "Appointment", raw, producer_keys[TRUST])
        [value] = await sealed_events(settings, 1)
        keys = KeyStore.load(settings.keys_dir)  # the broker's own, as the router opens with
        _, signed = open_event(SealedEvent.model_validate_json(value), keys.hpke)
        assert signed.fhir is not None
        assert signed.fhir.body.encode() == raw
        assert signed.event().event_type == "appointment_outcome"

    async def test_same_resource_again_is_a_duplicate(
        self, fhir_gateway: httpx.AsyncClient, producer_keys: Keys
    ) -> None:
        """Posting an Appointment twice publishes it once and says so the second time."""
        key = producer_keys[TRUST]
        first = await post_fhir(fhir_gateway, "Appointment", resource(CANCELLED), key)
        again = await post_fhir(fhir_gateway, "Appointment", resource(CANCELLED), key)
        assert (first.status_code, again.status_code) == (202, 200)
        assert "duplicate" in (outcome_of(again).issue[0].diagnostics or "")

    async def test_transaction_bundle_answers_each_entry(
        self, fhir_gateway: httpx.AsyncClient, settings: Settings, producer_keys: Keys
    ) -> None:
        """A transaction-response Bundle: one entry per entry sent, in order; two events."""
        answer = await post_fhir(fhir_gateway, "Bundle", resource(BUNDLE), producer_keys[TRUST])
        assert answer.status_code == 200
        response = Bundle.model_validate_json(answer.content)
        assert response.type == "transaction-response"
        assert [e.response.status for e in response.entry or []] == [
            "200 OK", "202 Accepted", "202 Accepted",
        ]  # fmt: skip
        assert len(await sealed_events(settings, 2)) == 2


class TestRefusals:
    async def test_unknown_code_is_a_422_operation_outcome(
        self, fhir_gateway: httpx.AsyncClient, settings: Settings, producer_keys: Keys
    ) -> None:
        """An unknown presenting complaint: 422 naming Encounter.reasonCode; nothing on Kafka."""
        data = resource(ENCOUNTER) | {"reasonCode": snomed("22298006")}
        answer = await post_fhir(fhir_gateway, "Encounter", data, producer_keys[TRUST])
        assert answer.status_code == 422
        [issue] = outcome_of(answer).issue
        assert (issue.severity, issue.code) == ("error", "code-invalid")
        assert issue.expression == ["Encounter.reasonCode"]
        assert await records_up_to_the_end(settings, f"{settings.topic_prefix}events") == []

    async def test_missing_nhs_number_never_echoes_personal_data(
        self, fhir_gateway: httpx.AsyncClient, producer_keys: Keys
    ) -> None:
        """A bad NHS number is named as a field; neither it nor the name comes back."""
        data = resource(ENCOUNTER)
        data["contained"][0]["identifier"][0]["value"] = "9990000299"
        data["subject"] = {"reference": "#patient"}
        answer = await post_fhir(fhir_gateway, "Encounter", data, producer_keys[TRUST])
        assert answer.status_code == 422
        assert outcome_of(answer).issue[0].expression == ["Encounter.subject.identifier.value"]
        assert b"9990000299" not in answer.content
        assert b"Carter" not in answer.content

    async def test_bundle_with_one_bad_entry_is_refused_whole(
        self, fhir_gateway: httpx.AsyncClient, settings: Settings, producer_keys: Keys
    ) -> None:
        """All-or-nothing: one entry at fault, nothing published, the entry named."""
        data = resource(BUNDLE)
        data["entry"][2]["resource"]["status"] = "booked"
        answer = await post_fhir(fhir_gateway, "Bundle", data, producer_keys[TRUST])
        assert answer.status_code == 422
        assert [i.expression for i in outcome_of(answer).issue] == [
            ["Bundle.entry[2].resource.status"]
        ]
        assert await records_up_to_the_end(settings, f"{settings.topic_prefix}events") == []

    async def test_resource_the_broker_does_not_take(
        self, fhir_gateway: httpx.AsyncClient, producer_keys: Keys
    ) -> None:
        """An Observation posted at /Encounter is a 422, not a silent drop."""
        data: dict[str, Any] = {"resourceType": "Observation", "status": "final"}
        answer = await post_fhir(fhir_gateway, "Encounter", data, producer_keys[TRUST])
        assert answer.status_code == 422
        assert outcome_of(answer).issue[0].expression == ["Encounter.resourceType"]

    async def test_body_over_the_limit_is_413(
        self, fhir_gateway: httpx.AsyncClient, producer_keys: Keys
    ) -> None:
        """A body over 256 KiB is refused before it is parsed."""
        data = resource(ENCOUNTER)
        data["reasonCode"][0]["text"] = "x" * MAX_BODY
        answer = await post_fhir(fhir_gateway, "Encounter", data, producer_keys[TRUST])
        assert answer.status_code == 413
        assert outcome_of(answer).issue[0].code == "too-costly"

    @pytest.mark.parametrize("content_type", ["application/json", "text/plain", ""])
    async def test_other_content_types_are_415(
        self, fhir_gateway: httpx.AsyncClient, producer_keys: Keys, content_type: str
    ) -> None:
        """Only application/fhir+json is taken."""
        headers = {"content-type": content_type}
        key = producer_keys[TRUST]
        answer = await post_fhir(fhir_gateway, "Encounter", resource(ENCOUNTER), key, **headers)
        assert answer.status_code == 415
        assert outcome_of(answer).issue[0].code == "not-supported"

    async def test_charset_parameter_is_fine(
        self, fhir_gateway: httpx.AsyncClient, producer_keys: Keys
    ) -> None:
        """application/fhir+json; charset=utf-8 is the same media type."""
        headers = {"content-type": f"{FHIR_JSON}; charset=utf-8"}
        key = producer_keys[TRUST]
        answer = await post_fhir(fhir_gateway, "Encounter", resource(ENCOUNTER), key, **headers)
        assert answer.status_code == 202


class TestSignatures:
    async def test_unsigned_body_is_refused_and_audited(
        self, fhir_gateway: httpx.AsyncClient, settings: Settings
    ) -> None:
        """No Sgb-Signature: 401 with an OperationOutcome, and the audit log records it."""
        answer = await fhir_gateway.post("/fhir/R4/Encounter", content=body(resource(ENCOUNTER)),
                                         headers={"content-type": FHIR_JSON})  # fmt: skip
        assert answer.status_code == 401
        assert outcome_of(answer).issue[0].expression == ["Sgb-Signature"]
        assert await rejected_at_the_gateway(settings) == ["SignatureInvalid"]

    async def test_body_changed_after_signing_is_refused(
        self, fhir_gateway: httpx.AsyncClient, producer_keys: Keys
    ) -> None:
        """The signature covers the exact bytes: a re-serialised body no longer verifies."""
        raw = body(resource(ENCOUNTER))
        header = signature_header(producer_keys[TRUST], raw)
        changed = json.dumps(json.loads(raw), indent=1).encode()
        answer = await fhir_gateway.post("/fhir/R4/Encounter", content=changed,
                                         headers={"content-type": FHIR_JSON,
                                                  "sgb-signature": header})  # fmt: skip
        assert answer.status_code == 401

    async def test_event_signature_is_not_a_fhir_signature(
        self, fhir_gateway: httpx.AsyncClient, producer_keys: Keys
    ) -> None:
        """A signature made for /v1/events (another context line) does not verify here."""
        raw = body(resource(ENCOUNTER))
        header = event_signature_header(raw, producer_keys[TRUST])
        answer = await fhir_gateway.post("/fhir/R4/Encounter", content=raw,
                                         headers={"content-type": FHIR_JSON,
                                                  "sgb-signature": header})  # fmt: skip
        assert answer.status_code == 401

    async def test_another_organisations_key_is_refused(
        self, fhir_gateway: httpx.AsyncClient, producer_keys: Keys
    ) -> None:
        """Signed by the mental health service's key: not the trust's, refused."""
        answer = await post_fhir(fhir_gateway, "Encounter", resource(ENCOUNTER),
                                 producer_keys["mh-demo"])  # fmt: skip
        assert answer.status_code == 401

    async def test_organisation_not_allowed_the_event_type_is_forbidden(
        self, fhir_gateway: httpx.AsyncClient, settings: Settings, producer_keys: Keys
    ) -> None:
        """A mental health service may not report ED attendances: 403, audited, whatever it
        signs."""
        answer = await post_fhir(fhir_gateway, "Encounter", resource(ENCOUNTER),
                                 producer_keys["mh-demo"], **{ACT_AS: "mh-demo"})  # fmt: skip
        assert answer.status_code == 403
        assert outcome_of(answer).issue[0].code == "forbidden"
        assert await rejected_at_the_gateway(settings) == ["EventNotPermitted"]
