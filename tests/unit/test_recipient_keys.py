"""Recipient keys: X25519 or the post-quantum hybrid ML-KEM-768 + X25519, per recipient."""

import base64
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from pydantic import ValidationError

from broker.errors import DecryptionFailed, KeyFileError
from producers import crypto, recipient_keys
from producers.envelopes import open_notice, seal_notice
from schemas.directory import ContactSpec
from schemas.notices import HpkeSuiteName, NoticeBody, NoticeHeader, NoticeType, Severity

SIGNER = Ed25519PrivateKey.generate()


def header(suite: HpkeSuiteName) -> NoticeHeader:
    now = datetime.now(UTC)
    return NoticeHeader(
        notice_id=uuid.uuid4(), event_id=uuid.uuid4(), household="h", recipient_id="r",
        recipient_org="gp-1", notice_type=NoticeType.GP_INFORMATION, severity=Severity.LOW,
        created_at=now, deadline=now + timedelta(hours=72),
        recipient_key_id="k", signing_key_id="s", suite=suite,
    )  # fmt: skip


BODY = NoticeBody(
    summary="s", event_type="ed_attendance", occurred_at=datetime.now(UTC), source_org="a-1"
)


class TestHybridKeys:
    def test_hybrid_notice_round_trip(self) -> None:
        """A notice sealed to a hybrid key opens with the hybrid private key."""
        private, public_text, _ = recipient_keys.new_hybrid()
        public = recipient_keys.public_from_text(public_text)
        sealed = seal_notice(header(HpkeSuiteName.MLKEM768_X25519_SHA256_AES256GCM), BODY,
                             public, SIGNER)  # fmt: skip
        opened_header, body = open_notice(sealed, private, SIGNER.public_key())
        assert body == BODY
        assert opened_header.suite is HpkeSuiteName.MLKEM768_X25519_SHA256_AES256GCM

    def test_another_hybrid_key_cannot_open(self) -> None:
        """Only the recipient's own hybrid key opens the notice."""
        _, public_text, _ = recipient_keys.new_hybrid()
        other, _, _ = recipient_keys.new_hybrid()
        sealed = seal_notice(header(HpkeSuiteName.MLKEM768_X25519_SHA256_AES256GCM), BODY,
                             recipient_keys.public_from_text(public_text), SIGNER)  # fmt: skip
        with pytest.raises(DecryptionFailed):
            open_notice(sealed, other, SIGNER.public_key())

    def test_hybrid_ciphertext_does_not_open_with_x25519_alone(self) -> None:
        """The classic half of a hybrid key alone cannot open a hybrid notice."""
        _, public_text, secret = recipient_keys.new_hybrid()
        classic_half = X25519PrivateKey.from_private_bytes(secret[64:96])
        sealed = seal_notice(header(HpkeSuiteName.MLKEM768_X25519_SHA256_AES256GCM), BODY,
                             recipient_keys.public_from_text(public_text), SIGNER)  # fmt: skip
        with pytest.raises(DecryptionFailed):
            open_notice(sealed, classic_half, SIGNER.public_key())

    def test_key_file_round_trip(self, tmp_path: Path) -> None:
        """A hybrid key file is written owner-only and reads back to the same key."""
        _, public_text, secret = recipient_keys.new_hybrid()
        path = tmp_path / "recipient.key"
        recipient_keys.write_hybrid(path, secret)
        assert path.stat().st_mode & 0o777 == 0o600
        sealed = seal_notice(header(HpkeSuiteName.MLKEM768_X25519_SHA256_AES256GCM), BODY,
                             recipient_keys.public_from_text(public_text), SIGNER)  # fmt: skip
        assert open_notice(sealed, recipient_keys.read_hybrid(path), SIGNER.public_key())[1] == BODY

    def test_readable_key_file_is_refused(self, tmp_path: Path) -> None:
        """A hybrid key file that others could read is refused."""
        _, _, secret = recipient_keys.new_hybrid()
        path = tmp_path / "recipient.key"
        recipient_keys.write_hybrid(path, secret)
        path.chmod(0o644)
        with pytest.raises(KeyFileError):
            recipient_keys.read_hybrid(path)


class TestKeyText:
    def test_suite_follows_the_key(self) -> None:
        """The suite is chosen by the kind of key the recipient registered."""
        classic = crypto.encode_public(X25519PrivateKey.generate().public_key())
        _, hybrid, _ = recipient_keys.new_hybrid()
        assert recipient_keys.suite_of(classic) is HpkeSuiteName.X25519_SHA256_AES256GCM
        assert recipient_keys.suite_of(hybrid) is HpkeSuiteName.MLKEM768_X25519_SHA256_AES256GCM

    def test_x25519_key_id_is_unchanged(self) -> None:
        """An X25519 key keeps the key id it always had."""
        key = X25519PrivateKey.generate().public_key()
        assert recipient_keys.key_id(crypto.encode_public(key)) == crypto.key_id(key)

    @pytest.mark.parametrize("length", [16, 31, 33, 1184, 1215, 1217])
    def test_other_lengths_are_refused(self, length: int) -> None:
        """Only an X25519 or an ML-KEM-768+X25519 key is a recipient key."""
        text = base64.b64encode(b"\x01" * length).decode()
        with pytest.raises(ValueError, match="recipient key"):
            recipient_keys.decode(text)
        with pytest.raises(ValidationError):
            ContactSpec(id="c", org_id="org-1", role="key_adult", hpke_public_key=text)

    def test_contact_accepts_a_hybrid_key(self) -> None:
        """A contact may register a post-quantum hybrid key."""
        _, hybrid, _ = recipient_keys.new_hybrid()
        contact = ContactSpec(id="c", org_id="org-1", role="key_adult", hpke_public_key=hybrid)
        assert contact.hpke_public_key == hybrid


# Keys of the right length that nothing can be sealed to: X25519 points of small order
# (RFC 7748 section 7: the all-zero output they give must be refused).
LOW_ORDER_X25519 = (bytes(32), (1).to_bytes(32, "little"))


def low_order_hybrid(low: bytes) -> str:
    _, hybrid, _ = recipient_keys.new_hybrid()
    raw = base64.b64decode(hybrid)
    return base64.b64encode(raw[: recipient_keys.MLKEM768_BYTES] + low).decode()


class TestTrialSeal:
    def test_a_fresh_x25519_key_can_be_sealed_to(self) -> None:
        """An ordinary key passes the trial."""
        key = crypto.encode_public(X25519PrivateKey.generate().public_key())
        assert recipient_keys.can_seal_to(key)

    def test_a_fresh_hybrid_key_can_be_sealed_to(self) -> None:
        """So does a post-quantum hybrid key."""
        assert recipient_keys.can_seal_to(recipient_keys.new_hybrid()[1])

    @pytest.mark.parametrize("low", LOW_ORDER_X25519, ids=["zero", "one"])
    def test_a_low_order_x25519_key_cannot(self, low: bytes) -> None:
        """A point of small order has the right length but yields no shared secret."""
        assert not recipient_keys.can_seal_to(base64.b64encode(low).decode())

    @pytest.mark.parametrize("low", LOW_ORDER_X25519, ids=["zero", "one"])
    def test_a_hybrid_key_with_a_low_order_x25519_half_cannot(self, low: bytes) -> None:
        """Both halves of a hybrid key must be usable."""
        assert not recipient_keys.can_seal_to(low_order_hybrid(low))

    def test_an_ml_kem_half_that_is_not_a_key_cannot(self) -> None:
        """An encapsulation key that fails ML-KEM's own check is refused, not a crash."""
        raw = b"\xff" * recipient_keys.MLKEM768_BYTES + bytes(range(1, 33))
        assert not recipient_keys.can_seal_to(base64.b64encode(raw).decode())
