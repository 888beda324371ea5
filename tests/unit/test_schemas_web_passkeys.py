"""What the passkey pages may send: a wrapped key of an X25519 or hybrid key's length, a
recovery lookup of 32 bytes, and never a PRF result."""

import os

import pytest
from pydantic import ValidationError

from broker.rules.passkeys import b64url
from schemas.web_passkeys import CredentialAnswer, RecoveryLookup, WrappedKey

CHALLENGE = b64url(os.urandom(32))


def wrapped(length: int) -> dict[str, object]:
    return {"salt": b64url(os.urandom(32)), "iv": b64url(os.urandom(12)),
            "ciphertext": b64url(os.urandom(length))}  # fmt: skip


class TestWrappedKey:
    @pytest.mark.parametrize("length", [48, 112])
    def test_an_x25519_or_hybrid_key(self, length: int) -> None:
        """32 or 96 bytes of key, each with GCM's 16-byte tag."""
        assert WrappedKey.model_validate(wrapped(length)).version == 1

    @pytest.mark.parametrize("length", [0, 32, 47, 49, 111, 200])
    def test_any_other_length_is_refused(self, length: int) -> None:
        """A blob of another length is not a wrapped key this inbox made."""
        with pytest.raises(ValidationError):
            WrappedKey.model_validate(wrapped(length))

    def test_no_unknown_field(self) -> None:
        """A field nobody agreed on (a plaintext key, say) is refused."""
        with pytest.raises(ValidationError):
            WrappedKey.model_validate(wrapped(48) | {"key": "AAAA"})


class TestCredentialAnswer:
    def test_a_prf_result_is_refused_without_quoting_it(self) -> None:
        """PRF results never leave the browser; the error does not repeat them."""
        credential = {
            "id": "x",
            "clientExtensionResults": {"prf": {"results": {"first": "SECRET"}}},
        }
        with pytest.raises(ValidationError) as raised:
            CredentialAnswer.model_validate({"challenge": CHALLENGE, "credential": credential})
        assert "SECRET" not in str(raised.value)

    def test_prf_enabled_alone_is_taken(self) -> None:
        """Saying the PRF is enabled is not a secret."""
        credential = {"id": "x", "clientExtensionResults": {"prf": {"enabled": True}}}
        answer = CredentialAnswer.model_validate({"challenge": CHALLENGE, "credential": credential})
        assert answer.credential["id"] == "x"


class TestRecoveryLookup:
    @pytest.mark.parametrize("lookup", ["", "short", "A" * 44, "+" * 43])
    def test_only_32_bytes_of_base64url(self, lookup: str) -> None:
        """A lookup is 43 base64url characters."""
        with pytest.raises(ValidationError):
            RecoveryLookup.model_validate({"lookup": lookup})
