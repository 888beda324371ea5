"""The gateway's FHIR R4 routes, answered in FHIR: ``POST /fhir/R4/Encounter``,
``/fhir/R4/Appointment`` and ``/fhir/R4/Bundle`` (``application/fhir+json``, 415 otherwise).

Authentication is the gateway's (a private_key_jwt access token with the publish scope); the
body is signed as ``broker.services.fhir_proof`` says, in ``Sgb-Signature``. Answers:

- an Encounter or Appointment: 202 and an informational ``OperationOutcome`` naming the event
  id; 200 when the same resource was accepted before (a duplicate);
- a Bundle: 200 and a ``transaction-response`` Bundle, one entry per entry sent, in order:
  ``202 Accepted`` or ``200 OK`` (a duplicate) with ``location`` ``urn:uuid:<event id>``, and
  ``200 OK`` for a Patient entry (the person an event refers to, not an event itself);
- refused: an ``OperationOutcome`` of error issues, each naming the field at fault (a FHIRPath)
  and never quoting a value: 422 a resource the broker does not take, 401 a missing or bad
  signature, 403 an event type the organisation may not publish, 409 a resource accepted
  before with other content, 413 a body over 256 KiB, 415 not ``application/fhir+json``, 503
  Kafka did not take it (nothing was accepted; send it again).

Where each status is decided is this module's ``answer``; the mapping is
``broker.rules.fhir_mapping``, what accepting means ``broker.services.fhir_intake``.
"""

import json
from collections.abc import Callable, Sequence
from typing import Any, Final

import structlog
from fastapi import Request, Response

from broker.errors import EnvelopeError, EventNotPermitted, PublishFailed
from broker.rules.fhir_resources import FhirRejected, Issue
from broker.services.acceptance import Accepted, Conflict
from broker.services.fhir_intake import FhirIntake

log = structlog.get_logger(__name__)
MEDIA_TYPE: Final = "application/fhir+json"
ENDPOINTS: Final = ("Encounter", "Appointment", "Bundle")
# Each event carries the body as its proof, sealed and base64-encoded in one Kafka record of at
# most 1 MiB (aiokafka's and Kafka's default): 256 KiB leaves room for JSON escaping (x2 at
# worst) and base64 (x4/3).
MAX_BODY: Final = 256 * 1024
HeaderParser = Callable[[str | None], tuple[str, bytes]]

OPENAPI_BODY: Final[dict[str, Any]] = {
    "requestBody": {
        "required": True,
        "content": {MEDIA_TYPE: {"schema": {"type": "object", "required": ["resourceType"]}}},
    }
}
_OUTCOME = {"description": "a FHIR OperationOutcome", "content": {MEDIA_TYPE: {}}}
_CODES = (200, 401, 403, 409, 413, 415, 422, 503)
RESPONSES: Final[dict[int | str, dict[str, Any]]] = dict.fromkeys(_CODES, _OUTCOME)


async def answer(
    request: Request, endpoint: str, org_id: str, signature_header: str | None,
    parse_header: HeaderParser,
) -> Response:  # fmt: skip
    """The HTTP answer to one FHIR body posted at ``/fhir/R4/<endpoint>``."""
    intake: FhirIntake = request.app.state.fhir_intake
    if not is_fhir_json(request.headers.get("content-type")):
        return refusal(415, "not-supported", endpoint, f"send the body as {MEDIA_TYPE}")
    body = await request.body()
    if len(body) > MAX_BODY:
        return refusal(413, "too-costly", endpoint, "a body is at most 256 KiB: split the Bundle")
    try:
        key_id, signature = parse_header(signature_header)
        results = await intake.accept(endpoint, body, org_id, key_id, signature)
    except FhirRejected as exc:
        log.info("fhir_refused", endpoint=endpoint, issues=len(exc.issues))
        return outcome(422, exc.issues)
    except EnvelopeError as exc:
        log.warning("fhir_signature_rejected", reason=type(exc).__name__)
        await intake.record_rejection(request.url.path, type(exc).__name__)
        if isinstance(exc, EventNotPermitted):
            return refusal(403, "forbidden", endpoint, str(exc))
        return refusal(401, "security", "Sgb-Signature", str(exc))
    except Conflict:
        return refusal(409, "conflict", endpoint, "this resource was accepted before with other "
                       "content; an amended attendance needs its own identifier")  # fmt: skip
    except PublishFailed:
        log.error("fhir_not_published")
        return refusal(503, "transient", endpoint, "not handed to Kafka: nothing was accepted, "
                       "send it again")  # fmt: skip
    if endpoint == "Bundle":
        return fhir_response(200, transaction_response(body, results))
    [result] = results
    return fhir_response(202 if result.status == "accepted" else 200, accepted_outcome(result))


def is_fhir_json(content_type: str | None) -> bool:
    return (content_type or "").split(";")[0].strip().lower() == MEDIA_TYPE


def fhir_response(status_code: int, resource: dict[str, Any]) -> Response:
    return Response(json.dumps(resource), status_code=status_code, media_type=MEDIA_TYPE)


def outcome(status_code: int, issues: Sequence[Issue]) -> Response:
    return fhir_response(status_code, {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": i.code, "diagnostics": i.diagnostics,
                   "expression": [i.expression]} for i in issues],
    })  # fmt: skip


def refusal(status_code: int, code: str, expression: str, diagnostics: str) -> Response:
    return outcome(status_code, [Issue(code, expression, diagnostics)])


def accepted_outcome(result: Accepted) -> dict[str, Any]:
    said = "accepted" if result.status == "accepted" else "already accepted (a duplicate)"
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "information", "code": "informational",
                   "diagnostics": f"{said} as event {result.event_id}"}],
    }  # fmt: skip


def transaction_response(body: bytes, results: Sequence[Accepted]) -> dict[str, Any]:
    """One response entry per entry sent: the mapping took them all, in order, Patients
    being the only entries that are not events."""
    answers = iter(results)
    entries: list[dict[str, Any]] = []
    for entry in json.loads(body)["entry"]:
        if entry["resource"]["resourceType"] == "Patient":
            entries.append({"response": {"status": "200 OK"}})
            continue
        result = next(answers)
        status = "202 Accepted" if result.status == "accepted" else "200 OK"
        entries.append({"response": {"status": status, "location": f"urn:uuid:{result.event_id}",
                                     "outcome": accepted_outcome(result)}})  # fmt: skip
    return {"resourceType": "Bundle", "type": "transaction-response", "entry": entries}
