"""The HTTP gateway: agencies without a Kafka client post events here.

``POST /v1/events`` takes one event, ``POST /v1/events/batch`` a list. The answer is 202 with
the event id once Kafka has acknowledged the sealed event (acks=all, idempotent producer);
posting the same event again is safe and answered 200 with status "duplicate"; reusing an
event id for different content is a 409. Invalid input gets a 422 naming each field at fault
and what is wrong with it, never echoing the value sent. What accepting an event means is
``broker.services.acceptance``; this module is the HTTP around it. A peer broker pushes the
transfers of families moving here to ``POST /v1/peers/transfers`` (``peer_transfers``).
"""

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated

import structlog
from fastapi import Body, FastAPI, Header, Request, status
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from broker.adapters.accepted_events import SqlAcceptanceRecords
from broker.adapters.kafka import Topics, ensure_topics
from broker.adapters.peer_transfers import SqlPeerTransfers
from broker.bootstrap import Foundation, foundation
from broker.config import Settings
from broker.entrypoints import auth, fhir_http
from broker.entrypoints.app import ErrorTable, Process, create_app
from broker.entrypoints.http_errors import (
    FieldError,
    detail,
    field_error,
    responses,
    unprocessable,
    validation_errors,
)
from broker.errors import EnvelopeError, EventNotPermitted, PublishFailed, SignatureInvalid
from broker.keys import PROCESS_KEYS
from broker.services import peer_transfers
from broker.services.acceptance import Acceptance, Accepted, Conflict, check_own
from broker.services.fhir_intake import FhirIntake
from producers import crypto
from producers.sdk import EventPublisher
from schemas.events import Event, EventAdapter
from schemas.examples import openapi_examples
from schemas.peers import TRANSFERS_PATH, TransferAccepted

log = structlog.get_logger(__name__)
MAX_BATCH = 500


class BatchAccepted(BaseModel):
    results: list[Accepted]


# Beside the 202 (accepted), what the event routes answer (ERRORS): the same again is a 200.
EVENT_ANSWERS = {
    status.HTTP_200_OK: {"model": Accepted, "description": "the same event again: duplicate"},
    **responses(409, 503),
}
TRANSFER_ANSWERS = {
    status.HTTP_200_OK: {"model": TransferAccepted, "description": "the same transfer again"},
    **responses(409),
}


def create_gateway(settings: Settings | None = None) -> FastAPI:
    """The shared app shape (create_app) on the foundation, with the gateway's own event
    publisher opened beside it and its routes."""
    process = Process(PROCESS_KEYS["gateway"], foundation, _open_acceptance)
    app = create_app("Safeguarding broker: event gateway", settings or Settings(), process,
                     errors=ERRORS, description=__doc__ or "")  # fmt: skip

    @app.post("/v1/events", status_code=status.HTTP_202_ACCEPTED, response_model=Accepted,
              responses=EVENT_ANSWERS)  # fmt: skip
    async def post_event(
        request: Request,
        caller: auth.Publisher,
        event: Annotated[Event, Body(openapi_examples=openapi_examples())],
        sgb_signature: Annotated[str | None, Header()] = None,
    ) -> JSONResponse:
        """One event, signed in the Sgb-Signature header over the exact body bytes."""
        acceptance = _acceptance(request)
        check_own(caller.org_id, [event])
        key_id, signature = parse_signature_header(sgb_signature)
        signed = await acceptance.verified(event, await request.body(), key_id, signature)
        [result] = await acceptance.accept([(event, signed)])
        code = 202 if result.status == "accepted" else 200
        return JSONResponse(result.model_dump(mode="json"), status_code=code)

    @app.post("/v1/events/batch", status_code=status.HTTP_202_ACCEPTED,
              response_model=BatchAccepted, responses=responses(409, 503))  # fmt: skip
    async def post_batch(
        request: Request,
        caller: auth.Publisher,
        items: Annotated[list[SignedSubmission], Body(min_length=1, max_length=MAX_BATCH)],
    ) -> BatchAccepted:
        """Several events, each as its exact JSON text with its signature."""
        acceptance = _acceptance(request)
        events = _parsed(items)
        check_own(caller.org_id, events)
        pairs = []
        for event, item in zip(events, items, strict=True):
            signature = crypto.b64decode(item.signature)
            signed = await acceptance.verified(event, item.event.encode(), item.key_id, signature)
            pairs.append((event, signed))
        return BatchAccepted(results=await acceptance.accept(pairs))

    for endpoint in fhir_http.ENDPOINTS:  # FHIR R4 inputs (broker.entrypoints.fhir_http)
        app.add_api_route(f"/fhir/R4/{endpoint}", _fhir_route(endpoint), methods=["POST"],
                          status_code=status.HTTP_202_ACCEPTED, tags=["FHIR R4"],
                          summary=f"A FHIR R4 {endpoint}", responses=fhir_http.RESPONSES,
                          openapi_extra=fhir_http.OPENAPI_BODY)  # fmt: skip

    @app.post(TRANSFERS_PATH, status_code=status.HTTP_202_ACCEPTED,
              response_model=TransferAccepted, responses=TRANSFER_ANSWERS)  # fmt: skip
    async def post_transfer(
        request: Request,
        caller: auth.Publisher,
        webhook_id: Annotated[str, Header(max_length=64)],
        webhook_timestamp: Annotated[int, Header()],
        webhook_signature: Annotated[str, Header(max_length=1000)],
        sgb_signing_key_id: Annotated[str, Header(max_length=64)],
    ) -> JSONResponse:
        """A peer broker's transfer: its sealed notice, pushed as its webhooks are (Standard
        Webhooks headers, signed with the peer's key) with the peer's access token. 202 once
        kept, 200 "duplicate" for the same transfer again, 409 for another under its id;
        applied by the router (broker.services.peer_transfers)."""
        push = peer_transfers.Push(webhook_id, webhook_timestamp, webhook_signature,
                                   sgb_signing_key_id, await request.body())  # fmt: skip
        records = SqlPeerTransfers(_rt(request).sessions)
        result = await peer_transfers.receive(records, caller.org_id, push, datetime.now(UTC))
        code = 202 if result.status == "accepted" else 200
        return JSONResponse(result.model_dump(mode="json"), status_code=code)

    return app


def _fhir_route(endpoint: str) -> Callable[..., Awaitable[Response]]:
    async def post_fhir(
        request: Request,
        caller: auth.Publisher,
        sgb_signature: Annotated[str | None, Header()] = None,
    ) -> Response:
        """A UK Core resource (application/fhir+json), signed in the Sgb-Signature header over
        the exact body bytes (broker.services.fhir_proof)."""
        return await fhir_http.answer(request, endpoint, caller.org_id, sgb_signature,
                                      parse_signature_header)  # fmt: skip

    return post_fhir


@asynccontextmanager
async def _open_acceptance(app: FastAPI, rt: Foundation) -> AsyncIterator[None]:
    """The topics made sure of and the gateway's publisher started, for as long as it serves.

    The gateway is the broker's: its record keys are the broker's person pseudonyms, as the
    front door's are when it publishes a matched event again.
    """
    config = rt.settings
    topics = Topics.with_prefix(config.topic_prefix)
    await ensure_topics(config.kafka_bootstrap_servers, topics, config.topics,
                        config.kafka_security)  # fmt: skip
    publisher = EventPublisher(config.kafka_bootstrap_servers, rt.keys.public,
                               topic_prefix=config.topic_prefix, security=config.kafka_security,
                               record_key_secret=rt.keys.pseudonym_secret)  # fmt: skip
    async with publisher:
        records = SqlAcceptanceRecords(rt.sessions)
        app.state.acceptance = Acceptance(records, publisher)
        app.state.fhir_intake = FhirIntake(app.state.acceptance, records)
        yield


def _rt(request: Request) -> Foundation:
    rt: Foundation = request.app.state.rt
    return rt


def _acceptance(request: Request) -> Acceptance:
    acceptance: Acceptance = request.app.state.acceptance
    return acceptance


SIGNATURE_HEADER_FORM = "keyid=<key id>, sig=<base64 Ed25519 signature of the body>"


class SignedSubmission(BaseModel):
    model_config = ConfigDict(extra="forbid")
    event: str = Field(min_length=2, description="the event's JSON text, exactly as signed")
    key_id: str = Field(min_length=1, max_length=64)
    signature: str = Field(min_length=1, max_length=200)


class InvalidSubmission(Exception):
    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors


def parse_signature_header(value: str | None) -> tuple[str, bytes]:
    """``keyid=<id>, sig=<base64>`` into the key id and the signature's bytes."""
    fields = dict(part.strip().split("=", 1) for part in (value or "").split(",") if "=" in part)
    if "keyid" not in fields or "sig" not in fields:
        raise SignatureInvalid(f"sign each event: Sgb-Signature: {SIGNATURE_HEADER_FORM}")
    return fields["keyid"], crypto.b64decode(fields["sig"])


def _parsed(items: Sequence[SignedSubmission]) -> list[Event]:
    events, errors = [], []
    for index, item in enumerate(items):
        try:
            # Strict, as the single event's body is (json_bodies.py): as its JSON Schema says.
            events.append(EventAdapter.validate_json(item.event, strict=True))
        except ValidationError as exc:
            errors += validation_errors(exc.errors(), "body", str(index), "event")
    if errors:
        raise InvalidSubmission(errors)
    return events


async def _conflict(_request: Request, _exc: Conflict) -> JSONResponse:
    return detail(status.HTTP_409_CONFLICT, "this event id was already used for a different event")


async def _unavailable(_request: Request, _exc: PublishFailed) -> JSONResponse:
    log.error("event_not_published")
    message = "the event could not be handed to Kafka; it was not accepted, retry"
    return detail(status.HTTP_503_SERVICE_UNAVAILABLE, message)


async def _unsigned(request: Request, exc: EnvelopeError) -> JSONResponse:
    """401 for a missing or bad signature; 403 for an event the organisation may not send."""
    log.warning("event_signature_rejected", reason=type(exc).__name__)
    code = 403 if isinstance(exc, EventNotPermitted) else status.HTTP_401_UNAUTHORIZED
    await _acceptance(request).record_rejection(request.url.path, type(exc).__name__)
    return detail(code, str(exc))


async def _invalid(_request: Request, exc: InvalidSubmission) -> JSONResponse:
    return unprocessable(exc.errors)


async def _not_a_transfer(_request: Request, exc: peer_transfers.NotATransfer) -> JSONResponse:
    # The broker's own wording: what is wrong, never what was sent.
    return unprocessable([field_error("body", str(exc), "not_a_transfer")])


async def _transfer_conflict(_request: Request, exc: peer_transfers.Conflict) -> JSONResponse:
    return detail(status.HTTP_409_CONFLICT, str(exc))


ERRORS: ErrorTable = {
    Conflict: _conflict,
    PublishFailed: _unavailable,
    EnvelopeError: _unsigned,
    InvalidSubmission: _invalid,
    peer_transfers.NotATransfer: _not_a_transfer,
    peer_transfers.Conflict: _transfer_conflict,
}
