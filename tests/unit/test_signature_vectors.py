"""docs/test-vectors against the project's own code: the documentation cannot drift from it."""

import re

import jwt
import pytest
import signature_vectors as vectors

from broker.entrypoints.gateway import parse_signature_header
from broker.services.fhir_proof import FHIR_SIGNATURE_CONTEXT, verify_fhir_body
from producers import crypto

TITLED_BLOCK = re.compile(r'^```sh title="([^"]+)"\n(.*?)^```', re.MULTILINE | re.DOTALL)


def text(name: str) -> str:
    return (vectors.VECTORS / name).read_text().strip()


def raw(name: str) -> bytes:
    return (vectors.VECTORS / name).read_bytes()


class TestVectorFiles:
    @pytest.mark.parametrize("name", sorted(vectors.rendered()))
    def test_each_file_is_what_the_code_computes(self, name: str) -> None:
        """Every vector file is byte for byte what the project's code makes from the fixed
        inputs (run ``python -m tests.signature_vectors`` after changing the scheme)."""
        assert raw(name) == vectors.rendered()[name]


class TestEventVector:
    def test_signed_bytes_are_the_context_line_then_the_body_as_sent(self) -> None:
        """The signed bytes are ``sgb/event-signature/v1`` and a newline, then the event file's
        bytes unchanged (its indentation and final newline included)."""
        signed = bytes.fromhex(text("event.signed-bytes.hex"))
        assert signed == b"sgb/event-signature/v1\n" + raw("event.json")
        assert signed.startswith(crypto.EVENT_SIGNATURE_CONTEXT)

    def test_signature_verifies_with_the_registered_public_key(self) -> None:
        """The documented signature holds under the documented public key, as the gateway
        and the router check it."""
        public = crypto.signing_public_from_text(text("public-key.b64"))
        signature = crypto.b64decode(text("event.signature.b64"))
        crypto.verify_event_bytes(public, raw("event.json"), signature)

    def test_key_id_is_the_start_of_the_raw_public_keys_sha256(self) -> None:
        """The key id is the first 16 hex digits of SHA-256 over the 32 raw public key bytes."""
        public = crypto.signing_public_from_text(text("public-key.b64"))
        assert text("key-id.txt") == crypto.key_id(public)

    def test_header_is_what_the_gateway_parses(self) -> None:
        """The documented Sgb-Signature value parses into the key id and the signature."""
        key_id, signature = parse_signature_header(text("event.sgb-signature.txt"))
        assert key_id == text("key-id.txt")
        assert signature == crypto.b64decode(text("event.signature.b64"))


class TestFhirVector:
    def test_signature_verifies_over_the_fhir_context_and_body(self) -> None:
        """A FHIR body's signature is over ``sgb/fhir-signature/v1`` and a newline, then the
        body as sent, and holds under the same key."""
        body = raw("fhir-appointment.json")
        assert bytes.fromhex(text("fhir.signed-bytes.hex")) == FHIR_SIGNATURE_CONTEXT + body
        public = crypto.signing_public_from_text(text("public-key.b64"))
        verify_fhir_body(public, body, crypto.b64decode(text("fhir.signature.b64")))


class TestClientAssertionVector:
    def test_assertion_holds_under_the_key_with_its_documented_claims(self) -> None:
        """The documented client assertion is an EdDSA JWT naming the key id, with the
        claims the token endpoint requires."""
        token = text("client-assertion.jwt")
        public = crypto.signing_public_from_text(text("public-key.b64"))
        claims = jwt.decode(token, public, algorithms=["EdDSA"], audience=vectors.TOKEN_URL,
                            options={"verify_exp": False})  # fmt: skip
        assert jwt.get_unverified_header(token) == {"alg": "EdDSA", "kid": text("key-id.txt"),
                                                    "typ": "JWT"}  # fmt: skip
        assert claims == {"iss": vectors.ORG, "sub": vectors.ORG, "aud": vectors.TOKEN_URL,
                          "iat": vectors.ASSERTION_IAT, "exp": vectors.ASSERTION_IAT + 60,
                          "jti": vectors.ASSERTION_JTI}  # fmt: skip


class TestWorkedExampleCopies:
    def test_readme_blocks_are_the_tested_ones(self) -> None:
        """A titled ``sh`` block of the README with the title of one in docs/event-signature.md
        is that block, character for character: the integration test runs the page's
        (tests/integration/test_openssl_example.py), so the README's copy is tested too."""
        root = vectors.VECTORS.parent.parent
        page = dict(TITLED_BLOCK.findall((root / "docs" / "event-signature.md").read_text()))
        readme = TITLED_BLOCK.findall((root / "README.md").read_text())
        assert [(t, b) for t, b in readme if t in page and page[t] != b] == []
