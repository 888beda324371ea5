"""Whether an event's times are believable. Pure: the router's clock comes in as an argument.

A producer's clock may run a little fast; beyond that, an event from the future or one received
longer ago than Kafka keeps events is not routed but rejected with its reason.
"""

from datetime import datetime, timedelta

from broker.errors import EventOutsideWindow
from schemas.events import Event
from schemas.transport import EventHeader

CLOCK_SKEW = timedelta(minutes=5)
MAX_AGE = timedelta(days=7)


def check_times(event: Event, header: EventHeader, now: datetime) -> None:
    if header.received_at > now + CLOCK_SKEW:
        raise EventOutsideWindow("the event was received in the future")
    if event.occurred_at > header.received_at + CLOCK_SKEW:
        raise EventOutsideWindow("the event happened after it was received")
    if header.received_at < now - MAX_AGE:
        raise EventOutsideWindow("the event was received too long ago to route")
