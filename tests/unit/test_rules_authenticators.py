"""Naming a passkey: by its authenticator's AAGUID when known, plainly otherwise; and a short
reference that is stable and says nothing of the credential id."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.rules.authenticators import (
    AUTHENTICATOR_NAMES,
    REFERENCE_CHARS,
    UNKNOWN_AUTHENTICATOR,
    authenticator_name,
    passkey_reference,
)


class TestAuthenticatorName:
    @pytest.mark.parametrize(
        ("aaguid", "name"),
        [
            ("ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4", "Google Password Manager"),
            ("fbfc3007-154e-4ecc-8c0b-6e020557d7bd", "iCloud Keychain"),
            ("08987058-CADC-4B81-B6E1-30DE50DCBE96", "Windows Hello"),  # any case
            ("00000000-0000-0000-0000-000000000000", UNKNOWN_AUTHENTICATOR),  # not telling
            ("12345678-1234-1234-1234-123456789abc", UNKNOWN_AUTHENTICATOR),  # not in the table
            (None, UNKNOWN_AUTHENTICATOR),  # enrolled before AAGUIDs were kept
        ],
    )
    def test_named_from_the_table_else_plainly(self, aaguid: str | None, name: str) -> None:
        """A known AAGUID gives its authenticator's name; anything else, "Passkey"."""
        assert authenticator_name(aaguid) == name

    def test_the_table_holds_lower_case_aaguids(self) -> None:
        """Every key is a lower-case AAGUID, so that the look-up's lower-casing finds it."""
        assert all(len(k) == 36 and k == k.lower() for k in AUTHENTICATOR_NAMES)


class TestPasskeyReference:
    @given(st.text(min_size=1, max_size=1400))
    def test_short_stable_and_not_the_id(self, credential_id: str) -> None:
        """Always the same short hex for the same id, never containing the id itself."""
        reference = passkey_reference(credential_id)
        assert reference == passkey_reference(credential_id)
        assert len(reference) == REFERENCE_CHARS
        assert set(reference) <= set("0123456789abcdef")
        assert credential_id not in reference or len(credential_id) < 4

    def test_different_ids_differ(self) -> None:
        """Two passkeys of one contact are told apart."""
        assert passkey_reference("cred-a") != passkey_reference("cred-b")
