"""The hand-written UK Core resources under ``resources/``, loaded and varied for a test."""

import copy
import json
from functools import cache
from typing import Any

from broker.entrypoints import fhir_examples
from broker.services.fhir_proof import signature_header

HERE = fhir_examples.HERE
ENCOUNTER = "encounter_ed_baby_bruising.json"
NOT_BROUGHT = "appointment_not_brought.json"
CANCELLED = "appointment_cancelled_by_parent.json"
BUNDLE = "bundle_transaction.json"
FHIR_JSON = "application/fhir+json"


@cache
def _loaded(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((HERE / name).read_text())
    return data


def resource(name: str) -> dict[str, Any]:
    """A fresh copy of one example, to change freely."""
    return copy.deepcopy(_loaded(name))


def body(data: dict[str, Any]) -> bytes:
    """As a sender's file would hold it: indented, ending in a newline (all of it signed)."""
    return json.dumps(data, indent=2).encode() + b"\n"


def snomed(code: str) -> list[dict[str, Any]]:
    """A reasonCode of one SNOMED CT coding."""
    return [{"coding": [{"system": "http://snomed.info/sct", "code": code}]}]


async def post_fhir(
    client: Any, endpoint: str, data: dict[str, Any] | bytes, key: Any, **headers: str
) -> Any:
    """Posts a FHIR body to the gateway, signed over its exact bytes with ``key``."""
    raw = data if isinstance(data, bytes) else body(data)
    sent = {"content-type": FHIR_JSON, "sgb-signature": signature_header(key, raw)} | headers
    return await client.post(f"/fhir/R4/{endpoint}", content=raw, headers=sent)
