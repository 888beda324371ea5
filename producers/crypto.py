"""HPKE (RFC 9180) sealing and Ed25519 signatures, all from ``cryptography``.

The suite is DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM. ``cryptography``'s HPKE is
single-shot and takes no separate associated data, so whatever must be bound to a ciphertext
(a notice's header) goes into HPKE's ``info`` after a purpose label that keeps event and notice
ciphertexts from being swapped for one another.
"""

import base64
import hashlib
import os
import secrets
import stat
from pathlib import Path

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.hpke import (
    AEAD,
    KDF,
    KEM,
    MLKEM768X25519PrivateKey,
    MLKEM768X25519PublicKey,
    Suite,
)

from producers.errors import (
    DecryptionFailed,
    EnvelopeError,
    KeyFileError,
    KeyFileExists,
    SignatureInvalid,
)

SUITE = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)
# Post-quantum hybrid: ML-KEM-768 and X25519 together, secure while either one holds.
HYBRID_SUITE = Suite(KEM.MLKEM768_X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)
RecipientPublicKey = X25519PublicKey | MLKEM768X25519PublicKey
RecipientPrivateKey = X25519PrivateKey | MLKEM768X25519PrivateKey
EVENT_PURPOSE = b"sgb/event/v1"
NOTICE_PURPOSE = b"sgb/notice/v1"
_SIGNATURE_CONTEXT = b"sgb/signed-envelope/v1"


def seal(
    plaintext: bytes, recipient: RecipientPublicKey, *, purpose: bytes, header: bytes
) -> bytes:
    suite = HYBRID_SUITE if isinstance(recipient, MLKEM768X25519PublicKey) else SUITE
    return suite.encrypt(plaintext, recipient, info=_info(purpose, header))


def unseal(ciphertext: bytes, key: RecipientPrivateKey, *, purpose: bytes, header: bytes) -> bytes:
    suite = HYBRID_SUITE if isinstance(key, MLKEM768X25519PrivateKey) else SUITE
    try:
        return suite.decrypt(ciphertext, key, info=_info(purpose, header))
    except (InvalidTag, ValueError) as exc:
        raise DecryptionFailed("the ciphertext does not open with this key and header") from exc


def _info(purpose: bytes, header: bytes) -> bytes:
    return purpose + b"\n" + header


def sign(key: Ed25519PrivateKey, header: bytes, ciphertext: bytes) -> bytes:
    return key.sign(_signed_message(header, ciphertext))


def verify(key: Ed25519PublicKey, header: bytes, ciphertext: bytes, signature: bytes) -> None:
    try:
        key.verify(signature, _signed_message(header, ciphertext))
    except InvalidSignature as exc:
        raise SignatureInvalid("the signature does not match this header and ciphertext") from exc


EVENT_SIGNATURE_CONTEXT = b"sgb/event-signature/v1\n"


def sign_event_bytes(key: Ed25519PrivateKey, event_json: bytes) -> bytes:
    """An organisation's signature over an event exactly as it serialised it."""
    return key.sign(EVENT_SIGNATURE_CONTEXT + event_json)


def verify_event_bytes(key: Ed25519PublicKey, event_json: bytes, signature: bytes) -> None:
    try:
        key.verify(signature, EVENT_SIGNATURE_CONTEXT + event_json)
    except InvalidSignature as exc:
        raise SignatureInvalid("the event's signature does not match its producer's key") from exc


def _signed_message(header: bytes, ciphertext: bytes) -> bytes:
    # Length-prefixing the header makes the split between header and ciphertext unambiguous.
    return _SIGNATURE_CONTEXT + len(header).to_bytes(8, "big") + header + ciphertext


PublicKey = X25519PublicKey | Ed25519PublicKey


def raw_public(key: PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: PublicKey) -> str:
    """A short, stable name for a public key: the start of its SHA-256 fingerprint."""
    return hashlib.sha256(raw_public(key)).hexdigest()[:16]


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise EnvelopeError("a field that should be base64 is not") from exc


def encode_public(key: PublicKey) -> str:
    return b64encode(raw_public(key))


def hpke_public_from_text(text: str) -> X25519PublicKey:
    return X25519PublicKey.from_public_bytes(b64decode(text))


def signing_public_from_text(text: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(b64decode(text))


PrivateKey = X25519PrivateKey | Ed25519PrivateKey


def write_private_key(path: Path, key: PrivateKey, *, replace: bool = False) -> None:
    """Writes a PKCS#8 PEM readable by its owner only."""
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_secret(path, pem, replace=replace)


def write_secret(path: Path, data: bytes, *, replace: bool = False) -> None:
    """Creates the file with mode 0600 from the first byte, so it is never briefly exposed,
    in a folder of mode 0700. Never through a link planted in its place, nor over a file
    already there (``O_EXCL | O_NOFOLLOW``): two processes making the same key cannot
    overwrite each other's, and ``KeyFileExists`` tells the second. ``replace`` writes a new
    file beside the old one and renames it over it, which replaces a link, never follows it."""
    make_private_dir(path.parent)
    target = path.with_name(f".{path.name}.{secrets.token_hex(8)}.new") if replace else path
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError as exc:
        raise KeyFileExists(f"{path.name} already exists: not overwritten") from exc
    except OSError as exc:
        raise KeyFileError(f"cannot create key file {path.name}") from exc
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    if replace:
        target.replace(path)


def make_private_dir(directory: Path) -> None:
    """Makes the folder and any missing parents readable by their owner only."""
    missing = [d for d in (directory, *directory.parents) if not d.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)


def check_private_mode(path: Path) -> None:
    """Refuses a key file group or others could read, and a link in a key file's place (its
    target could be anyone's file)."""
    try:
        mode = path.lstat().st_mode
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {path.name}") from exc
    if stat.S_ISLNK(mode):
        raise KeyFileError(f"key file {path.name} is a link: replace it with the file itself")
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(f"key file {path.name} is readable by others: chmod 600 it")


def read_private_key(path: Path) -> PrivateKey:
    """Loads a private key, refusing one that group or others could read."""
    check_private_mode(path)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise KeyFileError(f"key file {path.name} cannot be loaded") from exc
    if not isinstance(key, X25519PrivateKey | Ed25519PrivateKey):
        raise KeyFileError(f"key file {path.name} holds neither an X25519 nor an Ed25519 key")
    return key
