"""How a FHIR body is signed, and how the events mapped from it keep it as their proof.

Signing (what a sender does, in any language)::

    signed bytes  = b"sgb/fhir-signature/v1\\n" + <the exact HTTP body bytes>
    signature     = Ed25519(organisation's signing key, signed bytes)      (64 bytes)
    key id        = first 16 hex digits of SHA-256(<the 32-byte raw Ed25519 public key>)
    header        Sgb-Signature: keyid=<key id>, sig=<base64 of the signature>

The context line differs from an event's (``sgb/event-signature/v1``) so that neither signature
can be presented as the other. The body is signed as sent: no canonical JSON, no re-ordering;
whitespace and key order are part of what is signed.

Proof: each event the gateway maps from the body is published with the body itself, its
endpoint and the signature (``schemas.transport.SignedEvent.fhir``). The router checks the
signature over the body with the organisation's key and maps the body again
(``broker.rules.fhir_mapping``): the event must be one the body yields, field for field. An
event can so claim nothing the organisation did not sign, as with a native event.
"""

import functools

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from producers import crypto
from producers.envelopes import verified_event
from producers.errors import EventMismatch, SignatureInvalid
from schemas.events import Event, EventAdapter
from schemas.transport import EventHeader, SignedEvent, SignedFhir

FHIR_SIGNATURE_CONTEXT = b"sgb/fhir-signature/v1\n"


def sign_fhir_body(key: Ed25519PrivateKey, body: bytes) -> bytes:
    """A sender's signature over a FHIR body exactly as it will post it."""
    return key.sign(FHIR_SIGNATURE_CONTEXT + body)


def signature_header(key: Ed25519PrivateKey, body: bytes) -> str:
    """The ``Sgb-Signature`` header for a FHIR body, as a Python sender would make it."""
    signature = crypto.b64encode(sign_fhir_body(key, body))
    return f"keyid={crypto.key_id(key.public_key())}, sig={signature}"


def verify_fhir_body(key: Ed25519PublicKey, body: bytes, signature: bytes) -> None:
    try:
        key.verify(signature, FHIR_SIGNATURE_CONTEXT + body)
    except InvalidSignature as exc:
        raise SignatureInvalid("the FHIR body's signature does not match its sender's key") from exc


def signed_fhir_event(
    event: Event, endpoint: str, body: bytes, signature: bytes, key_id: str
) -> SignedEvent:
    """The event with the FHIR body it was mapped from, as its proof."""
    return SignedEvent(
        event_json=EventAdapter.dump_json(event).decode(),
        signature=crypto.b64encode(signature),
        signing_key_id=key_id,
        fhir=SignedFhir.model_validate({"endpoint": endpoint, "body": body.decode()}),
    )


def verified(
    signed: SignedEvent, header: EventHeader, producer_key: Ed25519PublicKey,
    parsed: Event | None = None,
) -> Event:  # fmt: skip
    """The event, once its producer's signature holds over what it signed (the event's own
    bytes, or the FHIR body it came from) and it agrees with its header; ``parsed``, the
    event already parsed from ``signed.event_json`` (by routing), is not parsed again."""
    if signed.fhir is None:
        return verified_event(signed, header, producer_key, parsed)
    body = signed.fhir.body.encode()
    verify_fhir_body(producer_key, body, crypto.b64decode(signed.signature))
    event = signed.event() if parsed is None else parsed
    if not _yielded_by(event, signed.fhir.endpoint, body):
        raise EventMismatch("the event is not what its signed FHIR body maps to")
    if (event.event_id, event.source_org) != (header.event_id, header.source_org):
        raise EventMismatch("the signed event does not match its header")
    return event


def _yielded_by(event: Event, endpoint: str, body: bytes) -> bool:
    as_sent = event.model_copy(update={"received_at": None})
    return any(candidate == as_sent for candidate in _mapped(body, endpoint, event.source_org))


@functools.lru_cache(maxsize=16)
def _mapped(body: bytes, endpoint: str, source_org: str) -> tuple[Event, ...]:
    """The mapping is pure and its events frozen, so a Bundle's events, arriving one by one,
    map it once per router process rather than once each (parsing is ~1 ms an entry)."""
    # Here, not at the top: the FHIR models cost every router 0.1-0.2 s of CPU to import,
    # and most routers never see a FHIR event.
    from broker.rules.fhir_mapping import events_from_fhir
    from broker.rules.fhir_resources import FhirRejected

    try:
        return tuple(events_from_fhir(body, endpoint, source_org))
    except FhirRejected:
        return ()
