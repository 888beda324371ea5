"""The broker's own keys, loaded from files readable by their owner only.

``KeyStore`` is the one interface the rest of the broker uses: a KMS or HSM can stand behind
it instead of files. Public halves are written beside the private ones for producers (who
seal events to the broker) and receivers (who verify the broker's signatures).

Each process is given only the private keys its work needs (``PROCESS_KEYS``), and none is
ever made on start: keys are made once, by ``sgb keys-init``; a process whose keys are
missing stops with a ``KeyFileError`` instead of quietly starting a new key set.

Rotation (``sgb keys-rotate``) makes new current keys and retires the old ones without
stranding anything: events already sealed to a retired HPKE key still open (its private key
is kept under ``retired/`` until deleted), and notices signed by a retired signing key still
verify (its public key stays in the public file) if they were signed before its ``not_after``,
which the public file states with it. ``registry.json`` records each key's id, purpose and
validity.
"""

import json
import os
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from broker.errors import DecryptionFailed, KeyFileError, KeyNotHeld
from producers import crypto
from producers.broker_keys import BrokerPublicKeys, RetiredSigningKey

HPKE_FILE = "broker-hpke.pem"
SIGNING_FILE = "broker-signing.pem"
PSEUDONYM_FILE = "pseudonym.key"
PUBLIC_FILE = "broker-public.txt"
TOKEN_FILE = "broker-token.pem"  # noqa: S105  a file name, not a secret
RETIRED_DIR = "retired"
REGISTRY_FILE = "registry.json"
# How long a retired signing key stays valid after a rotation: the processes still running
# sign with it until they are restarted, and receivers refuse what it signs after this.
DEFAULT_ROTATION_GRACE = timedelta(hours=1)


class Purpose(StrEnum):
    """What a broker private key is for; a process is given the keys of its purposes only."""

    OPEN_EVENTS = "open-events"  # the HPKE keys events are sealed to, current and retired
    SIGN_NOTICES = "sign-notices"  # the key notices and webhook requests are signed with
    ISSUE_TOKENS = "issue-tokens"  # the key access tokens are signed with
    PSEUDONYMS = "pseudonyms"  # the HMAC key of Kafka message keys and household key names


ALL_PURPOSES = frozenset(Purpose)
# Least privilege: which keys each process holds. The internet-facing gateway can neither
# open an event nor sign a notice; the admin API holds the token key alone. Nor can the inbox
# API (recipients' and front doors' requests): it verifies tokens and keys receipts on Kafka;
# what it decides that needs an event opened or a notice signed (a match, a rejection's
# re-route, a confirmed proposal) it records, and the router's timer does.
PROCESS_KEYS: Mapping[str, frozenset[Purpose]] = {
    "gateway": frozenset({Purpose.ISSUE_TOKENS, Purpose.PSEUDONYMS}),
    "admin": frozenset({Purpose.ISSUE_TOKENS}),
    "inbox": frozenset({Purpose.ISSUE_TOKENS, Purpose.PSEUDONYMS}),
    "router": frozenset({Purpose.OPEN_EVENTS, Purpose.SIGN_NOTICES, Purpose.PSEUDONYMS}),
    "delivery": frozenset({Purpose.SIGN_NOTICES, Purpose.PSEUDONYMS}),
}
ENVIRONMENT_KEYS: Mapping[Purpose, str] = {
    Purpose.OPEN_EVENTS: "SGB_BROKER_HPKE_KEY",
    Purpose.SIGN_NOTICES: "SGB_BROKER_SIGNING_KEY",
    Purpose.ISSUE_TOKENS: "SGB_BROKER_TOKEN_KEY",
    Purpose.PSEUDONYMS: "SGB_PSEUDONYM_KEY",
}
PUBLIC_KEYS_VARIABLE = "SGB_BROKER_PUBLIC_KEYS"  # the text of broker-public.txt
K = TypeVar("K")


class KeyStore:
    """The broker's keys as one process holds them: the public halves always, the private
    keys of its purposes only. Asking for a key it was not given raises ``KeyNotHeld``."""

    def __init__(
        self,
        public: BrokerPublicKeys,
        *,
        hpke: X25519PrivateKey | None = None,
        signing: Ed25519PrivateKey | None = None,
        pseudonym_secret: bytes | None = None,
        token: Ed25519PrivateKey | None = None,
        retired_hpke: tuple[X25519PrivateKey, ...] = (),
    ) -> None:
        self.public = public
        self._hpke, self._signing, self._token = hpke, signing, token
        self._pseudonym_secret, self._retired_hpke = pseudonym_secret, retired_hpke
        if hpke and crypto.key_id(hpke.public_key()) != public.hpke_key_id:
            raise KeyFileError(f"{HPKE_FILE} does not match {PUBLIC_FILE}")
        if signing and crypto.key_id(signing.public_key()) != public.signing_key_id:
            raise KeyFileError(f"{SIGNING_FILE} does not match {PUBLIC_FILE}")

    @property
    def hpke(self) -> X25519PrivateKey:
        return _held(self._hpke, Purpose.OPEN_EVENTS)

    @property
    def signing(self) -> Ed25519PrivateKey:
        return _held(self._signing, Purpose.SIGN_NOTICES)

    @property
    def token(self) -> Ed25519PrivateKey:
        return _held(self._token, Purpose.ISSUE_TOKENS)

    @property
    def pseudonym_secret(self) -> bytes:
        return _held(self._pseudonym_secret, Purpose.PSEUDONYMS)

    @property
    def retired_hpke(self) -> tuple[X25519PrivateKey, ...]:
        return self._retired_hpke

    @property
    def retired_signing(self) -> tuple[RetiredSigningKey, ...]:
        return self.public.retired_signing

    def hpke_for(self, key_id: str) -> X25519PrivateKey:
        """The private key an event was sealed to, current or retired but not yet deleted."""
        for key in (self.hpke, *self._retired_hpke):
            if crypto.key_id(key.public_key()) == key_id:
                return key
        raise DecryptionFailed("the event was sealed to a broker key that no longer exists")

    @classmethod
    def load(cls, directory: Path, purposes: frozenset[Purpose] = ALL_PURPOSES) -> "KeyStore":
        """The keys of these purposes from their files; a missing one is a KeyFileError,
        never a reason to make a new one (only ``create``, ``sgb keys-init``, makes keys)."""
        if not (directory / PUBLIC_FILE).exists():
            raise KeyFileError(f"no broker keys in {directory}: run `sgb keys-init` once")
        public = BrokerPublicKeys.from_text((directory / PUBLIC_FILE).read_text())
        opens = Purpose.OPEN_EVENTS in purposes
        return cls(
            public,
            hpke=_x25519(crypto.read_private_key(directory / HPKE_FILE), HPKE_FILE)
            if opens else None,
            signing=_ed25519(crypto.read_private_key(directory / SIGNING_FILE), SIGNING_FILE)
            if Purpose.SIGN_NOTICES in purposes else None,
            pseudonym_secret=_read_secret(directory / PSEUDONYM_FILE)
            if Purpose.PSEUDONYMS in purposes else None,
            token=_ed25519(crypto.read_private_key(directory / TOKEN_FILE), TOKEN_FILE)
            if Purpose.ISSUE_TOKENS in purposes else None,
            retired_hpke=_retired_hpke(directory) if opens else (),
        )  # fmt: skip

    @classmethod
    def create(cls, directory: Path) -> "KeyStore":
        """New keys for a new deployment; refuses when any key file (or a link in its place)
        is already there, before writing anything."""
        names = (HPKE_FILE, SIGNING_FILE, PSEUDONYM_FILE, TOKEN_FILE, PUBLIC_FILE)
        if any(os.path.lexists(directory / name) for name in names):
            raise KeyFileError(f"keys already exist in {directory}")
        hpke, signing = X25519PrivateKey.generate(), Ed25519PrivateKey.generate()
        store = cls(BrokerPublicKeys(hpke.public_key(), signing.public_key()), hpke=hpke,
                    signing=signing, pseudonym_secret=secrets.token_bytes(32),
                    token=Ed25519PrivateKey.generate())  # fmt: skip
        crypto.write_private_key(directory / HPKE_FILE, store.hpke)
        crypto.write_private_key(directory / SIGNING_FILE, store.signing)
        crypto.write_secret(directory / PSEUDONYM_FILE, store.pseudonym_secret)
        crypto.write_private_key(directory / TOKEN_FILE, store.token)
        _write_public(directory / PUBLIC_FILE, store.public.to_text())
        _register(directory, store, retiring=None, not_after=None)
        return store

    @classmethod
    def rotate(cls, directory: Path, grace: timedelta = DEFAULT_ROTATION_GRACE) -> "KeyStore":
        """New current HPKE and signing keys; the old ones retired, never stranded. What the
        old signing key signs more than ``grace`` after now is refused by receivers."""
        old = cls.load(directory)
        old_id = crypto.key_id(old.hpke.public_key())
        crypto.write_private_key(directory / RETIRED_DIR / f"broker-hpke-{old_id}.pem", old.hpke)
        not_after = datetime.now(UTC) + grace
        hpke, signing = X25519PrivateKey.generate(), Ed25519PrivateKey.generate()
        retired = (RetiredSigningKey(old.signing.public_key(), not_after), *old.retired_signing)
        store = cls(BrokerPublicKeys(hpke.public_key(), signing.public_key(), retired),
                    hpke=hpke, signing=signing, pseudonym_secret=old.pseudonym_secret,
                    token=old.token, retired_hpke=(old.hpke, *old.retired_hpke))  # fmt: skip
        crypto.write_private_key(directory / HPKE_FILE, store.hpke, replace=True)
        crypto.write_private_key(directory / SIGNING_FILE, store.signing, replace=True)
        _write_public(directory / PUBLIC_FILE, store.public.to_text())
        _register(directory, store, retiring=old, not_after=not_after)
        return store

    @classmethod
    def for_process(
        cls, directory: Path, purposes: frozenset[Purpose], env: Mapping[str, str] = os.environ
    ) -> "KeyStore":
        """From the environment when the deployment puts this process's keys there (a
        secrets manager's usual way), else from the key files; never made here."""
        if all(ENVIRONMENT_KEYS[p] in env for p in purposes):
            return cls.from_environment(env, purposes, directory)
        return cls.load(directory, purposes)

    @classmethod
    def from_environment(
        cls,
        env: Mapping[str, str],
        purposes: frozenset[Purpose] = ALL_PURPOSES,
        directory: Path | None = None,
    ) -> "KeyStore":
        """PKCS#8 PEM keys and a hex pseudonym secret in SGB_BROKER_* variables; the public
        keys from SGB_BROKER_PUBLIC_KEYS, else the public file, else the private keys."""
        pem = {p: _from_pem(env, p, purposes) for p in purposes if p is not Purpose.PSEUDONYMS}
        hpke = (
            _x25519(pem[Purpose.OPEN_EVENTS], "SGB_BROKER_HPKE_KEY")
            if Purpose.OPEN_EVENTS in pem
            else None
        )
        signing = (_ed25519(pem[Purpose.SIGN_NOTICES], "SGB_BROKER_SIGNING_KEY")
                   if Purpose.SIGN_NOTICES in pem else None)  # fmt: skip
        token = (_ed25519(pem[Purpose.ISSUE_TOKENS], "SGB_BROKER_TOKEN_KEY")
                 if Purpose.ISSUE_TOKENS in pem else None)  # fmt: skip
        secret = (
            env[ENVIRONMENT_KEYS[Purpose.PSEUDONYMS]] if Purpose.PSEUDONYMS in purposes else None
        )
        public = _public_text(env, directory)
        if public is None and hpke and signing:
            public = BrokerPublicKeys(hpke.public_key(), signing.public_key()).to_text()
        if public is None:
            raise KeyFileError(f"set {PUBLIC_KEYS_VARIABLE}: this process needs the public keys")
        return cls(BrokerPublicKeys.from_text(public), hpke=hpke, signing=signing, token=token,
                   pseudonym_secret=bytes.fromhex(secret) if secret else None)  # fmt: skip


def _held(key: K | None, purpose: Purpose) -> K:
    if key is None:
        raise KeyNotHeld(f"this process holds no broker key for {purpose.value}")
    return key


def _x25519(key: object, source: str) -> X25519PrivateKey:
    if not isinstance(key, X25519PrivateKey):
        raise KeyFileError(f"{source} holds the wrong kind of key")
    return key


def _ed25519(key: object, source: str) -> Ed25519PrivateKey:
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{source} holds the wrong kind of key")
    return key


def _from_pem(env: Mapping[str, str], purpose: Purpose, purposes: frozenset[Purpose]) -> object:
    return serialization.load_pem_private_key(env[ENVIRONMENT_KEYS[purpose]].encode(), None)


def _public_text(env: Mapping[str, str], directory: Path | None) -> str | None:
    if PUBLIC_KEYS_VARIABLE in env:
        return env[PUBLIC_KEYS_VARIABLE]
    if directory is not None and (directory / PUBLIC_FILE).exists():
        return (directory / PUBLIC_FILE).read_text()
    return None


def _write_public(path: Path, text: str) -> None:
    """Public, but written the same careful way: never through a planted link."""
    crypto.write_secret(path, text.encode(), replace=True)


def _retired_hpke(directory: Path) -> tuple[X25519PrivateKey, ...]:
    keys = [crypto.read_private_key(p)
            for p in sorted((directory / RETIRED_DIR).glob("broker-hpke-*.pem"))]  # fmt: skip
    return tuple(k for k in keys if isinstance(k, X25519PrivateKey))


def _register(
    directory: Path, store: KeyStore, retiring: KeyStore | None, not_after: datetime | None
) -> None:
    """Each key's id, purpose and validity, for operators and auditors."""
    path = directory / REGISTRY_FILE
    entries: list[dict[str, str | None]] = json.loads(path.read_text()) if path.exists() else []
    now = datetime.now(UTC).isoformat()
    if retiring is not None:
        old_ids = {crypto.key_id(retiring.hpke.public_key()),
                   crypto.key_id(retiring.signing.public_key())}  # fmt: skip
        for entry in entries:
            if entry["key_id"] in old_ids and entry["valid_until"] is None:
                entry["valid_until"] = (not_after or datetime.now(UTC)).isoformat()
    for purpose, key in (("event-hpke", store.public.hpke),
                         ("notice-signing", store.public.signing)):  # fmt: skip
        entries.append({"key_id": crypto.key_id(key), "purpose": purpose,
                        "valid_from": now, "valid_until": None})  # fmt: skip
    _write_public(path, json.dumps(entries, indent=2))


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
