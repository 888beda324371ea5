"""An event about someone the directory does not know is never dropped. Pure.

It goes to the front door of the area the event came from, so that a person there can match
the record; the notice names whoever the event named.
"""

from broker.rules.common import front_door_decision
from broker.rules.family import Decision, Family
from schemas.notices import Severity

RULE = "unmatched_person"


def unmatched_ids(count: int) -> tuple[str, ...]:
    return tuple(f"unmatched:{i}" for i in range(count))


def route_unmatched(family: Family, unmatched: int) -> list[Decision]:
    facts: dict[str, str | int | bool] = {"unmatched_people": unmatched}
    return front_door_decision(family, Severity.MEDIUM, RULE, unmatched_ids(unmatched), facts)
