"""Sealed envelopes on the wire: events sealed to the broker, notices sealed to recipients.

A header travels as the exact JSON text that was bound into the encryption (and, for notices,
signed), so that nobody has to re-serialise it the same way to check it.
"""

from collections.abc import Callable
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from producers import crypto
from producers.errors import EventMismatch
from schemas.events import Event, EventAdapter
from schemas.notices import NoticeBody, NoticeHeader, SealedNotice
from schemas.transport import EventHeader, SealedEvent, SignedEvent


def sign_event(event: Event, key: Ed25519PrivateKey) -> SignedEvent:
    """The producing organisation signs the event's exact bytes before sealing them."""
    event_json = EventAdapter.dump_json(event)
    return signed_from_bytes(
        event_json, crypto.sign_event_bytes(key, event_json), crypto.key_id(key.public_key())
    )


def signed_from_bytes(event_json: bytes, signature: bytes, key_id: str) -> SignedEvent:
    """An event kept as the exact bytes its producer signed."""
    return SignedEvent(
        event_json=event_json.decode(),
        signature=crypto.b64encode(signature),
        signing_key_id=key_id,
    )


def seal_event(
    signed: SignedEvent, header: EventHeader, broker_key: X25519PublicKey
) -> SealedEvent:
    header_text = header.model_dump_json(exclude_none=True)  # no empty legacy fields
    ciphertext = crypto.seal(
        signed.model_dump_json(exclude_none=True).encode(),  # no "fhir": null
        broker_key,
        purpose=crypto.EVENT_PURPOSE,
        header=header_text.encode(),
    )
    return SealedEvent(header=header_text, ciphertext=crypto.b64encode(ciphertext))


def open_event(
    sealed: SealedEvent, broker_key: X25519PrivateKey
) -> tuple[EventHeader, SignedEvent]:
    """Decrypts; the producer's signature is checked by ``verified_event``."""
    plaintext = crypto.unseal(
        crypto.b64decode(sealed.ciphertext),
        broker_key,
        purpose=crypto.EVENT_PURPOSE,
        header=sealed.header.encode(),
    )
    header = EventHeader.model_validate_json(sealed.header)
    return header, SignedEvent.model_validate_json(plaintext)


def verified_event(
    signed: SignedEvent, header: EventHeader, producer_key: Ed25519PublicKey,
    parsed: Event | None = None,
) -> Event:  # fmt: skip
    """The event, once its producer's signature holds and it agrees with its header;
    ``parsed``, the event already parsed from ``signed.event_json``, is not parsed again."""
    signature = crypto.b64decode(signed.signature)
    crypto.verify_event_bytes(producer_key, signed.event_json.encode(), signature)
    event = signed.event() if parsed is None else parsed
    if (event.event_id, event.source_org) != (header.event_id, header.source_org) or (
        header.event_type is not None and header.event_type != event.event_type
    ):
        raise EventMismatch("the signed event does not match its header")
    return event


def seal_notice(
    header: NoticeHeader,
    body: NoticeBody,
    recipient_key: crypto.RecipientPublicKey,
    signing_key: Ed25519PrivateKey,
    body_json: str | None = None,  # the body's model_dump_json(), where the caller has it
) -> SealedNotice:
    header_bytes = header.model_dump_json().encode()
    ciphertext = crypto.seal(
        (body.model_dump_json() if body_json is None else body_json).encode(),
        recipient_key,
        purpose=crypto.NOTICE_PURPOSE,
        header=header_bytes,
    )
    return SealedNotice(
        header=header_bytes.decode(),
        ciphertext=crypto.b64encode(ciphertext),
        signature=crypto.b64encode(crypto.sign(signing_key, header_bytes, ciphertext)),
    )


def open_notice(
    sealed: SealedNotice,
    recipient_key: crypto.RecipientPrivateKey,
    broker_verify_key: Ed25519PublicKey,
) -> tuple[NoticeHeader, NoticeBody]:
    """Verifies the broker's signature first, then decrypts: nothing unsigned is opened."""
    header_bytes = sealed.header.encode()
    ciphertext = crypto.b64decode(sealed.ciphertext)
    crypto.verify(broker_verify_key, header_bytes, ciphertext, crypto.b64decode(sealed.signature))
    plaintext = crypto.unseal(
        ciphertext, recipient_key, purpose=crypto.NOTICE_PURPOSE, header=header_bytes
    )
    header = NoticeHeader.model_validate_json(header_bytes)
    return header, NoticeBody.model_validate_json(plaintext)


def verify_notice(
    sealed: SealedNotice, signer: Callable[[str, datetime], Ed25519PublicKey]
) -> NoticeHeader:
    """The notice's header once the broker's signature over it and its ciphertext verifies
    with the key ``signer`` gives for the header's key id and creation time (the delivery
    worker stores nothing else); ``SignatureInvalid`` otherwise."""
    header = NoticeHeader.model_validate_json(sealed.header)
    signature = crypto.b64decode(sealed.signature)
    key = signer(header.signing_key_id, header.created_at)
    crypto.verify(key, sealed.header.encode(), crypto.b64decode(sealed.ciphertext), signature)
    return header
