"""Pseudonymous message keys: stable per person, secret-dependent, never the identifier."""

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from producers.pseudonyms import person_identifier, person_key, producer_secret, pseudonym
from schemas.events import PersonRef
from schemas.nhs import check_digit

SECRET = b"s" * 32
OTHER_SECRET = b"t" * 32
NHS = "9990000018"
UPN = "A12345678901B"

valid_nhs = (
    st.text(alphabet="0123456789", min_size=9, max_size=9)
    .map(lambda nine: (nine, check_digit(nine)))
    .filter(lambda pair: pair[1] is not None)
    .map(lambda pair: f"{pair[0]}{pair[1]}")
)


class TestPersonKey:
    def test_same_person_same_key(self) -> None:
        """The same person always gets the same key, whoever reports them."""
        assert person_key(SECRET, PersonRef(nhs_number=NHS), "mh-demo") == person_key(
            SECRET, PersonRef(nhs_number=NHS, given_name="Jess"), "acute-demo"
        )

    def test_different_secret_different_key(self) -> None:
        """Another secret gives another key for the same person."""
        person = PersonRef(nhs_number=NHS)
        assert person_key(SECRET, person, "x1") != person_key(OTHER_SECRET, person, "x1")

    def test_different_people_different_keys(self) -> None:
        """Two NHS numbers give two keys."""
        assert person_key(SECRET, PersonRef(nhs_number=NHS), "x1") != person_key(
            SECRET, PersonRef(nhs_number="9434765919"), "x1"
        )

    def test_key_is_32_hex_characters(self) -> None:
        """A key is 32 lower-case hex characters."""
        key = person_key(SECRET, PersonRef(nhs_number=NHS), "x1")
        assert len(key) == 32
        assert set(key) <= set("0123456789abcdef")

    @given(nhs=valid_nhs, secret=st.binary(min_size=16, max_size=64))
    def test_key_never_contains_the_nhs_number(self, nhs: str, secret: bytes) -> None:
        """No key contains the NHS number it was made from."""
        assert nhs not in person_key(secret, PersonRef(nhs_number=nhs), "x1")

    def test_kind_separates_namespaces(self) -> None:
        """A person key and a household key for the same text differ."""
        assert pseudonym(SECRET, "person", "abc") != pseudonym(SECRET, "household", "abc")


class TestPersonIdentifier:
    @pytest.mark.parametrize(
        ("person", "expected"),
        [
            (PersonRef(nhs_number=NHS, upn=UPN, local_id="L1"), f"nhs:{NHS}"),
            (PersonRef(upn=UPN, local_id="L1"), f"upn:{UPN}"),
            (PersonRef(local_id="L1"), "local:src:L1"),
        ],
        ids=["nhs-first", "upn-next", "local-last"],
    )
    def test_preference_order(self, person: PersonRef, expected: str) -> None:
        """The NHS number is preferred over the UPN, and the UPN over the local id."""
        assert person_identifier(person, "src") == expected

    def test_local_ids_are_scoped_to_their_agency(self) -> None:
        """The same local id at two agencies names two different people."""
        person = PersonRef(local_id="L1")
        assert person_key(SECRET, person, "agency-a") != person_key(SECRET, person, "agency-b")

    def test_nhs_number_key_ignores_the_other_ids(self) -> None:
        """With an NHS number, the UPN and local id do not change the key."""
        assert person_key(SECRET, PersonRef(nhs_number=NHS, local_id="L1"), "a") == person_key(
            SECRET, PersonRef(nhs_number=NHS, upn=UPN), "b"
        )


class TestProducerSecret:
    def test_stable_for_one_signing_key(self) -> None:
        """An agency's record-key secret is the same on every start: its events about one
        person keep to one partition."""
        key = Ed25519PrivateKey.generate()
        again = Ed25519PrivateKey.from_private_bytes(key.private_bytes_raw())
        assert producer_secret(key) == producer_secret(again)

    def test_differs_between_agencies(self) -> None:
        """Two agencies' secrets differ, so neither can recompute the other's keys."""
        one, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
        assert producer_secret(one) != producer_secret(other)

    def test_is_not_the_signing_key(self) -> None:
        """The secret is derived for its own purpose, never the signing key's own bytes."""
        key = Ed25519PrivateKey.generate()
        assert producer_secret(key) != key.private_bytes_raw()
