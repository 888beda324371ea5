"""NHS numbers: ten ASCII digits, the last a modulus-11 check digit."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from schemas.nhs import NhsNumber, check_digit, is_valid_nhs_number

NHS = TypeAdapter(NhsNumber)
DIGITS = "0123456789"
nine_digits = st.text(alphabet=DIGITS, min_size=9, max_size=9)


def with_check_digit(first_nine: str) -> str | None:
    digit = check_digit(first_nine)
    return None if digit is None else first_nine + str(digit)


valid_numbers = nine_digits.map(with_check_digit).filter(lambda n: n is not None)


class TestIsValidNhsNumber:
    @pytest.mark.parametrize("number", ["9990000018", "9434765919", "9990000085", "4010232137"])
    def test_accepts_valid_numbers(self, number: str) -> None:
        """A ten-digit number whose last digit is its modulus-11 check digit is valid."""
        assert is_valid_nhs_number(number)

    @pytest.mark.parametrize(
        ("number", "why"),
        [
            ("9990000019", "wrong check digit"),
            ("9434765910", "wrong check digit"),
            ("999000001", "nine digits"),
            ("99900000180", "eleven digits"),
            ("999000001A", "a letter"),
            ("ABCDEFGHIJ", "letters"),
            ("\u0669\u0669\u0669\u0660\u0660\u0660\u0660\u0660\u0661\u0668", "Arabic-Indic digits"),
            ("\uff19\uff19\uff19\uff10\uff10\uff10\uff10\uff10\uff11\uff18", "fullwidth digits"),
            ("", "empty"),
            ("999 000 0018", "spaces are for the schema, not the checker"),
        ],
    )
    def test_rejects_invalid_numbers(self, number: str, why: str) -> None:
        """Wrong check digit, wrong length, letters and non-ASCII digits are all invalid."""
        assert not is_valid_nhs_number(number), why

    def test_check_digit_ten_makes_no_valid_number(self) -> None:
        """Nine digits whose check digit would be 10 cannot start any valid NHS number."""
        first_nine = "000000006"  # 6 * 2 = 12, remainder 1, 11 - 1 = 10: impossible
        assert check_digit(first_nine) is None
        assert not any(is_valid_nhs_number(first_nine + d) for d in DIGITS)

    def test_remainder_zero_gives_check_digit_zero(self) -> None:
        """When the weighted sum divides by 11 the check digit is 0, not 11."""
        assert check_digit("000000000") == 0
        assert is_valid_nhs_number("0000000000")


class TestNhsNumberField:
    @pytest.mark.parametrize("text", ["943 476 5919", "943-476-5919", " 9434765919 "])
    def test_accepts_printed_forms_and_stores_digits(self, text: str) -> None:
        """The 3-3-4 printed form is accepted and stored as ten digits."""
        assert NHS.validate_python(text.strip()) == "9434765919"

    @pytest.mark.parametrize("text", ["943 476 5910", "12345", "", "943 476 591X"])
    def test_rejects_invalid_values(self, text: str) -> None:
        """An invalid NHS number fails validation."""
        with pytest.raises(ValidationError):
            NHS.validate_python(text)

    def test_error_message_does_not_echo_the_number(self) -> None:
        """The validator's own message never quotes the submitted number."""
        with pytest.raises(ValidationError) as caught:
            NHS.validate_python("9434765910")
        assert all("9434765910" not in error["msg"] for error in caught.value.errors())


class TestCheckDigitProperties:
    @given(valid_numbers)
    def test_appending_the_check_digit_gives_a_valid_number(self, number: str) -> None:
        """Any nine digits with a defined check digit, plus that digit, make a valid number."""
        assert is_valid_nhs_number(number)

    @given(valid_numbers, st.integers(0, 9), st.integers(1, 9))
    def test_any_single_digit_change_is_detected(
        self, number: str, position: int, shift: int
    ) -> None:
        """Changing any one digit of a valid number makes it invalid."""
        changed = str((int(number[position]) + shift) % 10)
        mutated = number[:position] + changed + number[position + 1 :]
        assert not is_valid_nhs_number(mutated)

    def test_weights_detect_every_single_digit_error_exhaustively(self) -> None:
        """Every weight 10..2 times any non-zero difference 1..9 is non-zero modulo 11."""
        assert all((w * d) % 11 for w in range(2, 11) for d in range(-9, 10) if d)
