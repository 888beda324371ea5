"""The vectors say what the producers' own code does, and the scripts' hashes are recorded."""

from typing import Any

import pytest

from browser import integrity, vectors
from producers import envelopes
from producers.broker_keys import BrokerPublicKeys
from producers.errors import DecryptionFailed, SignatureInvalid
from schemas.notices import NoticeHeader, SealedNotice

DOCUMENT = vectors.build()
PYTHON_ERROR = {
    "bad-signature": SignatureInvalid,
    "unknown-key": SignatureInvalid,
    "retired-key": SignatureInvalid,
    # Python opens with whatever key it is given, so a notice for another key fails to decrypt.
    "wrong-key": DecryptionFailed,
    "decryption": DecryptionFailed,
}


def python_open(vector: dict[str, Any]) -> dict[str, Any]:
    sealed = SealedNotice.model_validate(vector["sealed"])
    header = NoticeHeader.model_validate_json(sealed.header)
    broker = BrokerPublicKeys.from_text(DOCUMENT["broker_public"])
    signer = broker.signing_key(header.signing_key_id, header.created_at)
    key = vectors.private_key(DOCUMENT, vector["key"])
    _, body = envelopes.open_notice(sealed, key, signer)
    return body.model_dump(mode="json")


def ids(vector: dict[str, Any]) -> str:
    return str(vector["name"])


class TestVectorsAgreeWithPython:
    @pytest.mark.parametrize(
        "vector", [v for v in DOCUMENT["vectors"] if "body" in v["expect"]], ids=ids
    )
    def test_good_vectors_open_to_their_body(self, vector: dict[str, Any]) -> None:
        """Python's open_notice gives each good vector's expected body."""
        assert python_open(vector) == vector["expect"]["body"]

    @pytest.mark.parametrize(
        "vector", [v for v in DOCUMENT["vectors"] if "error" in v["expect"]], ids=ids
    )
    def test_tampered_vectors_are_refused(self, vector: dict[str, Any]) -> None:
        """Python refuses each tampered vector too, with the matching error."""
        with pytest.raises(PYTHON_ERROR[vector["expect"]["error"]]):
            python_open(vector)

    def test_both_suites_are_covered(self) -> None:
        """Good and tampered vectors exist for the classic and the hybrid suite."""
        suites = {(v["key"], "body" in v["expect"]) for v in DOCUMENT["vectors"]}
        assert suites >= {
            ("classic", True),
            ("classic", False),
            ("hybrid", True),
            ("hybrid", False),
        }


class TestIntegrityManifest:
    def test_recorded_hashes_are_the_files_hashes(self) -> None:
        """integrity.json holds each script's current sha384 (rerun integrity.py if not)."""
        assert integrity.recorded() == integrity.current()
