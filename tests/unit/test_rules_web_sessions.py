"""How long a sign-in link and a web session last, and when a cookie may go without Secure."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.rules.web_sessions import (
    LINK_LIFETIME,
    SESSION_ABSOLUTE,
    SESSION_IDLE,
    SessionState,
    SessionTimes,
    absolute_cutoff,
    cookie_may_be_insecure,
    idle_cutoff,
    link_usable,
    session_state,
)

AT = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
offsets = st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=12))


class TestLinkUsable:
    @pytest.mark.parametrize(
        ("used_at", "now", "usable"),
        [
            (None, AT, True),
            (None, AT + LINK_LIFETIME - MINUTE, True),
            (None, AT + LINK_LIFETIME, False),  # 15 minutes on: expired
            (AT + MINUTE, AT + 2 * MINUTE, False),  # used once already
            (None, AT - MINUTE, False),  # issued in the future: a clock gone wrong
        ],
    )
    def test_table(self, used_at: datetime | None, now: datetime, usable: bool) -> None:
        """Unused and younger than 15 minutes, and nothing else."""
        assert link_usable(AT, used_at, now) is usable


class TestSessionState:
    @pytest.mark.parametrize(
        ("times", "now", "state"),
        [
            (SessionTimes(AT, AT), AT + 29 * MINUTE, SessionState.LIVE),
            (SessionTimes(AT, AT), AT + SESSION_IDLE, SessionState.IDLE),
            (SessionTimes(AT, AT + SESSION_ABSOLUTE - 10 * MINUTE), AT + SESSION_ABSOLUTE - MINUTE,
             SessionState.LIVE),
            (SessionTimes(AT, AT + SESSION_ABSOLUTE - MINUTE), AT + SESSION_ABSOLUTE,
             SessionState.EXPIRED),  # busy all day: eight hours is the end all the same
            (SessionTimes(AT, AT, ended_at=AT + MINUTE), AT + 2 * MINUTE, SessionState.ENDED),
            (SessionTimes(AT, AT, ended_at=AT), AT + SESSION_ABSOLUTE, SessionState.ENDED),
        ],
    )  # fmt: skip
    def test_table(self, times: SessionTimes, now: datetime, state: SessionState) -> None:
        """Signed out, then expired, then idle: the most final reason is named."""
        assert session_state(times, now) is state

    @given(started=offsets, seen=offsets, later=offsets)
    def test_cutoffs_agree_with_the_state(
        self, started: timedelta, seen: timedelta, later: timedelta
    ) -> None:
        """A store's conditional update (seen after the idle cutoff, started after the
        absolute one) keeps exactly the sessions the rule calls live."""
        times = SessionTimes(AT, AT + min(started, seen))
        now = times.last_seen_at + later
        kept = times.last_seen_at > idle_cutoff(now) and times.started_at > absolute_cutoff(now)
        assert kept is (session_state(times, now) is SessionState.LIVE)


class TestInsecureCookie:
    @pytest.mark.parametrize(
        ("base_url", "allowed", "insecure"),
        [
            ("http://127.0.0.1:8000", True, True),
            ("http://localhost:8000", True, True),
            ("http://127.0.0.1:8000", False, False),  # not asked for
            ("https://127.0.0.1:8000", True, False),  # https: Secure works
            ("http://inbox.example.org", True, False),  # never off this machine
            ("http://127.0.0.1.example.org", True, False),
            ("http://localhost.example.org", True, False),
        ],
    )
    def test_table(self, base_url: str, allowed: bool, insecure: bool) -> None:
        """Only asked for, over http, on loopback."""
        assert cookie_may_be_insecure(base_url, allowed) is insecure

    @given(host=st.from_regex(r"[a-z0-9.-]{1,30}", fullmatch=True))
    def test_never_off_loopback(self, host: str) -> None:
        """Whatever the host, unless it is this machine, the cookie stays Secure."""
        insecure = cookie_may_be_insecure(f"http://{host}:8000", True)
        assert insecure is (host in {"127.0.0.1", "localhost"})
