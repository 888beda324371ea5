"""What an alert must never say: a person's data, the event's kind or vocabulary, the notice's
type, severity or rule. ``leaks`` lists what of it a text says (the organisation's own name
and the contact's role, which the alert carries on purpose, set aside first)."""

import re
from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from functools import cache

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from broker.fixtures.partnership import directory as partnership_directory
from broker.rules.alerts import role_words
from producers import crypto
from schemas.events import EventType
from schemas.notices import NoticeType, Severity

# Words that tell what happened, from the events' and notices' own vocabulary.
EVENT_WORDS = frozenset({
    "crisis", "mental", "suicid", "abuse", "domestic", "violence", "harm", "overdose",
    "injur", "poison", "ingest", "bruis", "withdraw", "discharg", "closed", "moving", "moved",
    "attend", "appointment", "brought", "pregnan", "police", "section", "admitted",
    "emergency department", "substance", "alcohol", "drug", "threat", "kill", "plan",
    "step-down", "step down", "referral", "transfer", "child", "parent", "mother", "father",
    "baby", "pupil", "patient", "family", "household", "sibling", "twin",
})  # fmt: skip


@cache
def vocabulary() -> frozenset[str]:
    """The words above, and each event type's, notice type's and severity's own words."""
    words = set(EVENT_WORDS)
    for kind in [*EventType, *NoticeType, *Severity]:
        words |= {w for w in str(kind).split("_") if len(w) > 3}
    # The alert's own fixed words ("A safeguarding notice ... before school").
    return frozenset(words - {"safeguarding", "notice", "information", "school", "support",
                              "team", "duty", "health", "visiting", "outcome"})  # fmt: skip


def _says(pattern: str, word: str, said: str) -> bool:
    """Whether ``said`` holds ``word`` as ``pattern`` places it. A plain substring test
    first: the alert content test asks this for tens of thousands of values, most of them
    nowhere in the text, each otherwise a regular expression compiled anew (past re's cache)."""
    return word in said and re.search(pattern, said) is not None


def leaks(
    text: str, org_name: str, role: str, personal: Iterable[str], rule: str | None = None
) -> list[str]:
    """Each personal value, rule id or content word the text says, outside the organisation's
    name and the contact's role ("Oakfield Primary School (key adult)")."""
    said = text.replace(f"{org_name} ({role_words(role)})", " ").lower()
    # Whole words: "Cal" is a name, "escalated" is not about him.
    found = [
        v
        for v in personal
        if len(v) >= 3 and _says(rf"(?<!\w){re.escape(v.lower())}(?!\w)", v.lower(), said)
    ]
    found += [w for w in sorted(vocabulary()) if _says(rf"\b{re.escape(w)}", w, said)]
    found += [s for s in ("high", "medium", "low", "urgent") if re.search(rf"\b{s}\b", said)]
    if rule and rule.lower() in said:
        found.append(rule)
    return found


def personal_data() -> list[str]:
    """Every name, number and date the demo directory holds about the family."""
    key = crypto.b64encode(X25519PrivateKey.generate().public_key().public_bytes_raw())
    values: list[str] = []
    for person in partnership_directory(defaultdict(lambda: key), date.today()).people:
        dumped = person.model_dump(mode="json", exclude_none=True)
        values += [str(v) for v in dumped.values() if isinstance(v, str | int)]
    return values
