"""The shape of the rule table: one signature for every event type's rule, and the routes each
rule declares as data. Pure.

A rule is the code that decides (a function of the event, the family, the subject's history,
the day of receipt and the thresholds) and, next to it, what it says it does: one ``Route``
per kind of recipient, in words a safeguarding lead reads (the condition, who is told) and in
the terms the decisions carry (rule id, notice type, contact role, severities). The README's
"who is told" table is rendered from these routes (``who_is_told.py``), and a unit test holds
each route to the decisions the code makes, so that the two cannot drift apart silently.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from fnmatch import fnmatchcase
from typing import Generic, Protocol, TypeVar

from broker.rules.family import ContactRole, Decision, Family
from broker.rules.history import PersonHistory
from broker.rules.thresholds import Thresholds
from schemas.events import Event
from schemas.notices import NoticeType, Severity

E = TypeVar("E", bound=Event)


@dataclass(frozen=True)
class Route:
    """One line of the who-is-told table. ``rule_id`` is the rule id its decisions carry, a
    shell-style pattern where a common step adds to any rule's id (``*.out_of_hours``)."""

    rule_id: str
    condition: str
    who: str
    notice_type: NoticeType
    role: ContactRole
    severities: tuple[Severity, ...]

    def matches(self, decision: Decision, rule_id: str) -> bool:
        """Whether the decision, under ``rule_id`` (its own or one a merge joined into it),
        is one this route declares."""
        same_reader = (decision.notice_type, decision.addressee.role) == (self.notice_type,
                                                                          self.role)  # fmt: skip
        return same_reader and fnmatchcase(rule_id, self.rule_id)


def is_declared(decision: Decision, routes: Iterable[Route]) -> bool:
    """Whether some route declares the decision: its rule id whole, or, for a decision that
    merged several (``crisis.front_door+co_occurrence.front_door``), each rule it names."""
    routes = tuple(routes)
    if any(r.matches(decision, decision.rule_id) for r in routes):
        return True
    return all(any(r.matches(decision, part) for r in routes)
               for part in decision.rule_id.split("+"))  # fmt: skip


class EventRule(Protocol):
    """What the table holds for each event type: the one signature every rule is called by,
    and the routes it declares."""

    @property
    def routes(self) -> tuple[Route, ...]: ...

    def __call__(
        self, event: Event, family: Family, history: PersonHistory, received_on: date,
        limits: Thresholds,
    ) -> list[Decision]: ...  # fmt: skip


@dataclass(frozen=True)
class Rule(Generic[E]):
    """An event type's rule: its decisions for events of ``event_class``, and its routes."""

    event_class: type[E]
    decide: Callable[[E, Family, PersonHistory, date, Thresholds], list[Decision]]
    routes: tuple[Route, ...]

    def __call__(
        self, event: Event, family: Family, history: PersonHistory, received_on: date,
        limits: Thresholds,
    ) -> list[Decision]:  # fmt: skip
        if not isinstance(event, self.event_class):
            raise TypeError(f"{self.event_class.__name__} rule given {type(event).__name__}")
        return self.decide(event, family, history, received_on, limits)
