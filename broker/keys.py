"""The broker's own keys, loaded from files readable by their owner only.

``KeyStore`` is the one interface the rest of the broker uses: a KMS or HSM can stand behind
it instead of files. Public halves are written beside the private ones for producers (who
seal events to the broker) and receivers (who verify the broker's signatures).
"""

import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from broker.adapters import crypto
from broker.errors import KeyFileError

HPKE_FILE = "broker-hpke.pem"
SIGNING_FILE = "broker-signing.pem"
PSEUDONYM_FILE = "pseudonym.key"
PUBLIC_FILE = "broker-public.txt"
TOKEN_FILE = "broker-token.pem"  # noqa: S105  a file name, not a secret


@dataclass(frozen=True)
class BrokerPublicKeys:
    """What producers and receivers need: no secrets."""

    hpke: X25519PublicKey
    signing: Ed25519PublicKey

    @property
    def hpke_key_id(self) -> str:
        return crypto.key_id(self.hpke)

    @property
    def signing_key_id(self) -> str:
        return crypto.key_id(self.signing)

    def to_text(self) -> str:
        hpke, signing = crypto.encode_public(self.hpke), crypto.encode_public(self.signing)
        return f"hpke={hpke}\nsigning={signing}\n"

    @classmethod
    def from_text(cls, text: str) -> "BrokerPublicKeys":
        fields = dict(line.split("=", 1) for line in text.split() if "=" in line)
        return cls(
            hpke=crypto.hpke_public_from_text(fields["hpke"]),
            signing=crypto.signing_public_from_text(fields["signing"]),
        )


@dataclass(frozen=True)
class KeyStore:
    hpke: X25519PrivateKey
    signing: Ed25519PrivateKey
    pseudonym_secret: bytes
    token: Ed25519PrivateKey  # signs access tokens only: a key per purpose

    @property
    def public(self) -> BrokerPublicKeys:
        return BrokerPublicKeys(self.hpke.public_key(), self.signing.public_key())

    @classmethod
    def load(cls, directory: Path) -> "KeyStore":
        hpke = crypto.read_private_key(directory / HPKE_FILE)
        signing = crypto.read_private_key(directory / SIGNING_FILE)
        if not isinstance(hpke, X25519PrivateKey) or not isinstance(signing, Ed25519PrivateKey):
            raise KeyFileError("the broker's key files hold the wrong kinds of key")
        return cls(hpke, signing, _read_secret(directory / PSEUDONYM_FILE),
                   _token_key(directory / TOKEN_FILE))  # fmt: skip

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
        return store

    @classmethod
    def load_or_create(cls, directory: Path) -> "KeyStore":
        return cls.load(directory) if (directory / HPKE_FILE).exists() else cls.create(directory)


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
