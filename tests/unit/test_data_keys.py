"""The file data-key store: tombstones, keys renewed after a shred, several households' keys
at once, and what was stored before ciphertexts named their keys."""

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from broker.adapters.data_keys import FileDataKeys, household_shredded, key_name
from broker.errors import DataKeyShredded, DataKeyUnusable
from producers import crypto
from producers.pseudonyms import pseudonym

CONTEXT = b"sgb/test/v1"
A, B = "a" * 32, "b" * 32


@pytest.fixture
def keys(tmp_path: Path) -> FileDataKeys:
    return FileDataKeys(tmp_path / "households")


class TestTombstone:
    def test_what_a_shredded_key_sealed_stays_shredded_after_a_new_key(
        self, keys: FileDataKeys
    ) -> None:
        """A later event makes the household a new key; the old data still says shredded."""
        old = keys.wrap(A, b"old", CONTEXT)
        assert keys.shred(A)
        new = keys.wrap(A, b"new", CONTEXT)
        with pytest.raises(DataKeyShredded):
            keys.unwrap(A, old, CONTEXT)
        assert keys.unwrap(A, new, CONTEXT) == b"new"

    def test_shredded_until_something_is_stored_again(self, keys: FileDataKeys) -> None:
        """``is_shredded`` answers for a household with nothing stored since its shredding."""
        keys.wrap(A, b"x", CONTEXT)
        keys.shred(A)
        assert keys.is_shredded(A)
        keys.wrap(A, b"y", CONTEXT)
        assert not keys.is_shredded(A)

    def test_a_household_never_shredded_is_not(self, keys: FileDataKeys) -> None:
        """No tombstone, no shredding, whether or not it has a key."""
        assert not keys.is_shredded(B)

    def test_the_public_question_takes_the_directory_id(self, keys: FileDataKeys) -> None:
        """``household_shredded`` pseudonymises the household id as the broker does."""
        secret = os.urandom(32)
        keys.wrap(pseudonym(secret, "household", "h-1"), b"x", CONTEXT)
        keys.shred(pseudonym(secret, "household", "h-1"))
        assert household_shredded(keys, secret, "h-1")
        assert not household_shredded(keys, secret, "h-2")


class TestDamage:
    def test_a_tampered_ciphertext_is_unusable_never_a_crypto_error(
        self, keys: FileDataKeys
    ) -> None:
        """InvalidTag never escapes: callers map DataKeyUnusable to 410 or a dead letter."""
        stored = bytearray(keys.wrap(A, b"x", CONTEXT))
        stored[-1] ^= 1
        with pytest.raises(DataKeyUnusable):
            keys.unwrap(A, bytes(stored), CONTEXT)

    def test_a_corrupt_key_file_is_unusable(self, keys: FileDataKeys) -> None:
        """A truncated key file is reported as unusable, not as a ValueError."""
        crypto.write_secret(keys.directory / f"{A}.key", b"short")
        with pytest.raises(DataKeyUnusable):
            keys.wrap(A, b"x", CONTEXT)


class TestSeveralHouseholds:
    def test_gone_when_any_of_them_is_shredded(self, keys: FileDataKeys) -> None:
        """A notice about a child of two homes is sealed under both homes' keys."""
        both = key_name([B, A])
        stored = keys.wrap(both, b"child", CONTEXT)
        assert keys.unwrap(both, stored, CONTEXT) == b"child"
        keys.shred(B)
        with pytest.raises(DataKeyShredded):
            keys.unwrap(both, stored, CONTEXT)

    def test_the_name_does_not_depend_on_order(self) -> None:
        """The same households name the same keys."""
        assert key_name([A, B, A]) == key_name([B, A]) == f"{A}+{B}"


class TestStoredBeforeKeysWereNamed:
    def test_still_opens_under_its_key(self, keys: FileDataKeys) -> None:
        """nonce + ciphertext, as the store wrote it before: still readable."""
        key = AESGCM.generate_key(bit_length=256)
        crypto.write_secret(keys.directory / f"{A}.key", key)
        nonce = os.urandom(12)
        legacy = nonce + AESGCM(key).encrypt(nonce, b"x", CONTEXT)
        assert keys.unwrap(A, legacy, CONTEXT) == b"x"

    def test_shredded_once_its_key_is_and_a_new_one_made(self, keys: FileDataKeys) -> None:
        """Under a key since shredded and replaced, it answers shredded, not unusable."""
        key = AESGCM.generate_key(bit_length=256)
        crypto.write_secret(keys.directory / f"{A}.key", key)
        nonce = os.urandom(12)
        legacy = nonce + AESGCM(key).encrypt(nonce, b"x", CONTEXT)
        keys.shred(A)
        keys.wrap(A, b"new", CONTEXT)
        with pytest.raises(DataKeyShredded):
            keys.unwrap(A, legacy, CONTEXT)
