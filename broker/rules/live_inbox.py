"""What a live inbox page is told, and when its stream stops. Pure: the notices the page has
been told of, the ones released now, and the session's times come in as arguments.

The stream carries no content: only that a notice with this id is now in this inbox. A notice
that leaves the inbox (none do today) is not announced; the page's next fetch shows it gone.
"""

from collections.abc import Set
from datetime import datetime

from broker.rules.web_sessions import SessionState, SessionTimes, session_state


def arrived(told: Set[str], released: Set[str]) -> list[str]:
    """The released notices the page has not been told of, in a fixed order (by id)."""
    return sorted(released - told)


def stream_goes_on(times: SessionTimes | None, now: datetime) -> bool:
    """While the session is live: signed out, idle or expired ends the stream."""
    return times is not None and session_state(times, now) == SessionState.LIVE
