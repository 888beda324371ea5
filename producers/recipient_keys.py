"""Recipients' public keys as the directory holds them: classic X25519, or the post-quantum
hybrid ML-KEM-768 + X25519, chosen per recipient by the kind of key it registers.

A key travels as base64 of its raw bytes: 32 bytes for X25519; for the hybrid, the ML-KEM-768
encapsulation key (1184 bytes) followed by the X25519 key (32 bytes). The suite a notice was
sealed with is named in its header, which is bound into the encryption, so a notice cannot be
passed off as sealed under another suite.
"""

import base64
import binascii
import hashlib
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PrivateKey, MLKEM768PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.hpke import MLKEM768X25519PrivateKey, MLKEM768X25519PublicKey

from producers import crypto
from producers.errors import KeyFileError
from schemas.notices import HpkeSuiteName

X25519_BYTES, MLKEM768_BYTES = 32, 1184
HYBRID_FILE_TAG = b"sgb-mlkem768-x25519-private-v1\n"
TRIAL_PURPOSE = b"sgb/key-trial/v1"  # a label of its own: a trial ciphertext opens nothing


def decode(text: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise ValueError("a recipient key must be base64") from exc
    if len(raw) not in (X25519_BYTES, MLKEM768_BYTES + X25519_BYTES):
        raise ValueError("a recipient key must be X25519 (32 bytes) or ML-KEM-768+X25519")
    return raw


def public_from_text(text: str) -> crypto.RecipientPublicKey:
    raw = decode(text)
    if len(raw) == X25519_BYTES:
        return X25519PublicKey.from_public_bytes(raw)
    return MLKEM768X25519PublicKey(
        MLKEM768PublicKey.from_public_bytes(raw[:MLKEM768_BYTES]),
        X25519PublicKey.from_public_bytes(raw[MLKEM768_BYTES:]),
    )


def can_seal_to(text: str) -> bool:
    """Whether notices can be sealed to this key, found by sealing a few bytes to it. A key
    of the right length may still be unusable: a low-order X25519 point (all zeros, say)
    parses, but no shared secret comes of it, and every notice for it would fail."""
    try:
        crypto.seal(b"trial", public_from_text(text), purpose=TRIAL_PURPOSE, header=b"")
    except ValueError:
        return False
    return True


def suite_of(text: str) -> HpkeSuiteName:
    if len(decode(text)) == X25519_BYTES:
        return HpkeSuiteName.X25519_SHA256_AES256GCM
    return HpkeSuiteName.MLKEM768_X25519_SHA256_AES256GCM


def key_id(text: str) -> str:
    """The start of the SHA-256 of the key's raw bytes (the same as ``crypto.key_id`` for an
    X25519 key)."""
    return hashlib.sha256(decode(text)).hexdigest()[:16]


def new_hybrid() -> tuple[MLKEM768X25519PrivateKey, str, bytes]:
    """A fresh hybrid key pair: the private key, its public text, and the private key's bytes
    (ML-KEM seed then X25519 private key) to keep."""
    mlkem, classic = MLKEM768PrivateKey.generate(), X25519PrivateKey.generate()
    public = mlkem.public_key().public_bytes_raw() + crypto.raw_public(classic.public_key())
    secret = mlkem.private_bytes_raw() + classic.private_bytes_raw()
    return MLKEM768X25519PrivateKey(mlkem, classic), base64.b64encode(public).decode(), secret


def hybrid_from_secret(secret: bytes) -> MLKEM768X25519PrivateKey:
    mlkem = MLKEM768PrivateKey.from_seed_bytes(secret[:64])
    return MLKEM768X25519PrivateKey(mlkem, X25519PrivateKey.from_private_bytes(secret[64:96]))


def write_hybrid(path: Path, secret: bytes) -> None:
    crypto.write_secret(path, HYBRID_FILE_TAG + secret)


def read_hybrid(path: Path) -> MLKEM768X25519PrivateKey:
    crypto.check_private_mode(path)
    data = path.read_bytes()
    if not data.startswith(HYBRID_FILE_TAG) or len(data) != len(HYBRID_FILE_TAG) + 96:
        raise KeyFileError(f"{path.name} is not an ML-KEM-768+X25519 private key file")
    return hybrid_from_secret(data[len(HYBRID_FILE_TAG) :])
