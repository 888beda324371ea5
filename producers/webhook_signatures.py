"""Webhook request signatures in the Standard Webhooks shape with Ed25519 (``v1a``): the
broker signs each push with them, a recipient's system checks them (``webhook_receiver``).

    webhook-id          the notice id: the receiver's idempotency key, the same on every retry
    webhook-timestamp   Unix seconds when this attempt was signed (receivers refuse stale ones)
    webhook-signature   v1a,<base64 Ed25519 signature over "sgb/webhook-request/v1\\n"
                        followed by "{id}.{timestamp}.{body}">
    sgb-signing-key-id  which of the broker's signing keys made it (receivers may know several)
"""

import base64
import binascii

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from producers.errors import SignatureInvalid

SIGNATURE_VERSION = "v1a"
ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
KEY_ID_HEADER = "sgb-signing-key-id"


# The broker signs notices and webhook requests with one key; this label, signed first, keeps
# a webhook signature from ever being taken for a notice's signature, or the other way round.
WEBHOOK_SIGNATURE_CONTEXT = b"sgb/webhook-request/v1\n"


def signed_content(webhook_id: str, timestamp: int, body: bytes) -> bytes:
    return WEBHOOK_SIGNATURE_CONTEXT + f"{webhook_id}.{timestamp}.".encode() + body


def signature_headers(
    key: Ed25519PrivateKey, key_id: str, webhook_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    signature = key.sign(signed_content(webhook_id, timestamp, body))
    return {
        ID_HEADER: webhook_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: f"{SIGNATURE_VERSION},{base64.b64encode(signature).decode()}",
        KEY_ID_HEADER: key_id,
    }


def verify_signature(
    key: Ed25519PublicKey, webhook_id: str, timestamp: int, body: bytes, header: str
) -> None:
    """Passes when any ``v1a`` signature in the space-separated header verifies."""
    for candidate in header.split():
        version, _, encoded = candidate.partition(",")
        if version != SIGNATURE_VERSION:
            continue  # another scheme, for a receiver that understands it
        try:
            key.verify(base64.b64decode(encoded, validate=True),
                       signed_content(webhook_id, timestamp, body))  # fmt: skip
            return
        except (InvalidSignature, binascii.Error):
            continue
    raise SignatureInvalid("no webhook signature verifies with the broker's key")
