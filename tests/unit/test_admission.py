"""When an event counts as received, and which times the router believes."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from broker.errors import EventOutsideWindow
from broker.rules.admission import CLOCK_SKEW, MAX_AGE, Arrival, check_times
from schemas.events import Event, EventAdapter, EventType

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def crisis(occurred_at: datetime) -> Event:
    return EventAdapter.validate_python({
        "event_type": "parent_mental_health_crisis", "event_id": str(uuid.uuid4()),
        "source_org": "mh-demo", "occurred_at": occurred_at.isoformat(),
        "correlation_id": str(uuid.uuid4()), "subject": {"nhs_number": "9990000018"},
    })  # fmt: skip


class TestCheckTimes:
    @pytest.mark.parametrize(
        ("occurred_at", "received_at"),
        [
            (NOW - MINUTE, NOW),
            (NOW + CLOCK_SKEW - MINUTE, NOW),  # the producer's clock a little fast
            (NOW - MAX_AGE, NOW - MAX_AGE + MINUTE),  # received just within Kafka's keeping
        ],
        ids=["ordinary", "fast-producer-clock", "old-but-kept"],
    )
    def test_believable_times_pass(self, occurred_at: datetime, received_at: datetime) -> None:
        """Times within the window are admitted."""
        check_times(crisis(occurred_at), received_at, NOW)

    @pytest.mark.parametrize(
        ("occurred_at", "received_at"),
        [
            (NOW, NOW + CLOCK_SKEW + MINUTE),
            (NOW + CLOCK_SKEW + MINUTE, NOW),
            (NOW - MAX_AGE - MINUTE, NOW - MAX_AGE - MINUTE),
        ],
        ids=["received-in-the-future", "happened-after-receipt", "received-too-long-ago"],
    )
    def test_unbelievable_times_are_refused(
        self, occurred_at: datetime, received_at: datetime
    ) -> None:
        """An event from the future, or received longer ago than Kafka keeps events, is
        refused."""
        with pytest.raises(EventOutsideWindow):
            check_times(crisis(occurred_at), received_at, NOW)


class TestArrival:
    def test_ids_and_type_come_from_the_signed_event(self) -> None:
        """An arrival takes the event's id, type, source and correlation id from the event
        itself and the time from the broker."""
        event = crisis(NOW - MINUTE)
        arrival = Arrival.of(event, NOW)
        assert arrival == Arrival(event.event_id, EventType.PARENT_MENTAL_HEALTH_CRISIS,
                                  "mh-demo", event.correlation_id, NOW)  # fmt: skip
