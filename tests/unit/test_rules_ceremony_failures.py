"""What a person is told when their browser gives up on a passkey ceremony: the ceremony's
own advice where it differs, the error's otherwise, and always something."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.rules.ceremony_failures import (
    BY_CEREMONY_AND_ERROR,
    BY_ERROR,
    CEREMONIES,
    ERRORS,
    advice,
)


class TestAdvice:
    @pytest.mark.parametrize(
        ("ceremony", "error", "says"),
        [
            ("authentication", "NotAllowedError", "use your recovery key"),
            ("registration", "NotAllowedError", "within 5 minutes"),
            ("registration", "InvalidStateError", "Sign in with that passkey instead"),
            ("recovery", "InvalidStateError", "Use another device"),
            ("authentication", "InvalidStateError", "Try again"),
            ("authentication", "SecurityError", "address your administrator gave you"),
            ("registration", "ConstraintError", "a PIN, fingerprint or face"),
            ("recovery", "NotSupportedError", "up-to-date browser"),
        ],
    )
    def test_says_what_to_do(self, ceremony: str, error: str, says: str) -> None:
        """The advice for the ceremony and error says what to do next."""
        assert says in advice(ceremony, error)

    def test_every_error_has_its_own_advice(self) -> None:
        """Each error the contract accepts is in the table; each special case is a known
        ceremony and error."""
        assert set(BY_ERROR) == set(ERRORS)
        assert {c for c, _ in BY_CEREMONY_AND_ERROR} <= set(CEREMONIES)
        assert {e for _, e in BY_CEREMONY_AND_ERROR} <= set(ERRORS)

    @given(st.sampled_from(CEREMONIES) | st.text(max_size=30),
           st.sampled_from(ERRORS) | st.text(max_size=30))  # fmt: skip
    def test_always_a_sentence_to_act_on(self, ceremony: str, error: str) -> None:
        """Whatever the ceremony and error, the person is told something to do, in a
        sentence that ends as one (an unknown error gets the general advice)."""
        told = advice(ceremony, error)
        assert told.endswith(".")
        assert told in set(BY_ERROR.values()) | set(BY_CEREMONY_AND_ERROR.values())
