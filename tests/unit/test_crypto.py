"""HPKE sealing, Ed25519 signatures, sealed envelopes and key files."""

import stat
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.errors import (
    DecryptionFailed,
    EventMismatch,
    KeyFileError,
    KeyNotHeld,
    SignatureInvalid,
)
from broker.keys import (
    ALL_PURPOSES,
    HPKE_FILE,
    PROCESS_KEYS,
    PUBLIC_FILE,
    REGISTRY_FILE,
    SIGNING_FILE,
    KeyStore,
)
from producers import crypto, envelopes
from producers.broker_keys import BrokerPublicKeys
from schemas.events import EventType
from schemas.notices import NoticeBody, NoticeHeader, NoticeType, SealedNotice, Severity
from schemas.transport import EventHeader, SealedEvent
from unit.builders import crisis_payload, event

RECIPIENT = X25519PrivateKey.generate()
STRANGER = X25519PrivateKey.generate()
SIGNER = Ed25519PrivateKey.generate()
OTHER_SIGNER = Ed25519PrivateKey.generate()
HEADER = b'{"notice_id": "n-1"}'
PLAINTEXT = b"the body only the recipient reads"
NOW = datetime(2027, 5, 10, 10, 0, tzinfo=UTC)


def sealed(purpose: bytes = crypto.NOTICE_PURPOSE, header: bytes = HEADER) -> bytes:
    return crypto.seal(PLAINTEXT, RECIPIENT.public_key(), purpose=purpose, header=header)


def flip(data: bytes, index: int = -1) -> bytes:
    changed = bytearray(data)
    changed[index] ^= 0x01
    return bytes(changed)


def notice_header() -> NoticeHeader:
    return NoticeHeader(
        notice_id=uuid.uuid4(),
        event_id=uuid.uuid4(),
        household="hh-pseudonym",
        recipient_id="school-oakfield:key_adult",
        recipient_org="school-oakfield",
        notice_type=NoticeType.SCHOOL_SUPPORT,
        severity=Severity.HIGH,
        created_at=NOW,
        deadline=NOW + timedelta(hours=4),
        recipient_key_id=crypto.key_id(RECIPIENT.public_key()),
        signing_key_id=crypto.key_id(SIGNER.public_key()),
    )


def notice_body() -> NoticeBody:
    return NoticeBody(
        summary="Something has happened at home.",
        event_type="parent_mental_health_crisis",
        occurred_at=NOW,
        source_org="mh-demo",
        facts={"child_present": True},
    )


def sealed_notice() -> SealedNotice:
    return envelopes.seal_notice(notice_header(), notice_body(), RECIPIENT.public_key(), SIGNER)


def event_header() -> EventHeader:
    return EventHeader(
        event_id=uuid.uuid4(),
        event_type=EventType.PARENT_MENTAL_HEALTH_CRISIS,
        source_org="mh-demo",
        received_at=NOW,
        broker_key_id=crypto.key_id(RECIPIENT.public_key()),
    )


class TestHpke:
    def test_round_trip(self) -> None:
        """What is sealed to a key opens with its private half and the same header."""
        opened = crypto.unseal(sealed(), RECIPIENT, purpose=crypto.NOTICE_PURPOSE, header=HEADER)
        assert opened == PLAINTEXT

    def test_ciphertext_hides_the_plaintext(self) -> None:
        """The plaintext does not appear in the ciphertext."""
        assert PLAINTEXT not in sealed()

    def test_wrong_private_key(self) -> None:
        """Another recipient's key does not open the ciphertext."""
        with pytest.raises(DecryptionFailed):
            crypto.unseal(sealed(), STRANGER, purpose=crypto.NOTICE_PURPOSE, header=HEADER)

    def test_tampered_header(self) -> None:
        """A changed header (bound in HPKE's info) makes the ciphertext fail to open."""
        with pytest.raises(DecryptionFailed):
            crypto.unseal(sealed(), RECIPIENT, purpose=crypto.NOTICE_PURPOSE, header=flip(HEADER))

    @pytest.mark.parametrize("index", [0, 40, -1])
    def test_flipped_ciphertext_byte(self, index: int) -> None:
        """One flipped bit anywhere in the ciphertext fails the AEAD tag."""
        with pytest.raises(DecryptionFailed):
            crypto.unseal(
                flip(sealed(), index), RECIPIENT, purpose=crypto.NOTICE_PURPOSE, header=HEADER
            )

    def test_truncated_ciphertext(self) -> None:
        """A ciphertext cut short fails cleanly as DecryptionFailed."""
        with pytest.raises(DecryptionFailed):
            crypto.unseal(sealed()[:20], RECIPIENT, purpose=crypto.NOTICE_PURPOSE, header=HEADER)

    @pytest.mark.parametrize(
        ("sealed_for", "opened_as"),
        [
            (crypto.EVENT_PURPOSE, crypto.NOTICE_PURPOSE),
            (crypto.NOTICE_PURPOSE, crypto.EVENT_PURPOSE),
        ],
    )
    def test_purposes_do_not_open_each_other(self, sealed_for: bytes, opened_as: bytes) -> None:
        """A ciphertext sealed for events does not open as a notice, and the other way round."""
        with pytest.raises(DecryptionFailed):
            crypto.unseal(sealed(sealed_for), RECIPIENT, purpose=opened_as, header=HEADER)

    @settings(max_examples=50, deadline=None)
    @given(plaintext=st.binary(max_size=2048), header=st.binary(max_size=512))
    def test_round_trip_for_any_bytes(self, plaintext: bytes, header: bytes) -> None:
        """Any plaintext sealed with any header opens to the same plaintext."""
        ciphertext = crypto.seal(
            plaintext, RECIPIENT.public_key(), purpose=crypto.EVENT_PURPOSE, header=header
        )
        assert (
            crypto.unseal(ciphertext, RECIPIENT, purpose=crypto.EVENT_PURPOSE, header=header)
            == plaintext
        )


class TestSignatures:
    CIPHERTEXT = b"\x00\x01ciphertext-bytes\xff"

    def signature(self) -> bytes:
        return crypto.sign(SIGNER, HEADER, self.CIPHERTEXT)

    def test_valid_signature_verifies(self) -> None:
        """A signature over the header and ciphertext verifies with the signer's public key."""
        crypto.verify(SIGNER.public_key(), HEADER, self.CIPHERTEXT, self.signature())

    def test_bad_signature(self) -> None:
        """A corrupted signature is rejected."""
        with pytest.raises(SignatureInvalid):
            crypto.verify(SIGNER.public_key(), HEADER, self.CIPHERTEXT, flip(self.signature()))

    def test_signature_by_another_key(self) -> None:
        """A signature made by another key is rejected."""
        other = crypto.sign(OTHER_SIGNER, HEADER, self.CIPHERTEXT)
        with pytest.raises(SignatureInvalid):
            crypto.verify(SIGNER.public_key(), HEADER, self.CIPHERTEXT, other)

    def test_changed_header(self) -> None:
        """A changed header no longer matches the signature."""
        with pytest.raises(SignatureInvalid):
            crypto.verify(SIGNER.public_key(), flip(HEADER), self.CIPHERTEXT, self.signature())

    def test_changed_ciphertext(self) -> None:
        """A changed ciphertext no longer matches the signature."""
        with pytest.raises(SignatureInvalid):
            crypto.verify(SIGNER.public_key(), HEADER, flip(self.CIPHERTEXT), self.signature())

    @pytest.mark.parametrize(
        ("header", "ciphertext"),
        [
            (HEADER + CIPHERTEXT[:1], CIPHERTEXT[1:]),
            (HEADER[:-1], HEADER[-1:] + CIPHERTEXT),
        ],
        ids=["byte-into-header", "byte-into-ciphertext"],
    )
    def test_moving_bytes_across_the_boundary(self, header: bytes, ciphertext: bytes) -> None:
        """Moving a byte between header and ciphertext (same concatenation) fails verification."""
        assert header + ciphertext == HEADER + self.CIPHERTEXT
        with pytest.raises(SignatureInvalid):
            crypto.verify(SIGNER.public_key(), header, ciphertext, self.signature())


class TestNoticeEnvelope:
    def test_round_trip(self) -> None:
        """A sealed notice opens to the same header and body."""
        header, body = notice_header(), notice_body()
        sealed_ = envelopes.seal_notice(header, body, RECIPIENT.public_key(), SIGNER)
        assert envelopes.open_notice(sealed_, RECIPIENT, SIGNER.public_key()) == (header, body)

    def test_body_is_not_in_the_clear(self) -> None:
        """The sealed notice's text does not contain the body's summary."""
        assert "Something has happened" not in sealed_notice().model_dump_json()

    def test_wrong_recipient_key(self) -> None:
        """Another recipient's private key does not open the notice."""
        with pytest.raises(DecryptionFailed):
            envelopes.open_notice(sealed_notice(), STRANGER, SIGNER.public_key())

    def test_tampered_header_fails_the_signature_first(self) -> None:
        """A changed header text is caught by the signature before any decryption."""
        original = sealed_notice()
        header = original.header.replace('"severity":"high"', '"severity":"low"')
        assert header != original.header
        with pytest.raises(SignatureInvalid):
            envelopes.open_notice(
                original.model_copy(update={"header": header}), RECIPIENT, SIGNER.public_key()
            )

    def test_tampered_ciphertext(self) -> None:
        """A flipped ciphertext byte fails the signature check."""
        original = sealed_notice()
        ciphertext = crypto.b64encode(flip(crypto.b64decode(original.ciphertext)))
        with pytest.raises(SignatureInvalid):
            envelopes.open_notice(
                original.model_copy(update={"ciphertext": ciphertext}),
                RECIPIENT,
                SIGNER.public_key(),
            )

    def test_signed_by_another_broker_key(self) -> None:
        """A notice signed by a key other than the broker's is rejected."""
        forged = envelopes.seal_notice(
            notice_header(), notice_body(), RECIPIENT.public_key(), OTHER_SIGNER
        )
        with pytest.raises(SignatureInvalid):
            envelopes.open_notice(forged, RECIPIENT, SIGNER.public_key())

    def test_notice_is_not_openable_as_an_event(self) -> None:
        """A notice's ciphertext presented as an event fails to open (different purpose)."""
        notice = sealed_notice()
        as_event = SealedEvent(header=notice.header, ciphertext=notice.ciphertext)
        with pytest.raises(DecryptionFailed):
            envelopes.open_event(as_event, RECIPIENT)


class TestEventEnvelope:
    def test_round_trip(self) -> None:
        """A sealed event opens to the same header and the producer's signed event."""
        original = event(crisis_payload())
        header = event_header().model_copy(update={"event_id": original.event_id})
        signed = envelopes.sign_event(original, SIGNER)
        sealed_ = envelopes.seal_event(signed, header, RECIPIENT.public_key())
        opened_header, opened = envelopes.open_event(sealed_, RECIPIENT)
        assert (opened_header, opened) == (header, signed)
        assert envelopes.verified_event(opened, opened_header, SIGNER.public_key()) == original

    def test_producer_signature_by_another_key_fails(self) -> None:
        """An event signed by a key other than its producer's registered one is refused."""
        original = event(crisis_payload())
        header = event_header().model_copy(update={"event_id": original.event_id})
        signed = envelopes.sign_event(original, OTHER_SIGNER)
        with pytest.raises(SignatureInvalid):
            envelopes.verified_event(signed, header, SIGNER.public_key())

    def test_signed_event_must_match_its_header(self) -> None:
        """A validly signed event under another event's header is refused."""
        signed = envelopes.sign_event(event(crisis_payload()), SIGNER)
        with pytest.raises(EventMismatch):
            envelopes.verified_event(signed, event_header(), SIGNER.public_key())

    def test_legacy_header_naming_another_event_type_is_refused(self) -> None:
        """An older producer's header that still names an event type must name the signed
        event's own."""
        original = event(crisis_payload())
        header = event_header().model_copy(
            update={"event_id": original.event_id, "event_type": "ed_attendance"}
        )
        signed = envelopes.sign_event(original, SIGNER)
        with pytest.raises(EventMismatch):
            envelopes.verified_event(signed, header, SIGNER.public_key())

    def test_changed_event_text_fails_its_signature(self) -> None:
        """Changing a signed event's text breaks its signature."""
        original = event(crisis_payload())
        header = event_header().model_copy(update={"event_id": original.event_id})
        signed = envelopes.sign_event(original, SIGNER)
        changed = signed.model_copy(
            update={"event_json": signed.event_json.replace("mh-demo", "police-demo")}
        )
        with pytest.raises(SignatureInvalid):
            envelopes.verified_event(changed, header, SIGNER.public_key())

    def test_wrong_broker_key(self) -> None:
        """An event sealed to the broker does not open with another key."""
        sealed_ = envelopes.seal_event(
            envelopes.sign_event(event(crisis_payload()), SIGNER),
            event_header(),
            RECIPIENT.public_key(),
        )
        with pytest.raises(DecryptionFailed):
            envelopes.open_event(sealed_, STRANGER)

    def test_tampered_header(self) -> None:
        """A changed event header (bound into the encryption) fails to open."""
        sealed_ = envelopes.seal_event(
            envelopes.sign_event(event(crisis_payload()), SIGNER),
            event_header(),
            RECIPIENT.public_key(),
        )
        header = sealed_.header.replace("mh-demo", "police-demo")
        with pytest.raises(DecryptionFailed):
            envelopes.open_event(sealed_.model_copy(update={"header": header}), RECIPIENT)

    def test_event_is_not_openable_as_a_notice_body(self) -> None:
        """An event's ciphertext, even correctly signed as a notice, does not open as a notice."""
        sealed_ = envelopes.seal_event(
            envelopes.sign_event(event(crisis_payload()), SIGNER),
            event_header(),
            RECIPIENT.public_key(),
        )
        ciphertext = crypto.b64decode(sealed_.ciphertext)
        signature = crypto.sign(SIGNER, sealed_.header.encode(), ciphertext)
        as_notice = SealedNotice(
            header=sealed_.header,
            ciphertext=sealed_.ciphertext,
            signature=crypto.b64encode(signature),
        )
        with pytest.raises(DecryptionFailed):
            envelopes.open_notice(as_notice, RECIPIENT, SIGNER.public_key())


class TestKeyFiles:
    def test_private_key_written_owner_only(self, tmp_path: Path) -> None:
        """write_private_key creates the file with mode 0600."""
        path = tmp_path / "keys" / "k.pem"
        crypto.write_private_key(path, X25519PrivateKey.generate())
        assert stat.S_IMODE(path.stat().st_mode) == 0o600

    @pytest.mark.parametrize("key", [X25519PrivateKey.generate(), Ed25519PrivateKey.generate()])
    def test_private_key_round_trip(
        self, tmp_path: Path, key: X25519PrivateKey | Ed25519PrivateKey
    ) -> None:
        """A written key reads back as the same key."""
        path = tmp_path / "k.pem"
        crypto.write_private_key(path, key)
        assert crypto.raw_public(crypto.read_private_key(path).public_key()) == crypto.raw_public(
            key.public_key()
        )

    @pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
    def test_refuses_a_key_others_can_read(self, tmp_path: Path, mode: int) -> None:
        """read_private_key refuses a file group or others can read."""
        path = tmp_path / "k.pem"
        crypto.write_private_key(path, X25519PrivateKey.generate())
        path.chmod(mode)
        with pytest.raises(KeyFileError):
            crypto.read_private_key(path)

    def test_missing_key_file(self, tmp_path: Path) -> None:
        """A missing key file is a KeyFileError."""
        with pytest.raises(KeyFileError):
            crypto.read_private_key(tmp_path / "absent.pem")

    def test_garbage_key_file(self, tmp_path: Path) -> None:
        """A file that is not a PEM key is a KeyFileError."""
        path = tmp_path / "k.pem"
        crypto.write_secret(path, b"not a key")
        with pytest.raises(KeyFileError):
            crypto.read_private_key(path)


class TestKeyStore:
    def test_create_then_load(self, tmp_path: Path) -> None:
        """Keys created in a directory load back as the same keys."""
        created = KeyStore.create(tmp_path)
        loaded = KeyStore.load(tmp_path)
        assert loaded.public.to_text() == created.public.to_text()
        assert loaded.pseudonym_secret == created.pseudonym_secret

    def test_create_refuses_to_overwrite(self, tmp_path: Path) -> None:
        """KeyStore.create will not replace keys that already exist."""
        KeyStore.create(tmp_path)
        before = (tmp_path / HPKE_FILE).read_bytes()
        with pytest.raises(KeyFileError):
            KeyStore.create(tmp_path)
        assert (tmp_path / HPKE_FILE).read_bytes() == before

    def test_created_secrets_are_owner_only(self, tmp_path: Path) -> None:
        """Every secret file KeyStore.create writes has mode 0600."""
        KeyStore.create(tmp_path)
        public = {PUBLIC_FILE, REGISTRY_FILE}  # public keys, and key ids with their validity
        secrets = [p for p in tmp_path.iterdir() if p.name not in public]
        assert secrets
        assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in secrets)

    def test_public_keys_text_round_trip(self, tmp_path: Path) -> None:
        """BrokerPublicKeys survives to_text and from_text unchanged."""
        public = KeyStore.create(tmp_path).public
        restored = BrokerPublicKeys.from_text(public.to_text())
        assert (restored.hpke_key_id, restored.signing_key_id) == (
            public.hpke_key_id,
            public.signing_key_id,
        )

    def test_public_file_matches_the_keys(self, tmp_path: Path) -> None:
        """The public file written beside the keys holds the store's public halves."""
        store = KeyStore.create(tmp_path)
        text = (tmp_path / PUBLIC_FILE).read_text()
        assert BrokerPublicKeys.from_text(text).hpke_key_id == store.public.hpke_key_id


class TestProcessKeySets:
    def test_a_process_holds_only_the_keys_of_its_purposes(self, tmp_path: Path) -> None:
        """The delivery worker's key set signs notices but cannot open events."""
        KeyStore.create(tmp_path)
        delivery = KeyStore.for_process(tmp_path, PROCESS_KEYS["delivery"], env={})
        assert delivery.signing
        with pytest.raises(KeyNotHeld):
            delivery.hpke_for(delivery.public.hpke_key_id)

    def test_missing_keys_are_an_error_not_a_new_key_set(self, tmp_path: Path) -> None:
        """An empty keys folder is refused, and nothing is made in it."""
        with pytest.raises(KeyFileError, match="sgb keys-init"):
            KeyStore.for_process(tmp_path, PROCESS_KEYS["router"], env={})
        assert list(tmp_path.iterdir()) == []

    def test_private_key_must_match_the_public_file(self, tmp_path: Path) -> None:
        """A signing key file swapped for another is refused at load."""
        KeyStore.create(tmp_path)
        crypto.write_private_key(tmp_path / SIGNING_FILE, Ed25519PrivateKey.generate(),
                                 replace=True)  # fmt: skip
        with pytest.raises(KeyFileError):
            KeyStore.load(tmp_path)


class TestRetiredSigningKeys:
    def test_validity_survives_the_public_file(self, tmp_path: Path) -> None:
        """A rotation's not_after is written with the retired key and read back."""
        KeyStore.create(tmp_path)
        rotated = KeyStore.rotate(tmp_path, timedelta(minutes=5))
        [retired] = BrokerPublicKeys.from_text(rotated.public.to_text()).retired_signing
        assert retired.not_after == rotated.public.retired_signing[0].not_after

    def test_a_retired_key_from_an_older_public_file_has_no_bound(self) -> None:
        """A public file written before validity was recorded still loads."""
        key = Ed25519PrivateKey.generate().public_key()
        text = (f"hpke={crypto.encode_public(X25519PrivateKey.generate().public_key())}\n"
                f"signing={crypto.encode_public(Ed25519PrivateKey.generate().public_key())}\n"
                f"retired-signing={crypto.encode_public(key)}\n")  # fmt: skip
        public = BrokerPublicKeys.from_text(text)
        assert public.signing_key(crypto.key_id(key), datetime.now(UTC)) == key


class TestKeysFromEnvironment:
    def test_keys_load_from_the_environment(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A deployment may hand the broker its keys in SGB_BROKER_* variables instead."""
        from cryptography.hazmat.primitives import serialization

        def pem(key: X25519PrivateKey | Ed25519PrivateKey) -> str:
            return key.private_bytes(serialization.Encoding.PEM,
                                     serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()).decode()  # fmt: skip

        hpke, signing, token = (X25519PrivateKey.generate(), Ed25519PrivateKey.generate(),
                                Ed25519PrivateKey.generate())  # fmt: skip
        monkeypatch.setenv("SGB_BROKER_HPKE_KEY", pem(hpke))
        monkeypatch.setenv("SGB_BROKER_SIGNING_KEY", pem(signing))
        monkeypatch.setenv("SGB_BROKER_TOKEN_KEY", pem(token))
        monkeypatch.setenv("SGB_PSEUDONYM_KEY", "00" * 32)
        store = KeyStore.for_process(tmp_path / "unused", ALL_PURPOSES)
        assert store.public.hpke_key_id == crypto.key_id(hpke.public_key())
        assert store.public.signing_key_id == crypto.key_id(signing.public_key())
        assert store.pseudonym_secret == bytes(32)
        assert not (tmp_path / "unused").exists()
