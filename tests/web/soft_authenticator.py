"""A software passkey for tests: what a platform authenticator and the browser together answer
to ``navigator.credentials.create`` and ``.get`` (WebAuthn's JSON form, attestation "none",
ES256), with user presence and verification, a counter, and the PRF extension's output.

And what passkey.js does with a PRF output or a recovery key (HKDF-SHA256, AES-256-GCM with
the contact's id as associated data), so that a test can wrap and unwrap as the browser would.
"""

import hashlib
import hmac
import json
import os
import struct
from dataclasses import dataclass, field

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from broker.rules.passkeys import b64url, from_b64url

UP, UV, AT = 0x01, 0x04, 0x40
WRAP_INFO = b"sgb contact key wrap v1"
LOOKUP_INFO = b"sgb recovery lookup v1"


@dataclass
class SoftPasskey:
    rp_id: str
    origin: str
    credential_id: bytes = field(default_factory=lambda: os.urandom(32))
    private_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    prf_secret: bytes = field(default_factory=lambda: os.urandom(32))
    counter: int = 0
    user_handle: bytes = b""

    def create(self, options: dict, verified: bool = True) -> dict:
        """The answer to ``navigator.credentials.create`` with these options."""
        self.user_handle = from_b64url(options["user"]["id"])
        client_data = self._client_data("webauthn.create", options["challenge"])
        attested = bytes(16) + struct.pack(">H", len(self.credential_id)) + self.credential_id
        flags = UP | (UV if verified else 0) | AT
        auth_data = self._auth_data(flags) + attested + self.public_key()
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return self._credential({"clientDataJSON": b64url(client_data),
                                 "attestationObject": b64url(attestation),
                                 "transports": ["internal"]})  # fmt: skip

    def public_key(self) -> bytes:
        """The credential's public key as COSE (EC2, ES256), as enrolment stores it."""
        numbers = self.private_key.public_key().public_numbers()
        cose = {1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big")}  # fmt: skip
        return cbor2.dumps(cose)

    def get(self, options: dict, origin: str | None = None) -> dict:
        """The answer to ``navigator.credentials.get``: counted, signed, user verified."""
        self.counter += 1
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        auth_data = self._auth_data(UP | UV)
        signed = auth_data + hashlib.sha256(client_data).digest()
        signature = self.private_key.sign(signed, ec.ECDSA(hashes.SHA256()))
        return self._credential({"clientDataJSON": b64url(client_data),
                                 "authenticatorData": b64url(auth_data),
                                 "signature": b64url(signature),
                                 "userHandle": b64url(self.user_handle)})  # fmt: skip

    def prf(self, options: dict) -> bytes:
        """The PRF extension's ``first`` output for the options' input (as CTAP's hmac-secret:
        a secret per credential, over the input hashed with WebAuthn's context)."""
        given = from_b64url(options["extensions"]["prf"]["eval"]["first"])
        salt = hashlib.sha256(b"WebAuthn PRF\x00" + given).digest()
        return hmac.new(self.prf_secret, salt, hashlib.sha256).digest()

    def _client_data(self, kind: str, challenge: str, origin: str | None = None) -> bytes:
        said = {"type": kind, "challenge": challenge, "origin": origin or self.origin,
                "crossOrigin": False}  # fmt: skip
        return json.dumps(said).encode()

    def _auth_data(self, flags: int) -> bytes:
        rp_hash = hashlib.sha256(self.rp_id.encode()).digest()
        return rp_hash + bytes([flags]) + struct.pack(">I", self.counter)

    def _credential(self, response: dict) -> dict:
        return {"id": b64url(self.credential_id), "rawId": b64url(self.credential_id),
                "type": "public-key", "response": response, "clientExtensionResults": {},
                "authenticatorAttachment": "platform"}  # fmt: skip


def wrap(secret: bytes, key_material: bytes, contact_id: str) -> dict:
    """The contact's key wrapped as passkey.js wraps it (a ``WrappedKey``)."""
    salt, iv = os.urandom(32), os.urandom(12)
    aead = AESGCM(_wrapping_key(key_material, salt))
    sealed = aead.encrypt(iv, secret, contact_id.encode())
    return {"version": 1, "salt": b64url(salt), "iv": b64url(iv), "ciphertext": b64url(sealed)}


def unwrap(wrapped: dict, key_material: bytes, contact_id: str) -> bytes:
    aead = AESGCM(_wrapping_key(key_material, from_b64url(wrapped["salt"])))
    return aead.decrypt(from_b64url(wrapped["iv"]), from_b64url(wrapped["ciphertext"]),
                        contact_id.encode())  # fmt: skip


def recovery_lookup(recovery_key: bytes) -> str:
    """What the browser sends to find the person a recovery key is for (it unwraps nothing)."""
    return b64url(HKDF(hashes.SHA256(), 32, salt=None, info=LOOKUP_INFO).derive(recovery_key))


def _wrapping_key(key_material: bytes, salt: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt=salt, info=WRAP_INFO).derive(key_material)
