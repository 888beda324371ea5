"""A schemathesis hook for the gateway's run (``st run`` loads it through SCHEMATHESIS_HOOKS):
each generated event names the calling organisation as its producer and is signed by it over
the exact bytes sent, so it meets the event validation and the acceptance behind the token
and the signature check, not only a 401 or 403.

- ``POST /v1/events``: the body is sent as the bytes the ``Sgb-Signature`` header signs. A
  case whose body or headers schemathesis made invalid on purpose keeps its producer, or its
  header, as generated: those cases are there to be refused.
- ``POST /v1/events/batch``: each item's event text, once it is a JSON object, is given the
  producer, and every item is signed.
- ``POST /fhir/R4/...``: the resource is sent as the bytes signed with the FHIR context
  (broker.services.fhir_proof), so it meets the FHIR validation rather than a 401.

An event given the producer also gets an id drawn from its content: generated events share a
few ids, and the same id with other content is only ever a 409, so without it barely any
would be published. The same content again keeps its id (a duplicate, 200).

The organisation and its signing key come from the environment: ``SGB_FUZZ_PRODUCER`` and
``SGB_FUZZ_PRODUCER_KEY``, a PEM file the test writes into its own tmp_path.
"""

import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import schemathesis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from schemathesis.core.parameters import ParameterLocation

from broker.services import fhir_proof
from producers import crypto
from producers.sdk import signature_header

PRODUCER = os.environ["SGB_FUZZ_PRODUCER"]


def _signing_key() -> Ed25519PrivateKey:
    key = crypto.read_private_key(Path(os.environ["SGB_FUZZ_PRODUCER_KEY"]))
    assert isinstance(key, Ed25519PrivateKey)
    return key


KEY = _signing_key()
EVENT_IDS = uuid.UUID("6f0b3c51-6a7e-4f55-9a1c-2d8f4b7e9a10")  # a namespace for uuid5


@schemathesis.hook
def before_call(
    context: schemathesis.HookContext, case: schemathesis.Case[Any], kwargs: dict[str, Any]
) -> None:
    path, body = case.operation.path, case.body
    if path == "/v1/events" and isinstance(body, dict):
        event = body if _made_invalid(case, ParameterLocation.BODY) else as_producer(body)
        _send_signed(case, event, kwargs, lambda data: signature_header(data, KEY))
    elif path.startswith("/fhir/R4/") and isinstance(body, dict):
        _send_signed(case, body, kwargs, lambda data: fhir_proof.signature_header(KEY, data))
    elif path == "/v1/events/batch" and isinstance(body, list):
        case.body = [_signed_item(item) for item in body]


def _send_signed(
    case: schemathesis.Case[Any],
    body: dict[str, Any],
    kwargs: dict[str, Any],
    signed: Callable[[bytes], str],
) -> None:
    """The body sent as exactly the bytes signed, the signature in Sgb-Signature."""
    case.body = body
    data = json.dumps(body).encode()
    kwargs["data"] = data
    if not _made_invalid(case, ParameterLocation.HEADER):
        case.headers["Sgb-Signature"] = signed(data)


def _made_invalid(case: schemathesis.Case[Any], location: ParameterLocation) -> bool:
    return case.meta is not None and case.meta.is_negative_at(location)


def _signed_item(item: Any) -> Any:
    if not isinstance(item, dict) or not isinstance(item.get("event"), str):
        return item
    text = item["event"]
    try:
        event = json.loads(text)
    except ValueError:
        event = None
    if isinstance(event, dict):
        text = json.dumps(as_producer(event))
    signature = crypto.b64encode(crypto.sign_event_bytes(KEY, text.encode()))
    key_id = crypto.key_id(KEY.public_key())
    return {**item, "event": text, "key_id": key_id, "signature": signature}


def as_producer(event: dict[str, Any]) -> dict[str, Any]:
    """The event as the producer's, its id drawn from the rest of its content."""
    rest = {**event, "source_org": PRODUCER}
    rest.pop("event_id", None)
    content = json.dumps(rest, sort_keys=True, default=str)
    return {"event_id": str(uuid.uuid5(EVENT_IDS, content)), **rest}
