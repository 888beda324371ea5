"""Pattern thresholds, configurable per partnership; the defaults follow the domain brief."""

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Thresholds:
    ed_window: timedelta = timedelta(days=365)
    child_ed_attendances: int = 3
    adult_ed_attendances: int = 5
    # The age fallback, used only when an attendance does not record whether the child is
    # mobile yet: under twelve months, as the brief sets it.
    not_yet_mobile_months: int = 12
    ingestion_age_years: int = 5
    wnb_window: timedelta = timedelta(days=183)
    wnb_min_booked: int = 4
    wnb_min_attendance_rate: float = 0.6
    co_occurrence_window: timedelta = timedelta(days=365)
    accumulation_window: timedelta = timedelta(days=91)
    accumulation_events: int = 3
