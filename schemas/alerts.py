"""A contact's alert channels, as the directory's administrators set them: where the person
behind a contact (a school's key adult, a front door's duty manager) is told that a notice
waits. The addresses are a professional's personal data: an error names the field, never the
value (``Contract``'s ``hide_input_in_errors``), and they never travel on Kafka.

Kept apart from ``schemas.directory``: the agency package ships that module, and email
validation needs ``email-validator``, a dependency of the broker only.
"""

import re
from typing import Annotated

from pydantic import AfterValidator, EmailStr, Field

from schemas.common import Contract

MAX_EMAILS = 5
# A UK mobile: 071-075 and 077-079 (070 is a personal number, 076 pagers); spaces, hyphens
# and brackets as people write them; a leading 0, 44 or +44.
_UK_MOBILE = re.compile(r"^(?:\+44|0044|0)(7[1-57-9]\d{8})$")


def uk_mobile_e164(value: str) -> str:
    """The number in E.164 (+447...), or a ValueError that does not quote it."""
    found = _UK_MOBILE.match(re.sub(r"[\s()-]", "", value))
    if found is None:
        raise ValueError("must be a UK mobile number (07... or +447...)")
    return "+44" + found.group(1)


UkMobile = Annotated[str, Field(max_length=30), AfterValidator(uk_mobile_e164)]


def _distinct(emails: tuple[str, ...]) -> tuple[str, ...]:
    if len({e.lower() for e in emails}) != len(emails):
        raise ValueError("each email address once")
    return emails


class AlertChannelsSpec(Contract):
    """Every alert channel of one contact; a PUT replaces them all (none: no alerts)."""

    emails: Annotated[
        tuple[EmailStr, ...], Field(max_length=MAX_EMAILS), AfterValidator(_distinct)
    ] = ()
    mobile: UkMobile | None = None
