"""The FHIR body as an event's proof (broker.services.fhir_proof): what the router accepts."""

import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from broker.entrypoints.fhir_http import MAX_BODY
from broker.errors import EventMismatch, SignatureInvalid
from broker.rules.fhir_mapping import events_from_fhir
from broker.services import fhir_proof
from producers import crypto
from producers.envelopes import seal_event, sign_event, signed_from_bytes
from schemas.events import EventAdapter, PresentingCategory
from schemas.transport import EventHeader, SignedEvent

from .resources import BUNDLE, ENCOUNTER, HERE, body, resource

pytestmark = pytest.mark.fhir
TRUST = "acute-demo"
KEY = Ed25519PrivateKey.generate()


def signed(endpoint: str = "Encounter", name: str = ENCOUNTER, index: int = 0) -> SignedEvent:
    raw = (HERE / name).read_bytes()  # as written, its layout and final newline included
    return signed_over(raw, endpoint, index)


def signed_over(raw: bytes, endpoint: str = "Encounter", index: int = 0) -> SignedEvent:
    event = events_from_fhir(raw, endpoint, TRUST)[index]
    return fhir_proof.signed_fhir_event(event, endpoint, raw, fhir_proof.sign_fhir_body(KEY, raw),
                                        crypto.key_id(KEY.public_key()))  # fmt: skip


def header_for(proof: SignedEvent) -> EventHeader:
    event = proof.event()
    return EventHeader(event_id=event.event_id, source_org=event.source_org, broker_key_id="k")


class TestVerifiedFhirEvents:
    def test_genuine_event_is_verified(self) -> None:
        """The event the signed body maps to, with the sender's key, is the event."""
        proof = signed()
        assert fhir_proof.verified(proof, header_for(proof), KEY.public_key()) == proof.event()

    def test_each_bundle_entry_is_verified_against_the_whole_bundle(self) -> None:
        """Every event of a Bundle carries the Bundle, and each verifies."""
        for index in (0, 1):
            proof = signed("Bundle", BUNDLE, index)
            assert fhir_proof.verified(proof, header_for(proof), KEY.public_key())

    def test_event_changed_from_its_body_is_refused(self) -> None:
        """An event claiming more than the signed body says is a mismatch, even with a good
        signature over the body."""
        proof = signed()
        changed = proof.event().model_copy(
            update={"presenting_category": PresentingCategory.SELF_HARM}
        )
        forged = proof.model_copy(update={"event_json": EventAdapter.dump_json(changed).decode()})
        with pytest.raises(EventMismatch):
            fhir_proof.verified(forged, header_for(proof), KEY.public_key())

    def test_body_changed_after_signing_is_refused(self) -> None:
        """The signature covers the body's exact bytes."""
        proof = signed()
        assert proof.fhir is not None
        other = proof.fhir.model_copy(update={"body": proof.fhir.body + " "})
        with pytest.raises(SignatureInvalid):
            fhir_proof.verified(proof.model_copy(update={"fhir": other}), header_for(proof),
                                KEY.public_key())  # fmt: skip

    def test_other_key_is_refused(self) -> None:
        """Another organisation's key does not verify the body."""
        proof = signed()
        with pytest.raises(SignatureInvalid):
            fhir_proof.verified(proof, header_for(proof), Ed25519PrivateKey.generate().public_key())

    def test_header_naming_another_event_is_refused(self) -> None:
        """The cleartext header must name the signed event."""
        proof = signed()
        header = header_for(proof).model_copy(update={"event_id": uuid.uuid4()})
        with pytest.raises(EventMismatch):
            fhir_proof.verified(proof, header, KEY.public_key())

    def test_whitespace_around_the_body_is_kept(self) -> None:
        """A body signed with a final newline (curl -d @file) still verifies at the router:
        the proof keeps the body's bytes exactly, through JSON and back."""
        proof = SignedEvent.model_validate_json(signed().model_dump_json())
        assert proof.fhir is not None
        assert proof.fhir.body.endswith("}\n")
        assert fhir_proof.verified(proof, header_for(proof), KEY.public_key())

    def test_native_event_signed_with_a_final_newline_verifies(self) -> None:
        """The same for an event posted at /v1/events with a final newline."""
        event = signed().event()
        raw = EventAdapter.dump_json(event) + b"\n"
        native = signed_from_bytes(raw, crypto.sign_event_bytes(KEY, raw), "k")
        assert fhir_proof.verified(native, header_for(native), KEY.public_key()) == event

    def test_native_events_verify_as_before(self) -> None:
        """An event without a FHIR body is checked over its own bytes, unchanged."""
        event = signed().event()
        native = sign_event(event, KEY)
        assert native.fhir is None
        assert fhir_proof.verified(native, header_for(native), KEY.public_key()) == event

    def test_fhir_signature_does_not_verify_an_event(self) -> None:
        """A FHIR body's signature, moved onto the event's own bytes, does not verify."""
        proof = signed()
        moved = proof.model_copy(update={"fhir": None})
        with pytest.raises(SignatureInvalid):
            fhir_proof.verified(moved, header_for(proof), KEY.public_key())


class TestProofSize:
    def test_largest_body_fits_one_kafka_record(self) -> None:
        """A body at the gateway's limit, of the worst escaping JSON allows (every character
        of it an escaped quote), sealed with its event still fits a 1 MiB Kafka record."""
        data = resource(ENCOUNTER)
        room = MAX_BODY - len(body(data)) - 64
        data["reasonCode"][0]["text"] = '"' * (room // 2)
        raw = body(data)
        assert MAX_BODY - 256 < len(raw) <= MAX_BODY
        proof = signed_over(raw)
        event = proof.event()
        header = EventHeader(event_id=event.event_id, source_org=TRUST, broker_key_id="k")
        sealed = seal_event(proof, header, X25519PrivateKey.generate().public_key())
        assert len(sealed.model_dump_json().encode()) < 1024 * 1024
