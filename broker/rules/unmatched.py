"""An event about someone the directory does not know is never dropped. Pure.

It goes to the front door of the area the event came from, so that a person there can match
the record; the notice names whoever the event named.
"""

from broker.rules.common import front_door_decision, front_door_route
from broker.rules.family import Decision, Family
from schemas.notices import Severity

RULE = "unmatched_person"
ROUTES = (
    front_door_route(RULE, "anyone the directory does not know (held for matching; routed "
                     "to the whole family once matched)", (Severity.MEDIUM,)),
)  # fmt: skip


def unmatched_ids(count: int) -> tuple[str, ...]:
    return tuple(f"unmatched:{i}" for i in range(count))


def route_unmatched(family: Family, unmatched: int) -> list[Decision]:
    """The subject is unknown: everyone the event named is listed for matching."""
    return unmatched_referral(family, unmatched_ids(unmatched))


def unmatched_referral(family: Family, ids: tuple[str, ...]) -> list[Decision]:
    """These named people are unknown (a known parent's unknown child, say): the front door
    matches them, and the event is routed again once they are known."""
    facts: dict[str, str | int | bool] = {"unmatched_people": len(ids)}
    return front_door_decision(family, Severity.MEDIUM, RULE, ids, facts)
