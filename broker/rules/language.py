"""In which languages a recipient's system renders a notice's wording. Pure.

The broker ships fixed wording keys, not prose (``NoticeBody.wording``, a school's guidance):
each key has an English and a Welsh text in the recipients' key catalogue. Public bodies in
Wales communicate in Welsh and English (the Welsh Language Standards), so a notice to a
recipient in Wales is marked to be rendered in both, Welsh first; elsewhere in English. The
marker is all the broker adds: the keys are the same in both languages, so nothing is
duplicated and no translation is made by the broker.
"""

from typing import Literal

from broker.rules.deadlines import nation_of

Language = Literal["cy", "en"]
WELSH_AND_ENGLISH: tuple[Language, ...] = ("cy", "en")
ENGLISH: tuple[Language, ...] = ("en",)


def languages_for(recipient_area: str | None) -> tuple[Language, ...]:
    """The languages for a recipient whose organisation is in ``recipient_area``."""
    return WELSH_AND_ENGLISH if nation_of(recipient_area) == "WLS" else ENGLISH
