"""What the broker already knows about a person's patterns, as plain data for the rules."""

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Outcome = Literal["attended", "was_not_brought"]


@dataclass(frozen=True)
class PersonHistory:
    """A person's ED attendances and appointment outcomes, the current event included."""

    ed_attendances: tuple[datetime, ...] = ()
    appointments: tuple[tuple[datetime, Outcome], ...] = ()

    def ed_count_since(self, start: datetime) -> int:
        return sum(1 for arrived in self.ed_attendances if arrived >= start)

    def appointments_since(self, start: datetime) -> tuple[int, int]:
        """(booked, attended) since ``start``."""
        recent = [outcome for booked, outcome in self.appointments if booked >= start]
        return len(recent), recent.count("attended")
