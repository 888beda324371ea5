"""The test vectors of docs/event-signature.md, computed with the project's own code.

    python -m tests.signature_vectors          rewrites docs/test-vectors/
    python -m tests.signature_vectors --check  fails when any file there differs

Everything comes from fixed inputs (a key from a fixed seed, fixed event and FHIR bodies, a
fixed time and assertion id), and Ed25519 signatures are deterministic, so the files never
change unless the signing scheme does. ``tests/unit/test_signature_vectors.py`` recomputes
each one, so the documentation cannot drift from the code.
"""

import hashlib
import json
import sys
import uuid
from pathlib import Path
from unittest import mock

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from broker.entrypoints import fhir_examples
from broker.services.fhir_proof import FHIR_SIGNATURE_CONTEXT, sign_fhir_body
from producers import auth, crypto

VECTORS = Path(__file__).resolve().parent.parent / "docs" / "test-vectors"
FHIR_SOURCE = fhir_examples.HERE

# Nobody's key: its seed is public, here, so that anyone can reproduce every vector.
SEED = hashlib.sha256(b"sgb test vectors: a public key for examples only").digest()
ORG = "mh-demo"
TOKEN_URL = "https://broker.example.org/v1/oauth/token"
ASSERTION_IAT = 1_795_000_000  # 2026-11-19T08:26:40Z
ASSERTION_JTI = "6f1d2c3b-0a49-4e8f-9b7a-5c6d7e8f9a0b"

# Indented on purpose: the signature covers the bytes as sent, whitespace and newline included.
EVENT = {
    "event_type": "service_withdrawal",
    "event_id": "0b8e6f4a-3c2d-4e1f-9a8b-7c6d5e4f3a2b",
    "source_org": ORG,
    "occurred_at": "2026-11-20T09:30:00Z",
    "subject": {"nhs_number": "9990000018", "given_name": "Jess"},
    "service": "Talking therapies",
    "reason": "non_engagement",
    "withdrawn_on": "2026-11-20",
}


def signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(SEED)


def pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())  # fmt: skip


def event_bytes() -> bytes:
    return (json.dumps(EVENT, indent=2) + "\n").encode()


def fhir_body() -> bytes:
    return (FHIR_SOURCE / "appointment_not_brought.json").read_bytes()


def client_assertion(key: Ed25519PrivateKey) -> str:
    """``producers.auth.assertion`` itself, at a fixed time and with a fixed assertion id."""
    fixed_id = uuid.UUID(ASSERTION_JTI)
    with (
        mock.patch.object(auth.time, "time", return_value=ASSERTION_IAT),
        mock.patch.object(auth.uuid, "uuid4", return_value=fixed_id),
    ):
        return auth.assertion(ORG, key, crypto.key_id(key.public_key()), TOKEN_URL)


def rendered() -> dict[str, bytes]:
    """Each vector file's name and exact content."""
    key = signing_key()
    public = key.public_key()
    event, fhir = event_bytes(), fhir_body()
    event_signature = crypto.sign_event_bytes(key, event)
    return {
        "signing-key.pem": pem(key),
        "public-key.b64": (crypto.encode_public(public) + "\n").encode(),
        "key-id.txt": (crypto.key_id(public) + "\n").encode(),
        "event.json": event,
        "event.signed-bytes.hex": ((crypto.EVENT_SIGNATURE_CONTEXT + event).hex() + "\n").encode(),
        "event.signature.b64": (crypto.b64encode(event_signature) + "\n").encode(),
        "event.sgb-signature.txt": (_header(key, event_signature) + "\n").encode(),
        "fhir-appointment.json": fhir,
        "fhir.signed-bytes.hex": ((FHIR_SIGNATURE_CONTEXT + fhir).hex() + "\n").encode(),
        "fhir.signature.b64": (crypto.b64encode(sign_fhir_body(key, fhir)) + "\n").encode(),
        "client-assertion.jwt": (client_assertion(key) + "\n").encode(),
    }


def _header(key: Ed25519PrivateKey, signature: bytes) -> str:
    return f"keyid={crypto.key_id(key.public_key())}, sig={crypto.b64encode(signature)}"


def _on_disk(name: str) -> bytes | None:
    path = VECTORS / name
    return path.read_bytes() if path.exists() else None


def main(argv: list[str]) -> int:
    files = rendered()
    if "--check" in argv:
        stale = [name for name, data in files.items() if _on_disk(name) != data]
        for name in stale:
            print(f"out of date: docs/test-vectors/{name}", file=sys.stderr)
        return 1 if stale else 0
    VECTORS.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (VECTORS / name).write_bytes(data)
    print(f"wrote {len(files)} files to {VECTORS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
