"""The broker's own keys, loaded from files readable by their owner only.

``KeyStore`` is the one interface the rest of the broker uses: a KMS or HSM can stand behind
it instead of files. Public halves are written beside the private ones for producers (who
seal events to the broker) and receivers (who verify the broker's signatures).

Rotation (``sgb keys-rotate``) makes new current keys and retires the old ones without
stranding anything: events already sealed to a retired HPKE key still open (its private key
is kept under ``retired/`` until deleted), and notices signed by a retired signing key still
verify (its public key stays in the public file). ``registry.json`` records each key's id,
purpose and validity.
"""

import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from broker.adapters import crypto
from broker.errors import DecryptionFailed, KeyFileError, SignatureInvalid

HPKE_FILE = "broker-hpke.pem"
SIGNING_FILE = "broker-signing.pem"
PSEUDONYM_FILE = "pseudonym.key"
PUBLIC_FILE = "broker-public.txt"
TOKEN_FILE = "broker-token.pem"  # noqa: S105  a file name, not a secret
RETIRED_DIR = "retired"
ENVIRONMENT_KEYS = frozenset({
    "SGB_BROKER_HPKE_KEY", "SGB_BROKER_SIGNING_KEY", "SGB_BROKER_TOKEN_KEY", "SGB_PSEUDONYM_KEY",
})  # fmt: skip
REGISTRY_FILE = "registry.json"


@dataclass(frozen=True)
class BrokerPublicKeys:
    """What producers and receivers need: no secrets."""

    hpke: X25519PublicKey
    signing: Ed25519PublicKey
    retired_signing: tuple[Ed25519PublicKey, ...] = ()

    def signing_key(self, key_id: str) -> Ed25519PublicKey:
        """The broker's signing key with this id, current or retired."""
        for key in (self.signing, *self.retired_signing):
            if crypto.key_id(key) == key_id:
                return key
        raise SignatureInvalid("the broker signed this with a key the receiver does not know")

    @property
    def hpke_key_id(self) -> str:
        return crypto.key_id(self.hpke)

    @property
    def signing_key_id(self) -> str:
        return crypto.key_id(self.signing)

    def to_text(self) -> str:
        hpke, signing = crypto.encode_public(self.hpke), crypto.encode_public(self.signing)
        retired = "".join(f"retired-signing={crypto.encode_public(k)}\n"
                          for k in self.retired_signing)  # fmt: skip
        return f"hpke={hpke}\nsigning={signing}\n{retired}"

    @classmethod
    def from_text(cls, text: str) -> "BrokerPublicKeys":
        pairs = [line.split("=", 1) for line in text.split() if "=" in line]
        fields = dict(pairs)
        return cls(
            hpke=crypto.hpke_public_from_text(fields["hpke"]),
            signing=crypto.signing_public_from_text(fields["signing"]),
            retired_signing=tuple(
                crypto.signing_public_from_text(v) for k, v in pairs if k == "retired-signing"
            ),
        )


@dataclass(frozen=True)
class KeyStore:
    hpke: X25519PrivateKey
    signing: Ed25519PrivateKey
    pseudonym_secret: bytes
    token: Ed25519PrivateKey  # signs access tokens only: a key per purpose
    retired_hpke: tuple[X25519PrivateKey, ...] = ()
    retired_signing: tuple[Ed25519PublicKey, ...] = ()

    @property
    def public(self) -> BrokerPublicKeys:
        return BrokerPublicKeys(
            self.hpke.public_key(), self.signing.public_key(), self.retired_signing
        )

    def hpke_for(self, key_id: str) -> X25519PrivateKey:
        """The private key an event was sealed to, current or retired but not yet deleted."""
        for key in (self.hpke, *self.retired_hpke):
            if crypto.key_id(key.public_key()) == key_id:
                return key
        raise DecryptionFailed("the event was sealed to a broker key that no longer exists")

    @classmethod
    def load(cls, directory: Path) -> "KeyStore":
        hpke = crypto.read_private_key(directory / HPKE_FILE)
        signing = crypto.read_private_key(directory / SIGNING_FILE)
        if not isinstance(hpke, X25519PrivateKey) or not isinstance(signing, Ed25519PrivateKey):
            raise KeyFileError("the broker's key files hold the wrong kinds of key")
        public = BrokerPublicKeys.from_text((directory / PUBLIC_FILE).read_text())
        return cls(hpke, signing, _read_secret(directory / PSEUDONYM_FILE),
                   _token_key(directory / TOKEN_FILE), _retired_hpke(directory),
                   public.retired_signing)  # fmt: skip

    @classmethod
    def create(cls, directory: Path) -> "KeyStore":
        """New keys for a new deployment; refuses to overwrite existing ones."""
        if (directory / HPKE_FILE).exists():
            raise KeyFileError(f"keys already exist in {directory}")
        store = cls(X25519PrivateKey.generate(), Ed25519PrivateKey.generate(),
                    secrets.token_bytes(32), Ed25519PrivateKey.generate())  # fmt: skip
        crypto.write_private_key(directory / HPKE_FILE, store.hpke)
        crypto.write_private_key(directory / SIGNING_FILE, store.signing)
        crypto.write_secret(directory / PSEUDONYM_FILE, store.pseudonym_secret)
        crypto.write_private_key(directory / TOKEN_FILE, store.token)
        (directory / PUBLIC_FILE).write_text(store.public.to_text())
        _register(directory, store, retiring=None)
        return store

    @classmethod
    def rotate(cls, directory: Path) -> "KeyStore":
        """New current HPKE and signing keys; the old ones retired, never stranded."""
        old = cls.load(directory)
        old_id = crypto.key_id(old.hpke.public_key())
        crypto.write_private_key(directory / RETIRED_DIR / f"broker-hpke-{old_id}.pem", old.hpke)
        store = cls(X25519PrivateKey.generate(), Ed25519PrivateKey.generate(),
                    old.pseudonym_secret, old.token, (old.hpke, *old.retired_hpke),
                    (old.signing.public_key(), *old.retired_signing))  # fmt: skip
        crypto.write_private_key(directory / HPKE_FILE, store.hpke)
        crypto.write_private_key(directory / SIGNING_FILE, store.signing)
        (directory / PUBLIC_FILE).write_text(store.public.to_text())
        _register(directory, store, retiring=old)
        return store

    @classmethod
    def load_or_create(cls, directory: Path) -> "KeyStore":
        """From the environment when the deployment puts keys there (a secrets manager's
        usual way), else from the key files, made on first start."""
        if os.environ.keys() >= ENVIRONMENT_KEYS:
            return cls.from_environment(os.environ)
        return cls.load(directory) if (directory / HPKE_FILE).exists() else cls.create(directory)

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> "KeyStore":
        """PKCS#8 PEM keys and a hex pseudonym secret in SGB_BROKER_* variables."""
        hpke, signing, token = (
            serialization.load_pem_private_key(env[name].encode(), password=None)
            for name in ("SGB_BROKER_HPKE_KEY", "SGB_BROKER_SIGNING_KEY", "SGB_BROKER_TOKEN_KEY")
        )
        if not (isinstance(hpke, X25519PrivateKey) and isinstance(signing, Ed25519PrivateKey)
                and isinstance(token, Ed25519PrivateKey)):  # fmt: skip
            raise KeyFileError("the SGB_BROKER_* variables hold the wrong kinds of key")
        return cls(hpke, signing, bytes.fromhex(env["SGB_PSEUDONYM_KEY"]), token)


def _retired_hpke(directory: Path) -> tuple[X25519PrivateKey, ...]:
    keys = [crypto.read_private_key(p)
            for p in sorted((directory / RETIRED_DIR).glob("broker-hpke-*.pem"))]  # fmt: skip
    return tuple(k for k in keys if isinstance(k, X25519PrivateKey))


def _register(directory: Path, store: "KeyStore", retiring: "KeyStore | None") -> None:
    """Each key's id, purpose and validity, for operators and auditors."""
    path = directory / REGISTRY_FILE
    entries: list[dict[str, str | None]] = json.loads(path.read_text()) if path.exists() else []
    now = datetime.now(UTC).isoformat()
    if retiring is not None:
        old_ids = {crypto.key_id(retiring.hpke.public_key()),
                   crypto.key_id(retiring.signing.public_key())}  # fmt: skip
        for entry in entries:
            if entry["key_id"] in old_ids and entry["valid_until"] is None:
                entry["valid_until"] = now
    for purpose, key in (("event-hpke", store.hpke.public_key()),
                         ("notice-signing", store.signing.public_key())):  # fmt: skip
        entries.append({"key_id": crypto.key_id(key), "purpose": purpose,
                        "valid_from": now, "valid_until": None})  # fmt: skip
    path.write_text(json.dumps(entries, indent=2))


def _token_key(path: Path) -> Ed25519PrivateKey:
    """The token key; a deployment made before tokens existed gets one on first start."""
    if not path.exists():
        crypto.write_private_key(path, Ed25519PrivateKey.generate())
    key = crypto.read_private_key(path)
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path.name} does not hold an Ed25519 key")
    return key


def _read_secret(path: Path) -> bytes:
    crypto.check_private_mode(path)
    return path.read_bytes()


# The audit chain's HMAC key: apart from KeyStore, since every process that writes the audit
# log needs it (the gateway and the APIs too) and nothing else of the broker's keys.
AUDIT_KEY_FILE = "audit.key"
AUDIT_KEY_VARIABLE = "SGB_AUDIT_KEY"  # hex, when a secrets manager supplies it


def audit_key(directory: Path, *, create: bool = True) -> bytes:
    """The key that makes the audit log's chain: kept with the broker's keys, never in the
    database, so whoever can write the database cannot re-chain a rewritten log. Made on
    first need (``create``), exactly once however many processes start together."""
    if value := os.environ.get(AUDIT_KEY_VARIABLE):
        return bytes.fromhex(value)
    path = directory / AUDIT_KEY_FILE
    if create and not path.exists():
        # Written aside, then linked into place: linking fails if another process got there
        # first, and nobody ever reads a half-written key.
        draft = directory / f".{AUDIT_KEY_FILE}.{secrets.token_hex(8)}"
        crypto.write_secret(draft, secrets.token_bytes(32))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    if not path.exists():
        raise KeyFileError(f"no audit key ({AUDIT_KEY_FILE}) in the keys folder")
    return _read_secret(path)
