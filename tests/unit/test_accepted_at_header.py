"""The sgb-accepted-at Kafka header (producers/kafka.py): written in UTC, read back as the same
moment, and a header that is absent or not a time with an offset reads as no time at all."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from producers.kafka import ACCEPTED_AT, accepted_at, accepted_at_header

NOW = datetime(2026, 11, 30, 13, 5, 0, 123456, tzinfo=UTC)


class TestAcceptedAt:
    def test_written_in_utc(self) -> None:
        """A moment at another offset is written as the same moment in UTC."""
        paris = NOW.astimezone(timezone(timedelta(hours=1)))
        assert accepted_at_header(paris) == (ACCEPTED_AT, b"2026-11-30T13:05:00.123456+00:00")

    @pytest.mark.parametrize(
        "headers",
        [
            (),
            (("event_id", b"x"),),
            ((ACCEPTED_AT, b"yesterday"),),
            ((ACCEPTED_AT, b"2026-11-30T13:05:00"),),  # no offset: whose clock?
            ((ACCEPTED_AT, b"\xff\xfe"),),
        ],
    )
    def test_no_usable_time_reads_as_none(self, headers: tuple[tuple[str, bytes], ...]) -> None:
        """Absent, unreadable or without an offset: no time, not a guess."""
        assert accepted_at(headers) is None

    @given(st.datetimes(timezones=st.just(UTC)))
    def test_a_written_moment_reads_back(self, moment: datetime) -> None:
        """Among other headers, the moment written is the moment read."""
        assert accepted_at((("event_id", b"x"), accepted_at_header(moment))) == moment
