"""Whether an event's times are believable, and when the broker received it. Pure: the
router's clock comes in as an argument.

The time an event was received is the broker's: Kafka's log-append time on the events topic,
else the router's clock when it reads the event. Never the producer's: its header is not
signed, and a time it chose could make a revoked signing key valid again or every notice
born overdue. A producer's clock may run a little fast (``occurred_at`` is its own claim);
beyond that, an event from the future or one received longer ago than Kafka keeps events is
not routed but rejected with its reason.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from broker.errors import EventOutsideWindow
from schemas.events import Event, EventType

CLOCK_SKEW = timedelta(minutes=5)
MAX_AGE = timedelta(days=7)


@dataclass(frozen=True)
class Arrival:
    """An event as the broker received it: its ids and type from the signed event, its
    time from the broker's clock."""

    event_id: UUID
    event_type: EventType
    source_org: str
    correlation_id: UUID | None
    received_at: datetime

    @classmethod
    def of(cls, event: Event, received_at: datetime) -> "Arrival":
        return cls(event.event_id, event.event_type, event.source_org, event.correlation_id,
                   received_at)  # fmt: skip


def check_times(event: Event, received_at: datetime, now: datetime) -> None:
    if received_at > now + CLOCK_SKEW:
        raise EventOutsideWindow("the event was received in the future")
    if event.occurred_at > received_at + CLOCK_SKEW:
        raise EventOutsideWindow("the event happened after it was received")
    if received_at < now - MAX_AGE:
        raise EventOutsideWindow("the event was received too long ago to route")
