"""Pseudonymous Kafka message keys: a keyed HMAC, so the transport never sees an identifier.

The same person or household always maps to the same key (so Kafka keeps their events in
order on one partition), and without the HMAC key nobody can go back from key to person: an
NHS number has few enough possible values to try them all, so the key is what protects it.

The broker keys its records with its own pseudonym secret; an agency publishing through the
SDK keys its events with a secret of its own (``producer_secret``).
"""

import hashlib
import hmac

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas.events import PersonRef

PRODUCER_SECRET_CONTEXT = b"sgb producer kafka record keys v1"


def pseudonym(secret: bytes, kind: str, identifier: str) -> str:
    mac = hmac.new(secret, f"{kind}:{identifier}".encode(), hashlib.sha256)
    return mac.hexdigest()[:32]


def person_identifier(person: PersonRef, source_org: str) -> str:
    """The most widely shared identifier the event gives for a person."""
    if person.nhs_number:
        return f"nhs:{person.nhs_number}"
    if person.upn:
        return f"upn:{person.upn}"
    return f"local:{source_org}:{person.local_id}"


def person_key(secret: bytes, person: PersonRef, source_org: str) -> str:
    return pseudonym(secret, "person", person_identifier(person, source_org))


def producer_secret(signing_key: Ed25519PrivateKey) -> bytes:
    """An organisation's own secret for its record keys, derived from its signing key (a
    purpose of its own, so nothing made with it is a signature): stable across restarts, so
    its events about one person keep to one partition, and nobody else's."""
    raw = signing_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return hmac.new(raw, PRODUCER_SECRET_CONTEXT, hashlib.sha256).digest()
