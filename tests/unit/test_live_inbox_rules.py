"""What a live inbox page is told (broker/rules/live_inbox.py): each released notice once,
and nothing more once its session is signed out, idle or expired."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.rules.live_inbox import arrived, stream_goes_on
from broker.rules.web_sessions import SESSION_ABSOLUTE, SESSION_IDLE, SessionTimes

AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
ids = st.frozensets(st.sampled_from([f"n{i}" for i in range(8)]))


class TestArrived:
    @pytest.mark.parametrize(
        ("told", "released", "expected"),
        [
            (set(), set(), []),
            (set(), {"b", "a"}, ["a", "b"]),
            ({"a"}, {"a", "b"}, ["b"]),
            ({"a", "b"}, {"a", "b"}, []),
            ({"a", "gone"}, {"a"}, []),
        ],
    )
    def test_table(self, told: set[str], released: set[str], expected: list[str]) -> None:
        """The released notices not told of yet, by id; one that left is not announced."""
        assert arrived(told, released) == expected

    @given(told=ids, released=ids)
    def test_each_released_notice_is_told_once(
        self, told: frozenset[str], released: frozenset[str]
    ) -> None:
        """Told before or now, every released notice; never one told already."""
        new = arrived(told, released)
        assert set(new) | (told & released) == released
        assert not set(new) & told
        assert len(new) == len(set(new))


class TestStreamGoesOn:
    @pytest.mark.parametrize(
        ("times", "now", "expected"),
        [
            (SessionTimes(AT, AT), AT + timedelta(minutes=1), True),
            (None, AT, False),
            (SessionTimes(AT, AT, ended_at=AT), AT + timedelta(minutes=1), False),
            (SessionTimes(AT, AT), AT + SESSION_IDLE, False),
            (SessionTimes(AT, AT + SESSION_ABSOLUTE), AT + SESSION_ABSOLUTE, False),
        ],
        ids=["live", "no session", "signed out", "idle", "expired"],
    )
    def test_table(self, times: SessionTimes | None, now: datetime, expected: bool) -> None:
        """Only a live session's stream goes on."""
        assert stream_goes_on(times, now) is expected
