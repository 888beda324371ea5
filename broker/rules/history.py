"""What the broker already knows about a person's patterns, as plain data for the rules."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Outcome = Literal["attended", "was_not_brought", "cancelled_by_parent"]
Appointments = tuple[tuple[datetime, Outcome], ...]


@dataclass(frozen=True)
class PersonHistory:
    """A person's ED attendances, crises and appointment outcomes, the current event included.

    For a child's appointment outcome, ``siblings`` holds the histories of the other children
    sharing a household with the child (by person id), so that the rate across the brothers
    and sisters can be seen as well as the child's own.
    """

    ed_attendances: tuple[datetime, ...] = ()
    appointments: Appointments = ()
    crises: tuple[datetime, ...] = ()
    siblings: Mapping[str, "PersonHistory"] = field(default_factory=dict)

    def ed_count_since(self, start: datetime) -> int:
        return sum(1 for arrived in self.ed_attendances if arrived >= start)

    def crises_since(self, start: datetime) -> int:
        return sum(1 for at in self.crises if at >= start)

    def appointments_since(self, start: datetime) -> tuple[int, int]:
        """(booked, attended) since ``start``."""
        recent = [outcome for booked, outcome in self.appointments if booked >= start]
        return len(recent), recent.count("attended")
