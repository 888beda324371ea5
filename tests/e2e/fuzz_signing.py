"""A schemathesis hook for the API fuzzing's runs (``st run`` loads it through
SCHEMATHESIS_HOOKS). On the gateway, each generated case is sent as a demo organisation that
may publish what it carries, with that
organisation's access token, and each event names it as its producer and is signed by it over
the exact bytes sent, so it meets the event validation and the acceptance behind the token
and the signature check, not only a 401 or 403.

- Who sends a case: per event type, the first demo organisation (broker.fixtures.partnership)
  whose kind may publish it (broker.rules.authorisation); for a batch, the first that may
  publish the most of its items' types (a batch is one caller's); for the FHIR routes, whose
  events are ED attendances and appointment outcomes, one that may publish both. A case
  carrying no event type it knows goes as the first organisation. Each one's token is asked
  of the gateway's own token endpoint, and asked again before its five minutes are out.
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

The test passes through the environment ``SGB_FUZZ_KEYS``, a folder of ``<organisation>.pem``
signing keys it writes into its own tmp_path, and ``SGB_FUZZ_TOKEN_URL``, the API's token
endpoint. The inbox's and the admin API's runs load the hook too, with ``SGB_FUZZ_CALLER``
naming the one organisation their cases go as: only for its token, kept fresh.
"""

import functools
import json
import math
import os
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import httpx
import schemathesis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from schemathesis.core.parameters import ParameterLocation

from broker.fixtures.partnership import ORGANISATIONS
from broker.rules.authorisation import MAY_PUBLISH
from broker.rules.family import OrgKind
from broker.services import fhir_proof
from producers import auth, crypto
from producers.sdk import signature_header
from schemas.events import EventType

KEYS = Path(os.environ["SGB_FUZZ_KEYS"])
TOKEN_URL = os.environ["SGB_FUZZ_TOKEN_URL"]
CALLER = os.environ.get("SGB_FUZZ_CALLER")  # every case as this organisation, if set
KINDS = {org: OrgKind(kind) for org, _, kind in ORGANISATIONS}
# Keyed by the plain text a generated event carries.
PUBLISHERS = {event_type.value: kinds for event_type, kinds in MAY_PUBLISH.items()}
FHIR_EVENTS = (EventType.ED_ATTENDANCE.value, EventType.APPOINTMENT_OUTCOME.value)
TOKEN_REUSE_S = 240  # the gateway's tokens last 300 s
_TOKENS: dict[str, tuple[str, float]] = {}  # by organisation: the token, when fetched
EVENT_IDS = uuid.UUID("6f0b3c51-6a7e-4f55-9a1c-2d8f4b7e9a10")  # a namespace for uuid5


@schemathesis.hook
def before_call(
    context: schemathesis.HookContext, case: schemathesis.Case[Any], kwargs: dict[str, Any]
) -> None:
    path, body = case.operation.path, case.body
    org = CALLER or publisher(_event_types(path, body))
    key = signing_key(org)
    case.headers["Authorization"] = f"Bearer {access_token(org)}"
    if path == "/v1/events" and isinstance(body, dict):
        event = body if _made_invalid(case, ParameterLocation.BODY) else as_producer(body, org)
        _send_signed(case, event, kwargs, lambda data: signature_header(data, key))
    elif path.startswith("/fhir/R4/") and isinstance(body, dict):
        _send_signed(case, body, kwargs, lambda data: fhir_proof.signature_header(key, data))
    elif path == "/v1/events/batch" and isinstance(body, list):
        case.body = [_signed_item(item, org, key) for item in body]


def publisher(event_types: Iterable[object]) -> str:
    """The first demo organisation that may publish the most of these event types (what is
    not an event type counts for none)."""
    allowed = [PUBLISHERS[t] for t in event_types if isinstance(t, str) and t in PUBLISHERS]
    return max(KINDS, key=lambda org: sum(KINDS[org] in kinds for kinds in allowed))


def _event_types(path: str, body: Any) -> list[object]:
    """The event types a case carries, as generated."""
    if path.startswith("/fhir/R4/"):
        return list(FHIR_EVENTS)
    batch = path == "/v1/events/batch" and isinstance(body, list)
    events = [_item_event(item) for item in body] if batch else [body]
    return [event.get("event_type") for event in events if isinstance(event, dict)]


@functools.cache
def signing_key(org: str) -> Ed25519PrivateKey:
    key = crypto.read_private_key(KEYS / f"{org}.pem")
    assert isinstance(key, Ed25519PrivateKey)
    return key


def access_token(org: str) -> str:
    """The organisation's token from the gateway's own endpoint, asked again before its five
    minutes are out (a run takes one to three, longer on a loaded machine)."""
    token, fetched = _TOKENS.get(org, ("", -math.inf))
    if time.monotonic() - fetched > TOKEN_REUSE_S:
        token = _fetch_token(org)
        _TOKENS[org] = (token, time.monotonic())
    return token


def _fetch_token(org: str) -> str:
    with httpx.Client() as client:
        answer = client.send(auth.token_request(httpx.URL(TOKEN_URL), org, signing_key(org)))
    answer.raise_for_status()
    return str(answer.json()["access_token"])


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


def _item_event(item: Any) -> Any:
    """A batch item's event, when its text is JSON."""
    if not isinstance(item, dict) or not isinstance(item.get("event"), str):
        return None
    try:
        return json.loads(item["event"])
    except ValueError:
        return None


def _signed_item(item: Any, org: str, key: Ed25519PrivateKey) -> Any:
    if not isinstance(item, dict) or not isinstance(item.get("event"), str):
        return item
    event = _item_event(item)
    text = json.dumps(as_producer(event, org)) if isinstance(event, dict) else item["event"]
    signature = crypto.b64encode(crypto.sign_event_bytes(key, text.encode()))
    key_id = crypto.key_id(key.public_key())
    return {**item, "event": text, "key_id": key_id, "signature": signature}


def as_producer(event: dict[str, Any], org: str) -> dict[str, Any]:
    """The event as the organisation's, its id drawn from the rest of its content."""
    rest = {**event, "source_org": org}
    rest.pop("event_id", None)
    content = json.dumps(rest, sort_keys=True, default=str)
    return {"event_id": str(uuid.uuid5(EVENT_IDS, content)), **rest}
