"""NHS numbers: ten digits, the last a modulus-11 check digit (NHS Data Dictionary)."""

from typing import Annotated

from pydantic import AfterValidator, BeforeValidator

_WEIGHTS = range(10, 1, -1)


def check_digit(first_nine: str) -> int | None:
    """The check digit for nine digits, or None where no valid NHS number can end them."""
    remainder = sum(int(d) * w for d, w in zip(first_nine, _WEIGHTS, strict=True)) % 11
    digit = 11 - remainder
    if digit == 11:
        return 0
    return None if digit == 10 else digit


def is_valid_nhs_number(value: str) -> bool:
    if len(value) != 10 or not value.isascii() or not value.isdigit():
        return False
    return check_digit(value[:9]) == int(value[9])


def _strip_spacing(value: object) -> object:
    # Clinical systems print NHS numbers as 3-3-4 groups; accept that form, store digits only.
    return value.replace(" ", "").replace("-", "") if isinstance(value, str) else value


def _require_valid(value: str) -> str:
    if not is_valid_nhs_number(value):
        # Never echo the value: a near-miss NHS number is still personal data.
        raise ValueError("not a valid NHS number (10 digits with a modulus-11 check digit)")
    return value


NhsNumber = Annotated[str, BeforeValidator(_strip_spacing), AfterValidator(_require_valid)]
