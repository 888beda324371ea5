"""What the web inbox's passkey pages send the broker (static/js/passkey.js): a WebAuthn
credential as the browser answered a ceremony, and the contact's private key wrapped in the
browser. The broker keeps a wrapped key and hands it back; it never sees what unwraps it.

A wrapped key is AES-256-GCM under a key that HKDF-SHA256 derives (this ``salt``, info
``sgb contact key wrap v1``) from a passkey's PRF output or from the printed recovery key,
with the contact's id as associated data (a blob moved to another contact does not open).
Its plaintext is the contact's 32-byte X25519 private key, or a hybrid key's 96 secret bytes.
"""

import base64
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, model_validator

from schemas.common import Contract

B64URL = r"^[A-Za-z0-9_-]+$"
B64Url = Annotated[str, StringConstraints(pattern=B64URL, max_length=2048)]
"""Unpadded base64url, as WebAuthn's JSON forms write bytes."""
Bytes32 = Annotated[str, StringConstraints(pattern=B64URL, min_length=43, max_length=43)]
"""32 bytes as unpadded base64url."""
Bytes12 = Annotated[str, StringConstraints(pattern=B64URL, min_length=16, max_length=16)]
# An X25519 key (32 bytes) or a hybrid key's secret (96), each with GCM's 16-byte tag.
WRAPPED_LENGTHS = frozenset({32 + 16, 96 + 16})
# A WebAuthn credential as JSON is a few hundred bytes; attestation certificates a few KB.
MAX_CREDENTIAL_FIELDS = 10


def _bytes(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class WrappedKey(Contract):
    """The contact's private key as the browser wrapped it."""

    version: Literal[1] = 1
    salt: Bytes32 = Field(description="HKDF's salt")
    iv: Bytes12 = Field(description="GCM's nonce")
    ciphertext: B64Url = Field(description="the key and GCM's tag: 48 or 112 bytes")

    @model_validator(mode="after")
    def _a_key_long(self) -> "WrappedKey":
        if len(_bytes(self.ciphertext)) not in WRAPPED_LENGTHS:
            raise ValueError("a wrapped key is 48 bytes (X25519) or 112 (hybrid)")
        return self


class RecoveryWrap(Contract):
    """The key wrapped under the recovery key, and the lookup that finds it again: a second
    HKDF output of the recovery key (info ``sgb recovery lookup v1``), which unwraps nothing."""

    lookup: Bytes32
    wrapped_key: WrappedKey


class CredentialAnswer(Contract):
    """A ceremony's answer: its challenge, and the credential as ``PublicKeyCredential``'s
    JSON form (``clientExtensionResults`` must not carry PRF results: they are secrets)."""

    challenge: Bytes32
    credential: dict[str, Any] = Field(max_length=MAX_CREDENTIAL_FIELDS)

    @model_validator(mode="after")
    def _no_prf_results(self) -> "CredentialAnswer":
        extensions = self.credential.get("clientExtensionResults") or {}
        if isinstance(extensions, dict) and "results" in (extensions.get("prf") or {}):
            raise ValueError("a PRF result never leaves the browser")
        return self


class EnrolmentAnswer(CredentialAnswer):
    """A new person's passkey, the contact's key wrapped under it and under the recovery key."""

    wrapped_key: WrappedKey
    recovery: RecoveryWrap


class RecoveryAnswer(CredentialAnswer):
    """A passkey enrolled with the recovery key: in place of the person's others (lost, or in
    the wrong hands), or beside them when ``keep_others`` (a second device). A replacement
    carries a new recovery key's wrap, made in the browser and shown there once: whoever may
    hold the passkeys replaced may hold the recovery key too, and it stops working. Adding a
    device keeps the recovery key (nothing was lost)."""

    wrapped_key: WrappedKey
    keep_others: bool = False
    # The recovery key's lookup, as sent for the options: the passkey is set up only while
    # that key is still the person's (another replacement may have renewed it meanwhile).
    used: Bytes32
    recovery: RecoveryWrap | None = None

    @model_validator(mode="after")
    def _new_recovery_key_when_replacing(self) -> "RecoveryAnswer":
        if self.keep_others and self.recovery is not None:
            raise ValueError("adding a device keeps the recovery key: send no new one")
        if not self.keep_others and self.recovery is None:
            raise ValueError("replacing the passkeys needs a new recovery key (recovery)")
        return self


class RecoveryLookup(Contract):
    lookup: Bytes32
    # Adding a device (``RecoveryAnswer.keep_others``): the options exclude the person's
    # passkeys, so that a device holding one is not given a second in its place.
    keep_others: bool = False


CeremonyName = Literal["registration", "authentication", "recovery"]
# The DOMException names WebAuthn's calls reject with (Web Authentication level 3, and
# UnknownError for anything else a browser or authenticator gives up with).
BrowserError = Literal[
    "NotAllowedError",  # cancelled by the person, timed out, or no passkey for this site
    "AbortError",  # the call was aborted
    "InvalidStateError",  # this authenticator already holds a passkey for this person
    "SecurityError",  # the page's address is not the relying party's
    "NotSupportedError",  # no authenticator does what was asked
    "ConstraintError",  # e.g. user verification or a resident key unavailable
    "UnknownError",
]


class CeremonyFailure(Contract):
    """A passkey ceremony that failed in the browser (the WebAuthn promise rejected), which
    would otherwise never reach the broker: its kind and the error's name, nothing else."""

    ceremony: CeremonyName
    error: BrowserError
