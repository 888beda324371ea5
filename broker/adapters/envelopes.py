"""Sealed envelopes on the wire: events sealed to the broker, notices sealed to recipients.

A header travels as the exact JSON text that was bound into the encryption (and, for notices,
signed), so that nobody has to re-serialise it the same way to check it.
"""

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from broker.adapters import crypto
from schemas.events import Event, EventAdapter
from schemas.notices import NoticeBody, NoticeHeader, SealedNotice
from schemas.transport import EventHeader, SealedEvent


def seal_event(event: Event, header: EventHeader, broker_key: X25519PublicKey) -> SealedEvent:
    header_text = header.model_dump_json()
    ciphertext = crypto.seal(
        EventAdapter.dump_json(event),
        broker_key,
        purpose=crypto.EVENT_PURPOSE,
        header=header_text.encode(),
    )
    return SealedEvent(header=header_text, ciphertext=crypto.b64encode(ciphertext))


def open_event(sealed: SealedEvent, broker_key: X25519PrivateKey) -> tuple[EventHeader, Event]:
    plaintext = crypto.unseal(
        crypto.b64decode(sealed.ciphertext),
        broker_key,
        purpose=crypto.EVENT_PURPOSE,
        header=sealed.header.encode(),
    )
    return EventHeader.model_validate_json(sealed.header), EventAdapter.validate_json(plaintext)


def seal_notice(
    header: NoticeHeader,
    body: NoticeBody,
    recipient_key: crypto.RecipientPublicKey,
    signing_key: Ed25519PrivateKey,
) -> SealedNotice:
    header_bytes = header.model_dump_json().encode()
    ciphertext = crypto.seal(
        body.model_dump_json().encode(),
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
