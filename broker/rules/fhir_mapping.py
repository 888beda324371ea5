"""FHIR R4 (UK Core) resources to the broker's events. Pure: no I/O, no clock.

An ``Encounter`` of class EMER becomes an ``EdAttendance``; an ``Appointment`` whose status
is an outcome (``fulfilled``, ``noshow``, or ``cancelled`` by the patient's side) becomes an
``AppointmentOutcome``; a ``Bundle`` (``transaction`` or ``collection``) carries either, with
``Patient`` entries they refer to. The codes understood are the tables of
``broker.rules.fhir_codes``. Anything else raises ``FhirRejected`` with one ``Issue`` per
resource at fault, each naming the field (a FHIRPath) and never quoting a value.

Resources are parsed with ``fhir.resources``' R4B models: the maintained release (8.x, on
pydantic 2) ships R5, R4B and STU3 only, and R4B (4.3.0) left Encounter, Appointment, Patient
and Bundle as R4 (4.0.1) had them, so an R4 resource parses unchanged.

The event id is derived, not drawn: a UUIDv5 of the sending organisation, the resource type
and the resource's first identifier (or its id, or its Bundle fullUrl). Sending the same
resource again is the same event, answered as a duplicate.

Exceptions::

    FhirRejected        the body is not a resource the broker takes (issues say why)
"""

import json
import uuid
from typing import Any, Final

from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.resource import Resource
from pydantic import ValidationError

from broker.rules.fhir_resources import (
    FhirRejected,
    Refused,
    appointment_outcome,
    ed_attendance,
)
from schemas.events import AppointmentOutcome, EdAttendance, Event

EVENT_ID_NAMESPACE: Final = uuid.UUID("5b1f0c3e-6a57-4f0e-9d7e-2f3c1a8e4b60")
ENDPOINTS: Final = ("Encounter", "Appointment", "Bundle")
BUNDLE_TYPES: Final = frozenset({"transaction", "collection"})
# Each event of a Bundle carries the whole Bundle as its proof, on Kafka and to the router,
# which maps it again: a bound on entries bounds both (split a larger feed).
MAX_ENTRIES: Final = 100


def events_from_fhir(body: bytes, endpoint: str, source_org: str) -> list[Event]:
    """The events a FHIR body posted at ``/fhir/R4/<endpoint>`` carries, in the body's order."""
    try:
        data = _json_object(body, endpoint)
        if endpoint == "Bundle":
            return _bundle_events(data, source_org)
        return [_resource_event(_parsed(data, endpoint, endpoint), endpoint, source_org, {})]
    except Refused as refused:
        raise FhirRejected([refused.issue]) from None


def _json_object(body: bytes, endpoint: str) -> dict[str, Any]:
    if endpoint not in ENDPOINTS:
        raise Refused("not-supported", endpoint, "the broker takes Encounter, Appointment, Bundle")
    try:
        data = json.loads(body.decode("utf-8"))  # FHIR's JSON is UTF-8, and the proof keeps it so
    except ValueError:  # UnicodeDecodeError included
        raise Refused("structure", endpoint, "the body is not JSON in UTF-8") from None
    if not isinstance(data, dict):
        raise Refused("structure", endpoint, "the body is not a FHIR resource (a JSON object)")
    if data.get("resourceType") != endpoint:
        raise Refused("invalid", f"{endpoint}.resourceType",
                       f"a resource posted here must be a {endpoint}")  # fmt: skip
    return data


_MODELS: Final[dict[str, type[Resource]]] = {
    "Encounter": Encounter, "Appointment": Appointment, "Bundle": Bundle, "Patient": Patient,
}  # fmt: skip


def _parsed(data: dict[str, Any], resource_type: str, where: str) -> Resource:
    try:
        return _MODELS[resource_type].model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise Refused("invalid", fhir_path(where, first["loc"]), _safe_message(first)) from None


def fhir_path(where: str, loc: tuple[int | str, ...]) -> str:
    """A validator's location as FHIRPath: ``entry.1.resource`` is ``entry[1].resource``."""
    return where + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)


def _safe_message(error: Any) -> str:
    """The validator's message unless it quotes the value sent (then only the error's type)."""
    value, message = error.get("input"), str(error["msg"])
    quoted = isinstance(value, str | int) and str(value) and str(value) in message
    return f"not valid ({error['type']})" if quoted else message


def _bundle_events(data: dict[str, Any], source_org: str) -> list[Event]:
    """Every Encounter and Appointment in the Bundle, or FhirRejected naming each entry at
    fault: a Bundle is accepted whole or not at all."""
    bundle = _parsed(data, "Bundle", "Bundle")
    assert isinstance(bundle, Bundle)
    if bundle.type not in BUNDLE_TYPES:
        raise Refused("not-supported", "Bundle.type", "a Bundle must be a transaction or a "
                       "collection")  # fmt: skip
    entries = bundle.entry or []
    if not entries:
        raise Refused("required", "Bundle.entry", "the Bundle has no entries")
    if len(entries) > MAX_ENTRIES:
        message = f"a Bundle holds at most {MAX_ENTRIES} entries: split it"
        raise Refused("too-costly", "Bundle.entry", message)
    patients = {e.fullUrl: e.resource for e in entries
                if isinstance(e.resource, Patient) and e.fullUrl}  # fmt: skip
    events, issues = [], []
    for index, entry in enumerate(entries):
        where = f"Bundle.entry[{index}]"
        try:
            events += _entry_event(entry, where, source_org, patients)
        except Refused as refused:
            issues.append(refused.issue)
    if issues:
        raise FhirRejected(issues)
    if not events:
        raise Refused("required", "Bundle.entry", "the Bundle holds no Encounter or Appointment")
    return events


def _entry_event(
    entry: Any, where: str, source_org: str, patients: dict[str, Patient]
) -> list[Event]:
    resource = entry.resource
    if resource is None:
        raise Refused("required", f"{where}.resource", "each entry needs its resource")
    if entry.request is not None and entry.request.method != "POST":
        raise Refused("not-supported", f"{where}.request.method", "entries are created (POST)")
    if isinstance(resource, Patient):
        return []  # the person an Encounter or Appointment refers to, not an event
    kind = resource.get_resource_type()
    if kind not in ("Encounter", "Appointment"):
        raise Refused("not-supported", f"{where}.resource",
                       "the broker takes Encounter, Appointment and Patient entries")  # fmt: skip
    return [_resource_event(resource, f"{where}.resource", source_org, patients, entry.fullUrl)]


def _resource_event(
    resource: Resource,
    where: str,
    source_org: str,
    patients: dict[str, Patient],
    full_url: str | None = None,
) -> Event:
    event_id = _event_id(resource, where, source_org, full_url)
    if isinstance(resource, Encounter):
        fields = ed_attendance(resource, where, patients)
        return _built(EdAttendance, where, event_id, source_org, fields)
    assert isinstance(resource, Appointment)
    fields = appointment_outcome(resource, where, patients)
    return _built(AppointmentOutcome, where, event_id, source_org, fields)


def _built(
    model: type[EdAttendance] | type[AppointmentOutcome],
    where: str,
    event_id: uuid.UUID,
    source_org: str,
    fields: dict[str, Any],
) -> Event:
    try:
        return model(event_id=event_id, source_org=source_org, **fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise Refused("invalid", where, f"maps to an event whose {field} is not valid "
                       f"({first['type']})") from None  # fmt: skip


def _event_id(resource: Resource, where: str, source_org: str, full_url: str | None) -> uuid.UUID:
    identifiers = [i for i in getattr(resource, "identifier", None) or [] if i.value]
    if identifiers:
        name = f"{identifiers[0].system or ''}|{identifiers[0].value}"
    elif resource.id or full_url:
        name = f"id|{resource.id or full_url}"
    else:
        raise Refused("required", f"{where}.identifier",
                       "give the resource an identifier (or an id) so that sending it again "
                       "is known as the same")  # fmt: skip
    kind = resource.get_resource_type()
    return uuid.uuid5(EVENT_ID_NAMESPACE, f"{source_org}|{kind}|{name}")
