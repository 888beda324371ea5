"""The pure parts of ``sgb org key``: one key added, one key revoked (broker.services.org_keys)."""

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from broker.services.org_keys import key_id, revoked, with_key
from producers import crypto
from schemas.directory import SigningKeySpec

NOW = datetime(2027, 1, 12, 10, 0, tzinfo=UTC)
KEYS = [SigningKeySpec(public_key=crypto.encode_public(Ed25519PrivateKey.generate().public_key()))
        for _ in range(3)]  # fmt: skip


class TestKeyId:
    def test_it_is_the_fingerprint_events_carry(self) -> None:
        """The first 16 hex digits of the raw key's SHA-256, as producers.crypto makes it."""
        private = Ed25519PrivateKey.generate()
        text = crypto.encode_public(private.public_key())
        assert key_id(text) == crypto.key_id(private.public_key())
        assert len(key_id(text)) == 16


class TestRevoked:
    @pytest.mark.parametrize(("until", "expected"), [
        (None, NOW),                                   # open-ended: ends now
        (NOW + timedelta(days=30), NOW),               # ending later: ends now
        (NOW - timedelta(days=1), NOW - timedelta(days=1)),  # ended already: stays
    ])  # fmt: skip
    def test_the_revoked_key_ends_now_or_earlier(
        self, until: datetime | None, expected: datetime
    ) -> None:
        """Never later than the revocation; an earlier end is kept."""
        keys = (KEYS[0].model_copy(update={"valid_until": until}), KEYS[1])
        after = revoked(keys, key_id(KEYS[0].public_key), NOW)
        assert after[0].valid_until == expected

    def test_other_keys_are_untouched(self) -> None:
        """Only the key named changes."""
        after = revoked(tuple(KEYS), key_id(KEYS[1].public_key), NOW)
        assert (after[0], after[2]) == (KEYS[0], KEYS[2])

    @given(st.integers(0, 2), st.lists(st.integers(0, 2), max_size=3))
    def test_every_key_stays_on_record(self, which: int, order: list[int]) -> None:
        """Revoking never removes a key: its id stays to name it in the audit log."""
        keys = tuple(KEYS[i] for i in dict.fromkeys([*order, which]))
        after = revoked(keys, key_id(KEYS[which].public_key), NOW)
        assert [k.public_key for k in after] == [k.public_key for k in keys]
        assert all(k.valid_until is not None and k.valid_until <= NOW
                   for k in after if k.public_key == KEYS[which].public_key)  # fmt: skip


class TestWithKey:
    def test_the_new_key_comes_last(self) -> None:
        """The keys on record first, in their order."""
        assert with_key((KEYS[0],), KEYS[1]) == (KEYS[0], KEYS[1])
