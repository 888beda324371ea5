"""An example of every request body the HTTP APIs take, for their OpenAPI documents
(``openapi.complete`` puts each on its operation; ``openapi.faults`` names an operation with
a body and none). Keyed by ``METHOD path`` as the document spells the path. The people are
synthetic (NHS numbers from the 999 test range), the keys public keys made for these
examples, and tests/unit/test_openapi_examples.py checks each against its schema and model.

The events' own examples are schemas/examples.py's, put on ``/v1/events`` by the gateway.
"""

from typing import Any

from broker.entrypoints import fhir_examples

Examples = dict[str, dict[str, Any]]

# Public keys made for these examples alone: Ed25519 (signing) and X25519 (sealing).
SIGNING_KEY = "ZOc7gWue8eGcaBEdbr/Hp0ZvigTkonrUwI0CQ8DAs1U="
NEXT_SIGNING_KEY = "NHB16yppyl0TH8ePToGrIWyB+PFmtu72k6mCVD8eZ9U="
RECIPIENT_KEY = "zazgRuCMESZ/d6xMTQX4Losz+WKgxHDZnXlE0j4VbDg="
PEER_BROKER_KEY = "rU7VSPmjpbDFCNyqnvzbBDaJzfg/ENFv4yAfta5NAWE="
AREA = "E06000099"


def _one(summary: str, value: Any, description: str | None = None) -> Examples:
    example: dict[str, Any] = {"summary": summary, "value": value}
    if description:
        example["description"] = description
    return {"example": example}


TOKEN_FORM = _one(
    "A client assertion exchanged for an access token",
    {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": "eyJhbGciOiJFZERTQSIsImtpZCI6IjlhMGU2NjM4YzA5NzNjNTgifQ."
        "eyJpc3MiOiJtaC1kZW1vIiwic3ViIjoibWgtZGVtbyJ9.c2lnbmF0dXJl",
    },
    "The form fields, url-encoded; the assertion here is shortened (its signature is not real).",
)

# schemas/examples.py's first event, its exact bytes signed with a key made for the example.
SIGNED_EVENT = (
    '{"event_id":"5f0c4b1e-0000-4000-8000-000000000001","source_org":"mh-demo",'
    '"occurred_at":"2026-11-25T09:10:00Z","event_type":"parent_mental_health_crisis",'
    '"subject":{"nhs_number":"9990000018","given_name":"Dawn","family_name":"Carter"},'
    '"suicidal_ideation":true,"children_present":[{"nhs_number":"9990000158",'
    '"given_name":"Bella","family_name":"Carter"}]}'
)
BATCH = _one(
    "One signed event",
    [
        {
            "event": SIGNED_EVENT,
            "key_id": "9a0e6638c0973c58",
            "signature": "GMLu5KbbBf3ms/zN6uxyjq4+aEIqGRw4HOpEAHW2GdJGMgCBRXOFzgMuxL4CUYIE"
            "MOW0zwZyHaiCqrLjBgxiCQ==",
        }
    ],
    "Each event as the exact text its producer signed, with its key id and signature.",
)

ORGANISATION = {
    "id": "gp-elm",
    "name": "Elm Surgery",
    "kind": "gp_practice",
    "area": AREA,
    "phone": "01632 960001",
    "ods_code": "Y01234",
    "signing_keys": [{"public_key": SIGNING_KEY, "valid_from": "2026-12-01T00:00:00Z"}],
}
CONTACT = {
    "id": "gp-elm:safeguarding_lead",
    "org_id": "gp-elm",
    "role": "safeguarding_lead",
    "hpke_public_key": RECIPIENT_KEY,
    "daily_digest": True,
}
PERSON = {
    "id": "p-bella",
    "nhs_number": "9990000158",
    "given_name": "Bella",
    "family_name": "Carter",
    "date_of_birth": "2019-03-14",
    "preferred_language": "en",
}
HOUSEHOLD = {
    "id": "h-carter",
    "area": AREA,
    "members": [
        {"person_id": "p-dawn", "role": "parent_or_carer"},
        {"person_id": "p-bella", "role": "child"},
    ],
}
INVOLVEMENT = {"person_id": "p-dawn", "org_id": "mh-demo", "opened_on": "2026-10-01"}
PLAN = {
    "id": "plan-bella-1",
    "person_id": "p-bella",
    "kind": "child_in_need",
    "area": AREA,
    "started_on": "2026-09-01",
    "lead_professional": {
        "name": "Sam Social Worker",
        "role": "social worker",
        "org_id": "la-front-door",
        "phone": "01632 960100",
    },
}
REGISTRATION = {"person_id": "p-bella", "kind": "gp", "org_id": "gp-elm"}
RELATIONSHIP = {
    "person_id": "p-dawn",
    "kind": "parent_of",
    "related_person_id": "p-bella",
    "parental_responsibility": True,
}
PEER = {
    "id": "peer-newport",
    "name": "Newport Safeguarding Partnership broker",
    "areas": ["W06000022"],
    "gateway_url": "https://broker.newport.example/",
    "broker_key": PEER_BROKER_KEY,
    "signing_keys": [{"public_key": NEXT_SIGNING_KEY}],
    "known_there_as": "partnership-demo",
    "phone": "01633 000000",
}

EXAMPLES: dict[str, Examples] = {
    "POST /v1/oauth/token": TOKEN_FORM,
    "POST /v1/events/batch": BATCH,
    "POST /fhir/R4/Encounter": _one(
        "An ED attendance (UK Core Encounter)", fhir_examples.ENCOUNTER
    ),
    "POST /fhir/R4/Appointment": _one(
        "A child not brought to an appointment", fhir_examples.APPOINTMENT
    ),
    "POST /fhir/R4/Bundle": _one("A transaction Bundle of resources", fhir_examples.BUNDLE),
    "POST /v1/front-doors/{org_id}/matching-queue/{event_id}/match": _one(
        "The event's subject (position 0) is person p-dawn",
        {"links": [{"position": 0, "person_id": "p-dawn"}]},
    ),
    "POST /v1/front-doors/{org_id}/notices/{notice_id}/outcome": _one(
        "The front door decides on an assessment", {"outcome": "assessment"}
    ),
    "POST /v1/recipients/{recipient_id}/notices/{notice_id}/receipts": {
        "acknowledged": {
            "summary": "Acknowledged: read and acted on",
            "value": {"receipt": "acknowledged"},
        },
        "rejected": {
            "summary": "Rejected: not ours, with why",
            "value": {"receipt": "rejected", "reason": "The child left this school in July."},
        },
        "viewed": {"summary": "Viewed", "value": {"receipt": "viewed"}},
    },
    "POST /v1/recipients/{recipient_id}/notices/{notice_id}/conference": _one(
        "The transfer-in conference's date", {"conference_on": "2026-12-14"}
    ),
    "PUT /v1/admin/peers/{org_id}": _one("A neighbouring partnership's broker", PEER),
    "PUT /v1/admin/organisations/{org_id}": _one(
        "A GP practice with its signing key (held for a second administrator)", ORGANISATION
    ),
    "PUT /v1/admin/contacts/{contact_id}": _one(
        "A safeguarding lead with a recipient key (held for a second administrator)", CONTACT
    ),
    "PUT /v1/admin/people/{person_id}": _one("A child", PERSON),
    "PUT /v1/admin/households/{household_id}": _one("A mother and her child", HOUSEHOLD),
    "PUT /v1/admin/involvements/{person_id}/{org_id}/{opened_on}": _one(
        "A mental health service involved with the mother", INVOLVEMENT
    ),
    "PUT /v1/admin/plans/{plan_id}": _one("A child in need plan", PLAN),
    "PUT /v1/admin/registrations/{person_id}/{kind}": _one(
        "The child registered with a GP practice", REGISTRATION
    ),
    "PUT /v1/admin/relationships/{person_id}/{kind}/{related_person_id}": _one(
        "A mother with parental responsibility", RELATIONSHIP
    ),
    "POST /v1/admin/import": _one(
        "A whole directory in one transaction",
        {
            "organisations": [{k: v for k, v in ORGANISATION.items() if k != "signing_keys"}],
            "people": [PERSON],
            "registrations": [REGISTRATION],
        },
        "Keys are not changed in bulk: a record that would change keys is refused (409).",
    ),
    "PUT /v1/admin/contacts/{contact_id}/alert-channels": _one(
        "Alerts by email and text message",
        {"emails": ["safeguarding@elm-surgery.example"], "mobile": "07700 900123"},
    ),
}


def for_operation(method: str, path: str) -> Examples | None:
    return EXAMPLES.get(f"{method.upper()} {path}")
