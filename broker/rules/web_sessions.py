"""How long a web inbox sign-in link and session last, and when a cookie may go without
``Secure``. Pure: time comes in as an argument.

A sign-in link is used once, within ``LINK_LIFETIME`` of being issued. A session ends when it
has been idle for ``SESSION_IDLE``, ``SESSION_ABSOLUTE`` after it started however busy, or
when its person signs out: a shared computer in a school office is the case to design for.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

LINK_LIFETIME = timedelta(minutes=15)
SESSION_IDLE = timedelta(minutes=30)
SESSION_ABSOLUTE = timedelta(hours=8)
# Hosts a browser treats as this machine: only there may a test or a demo run over http.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class SessionState(StrEnum):
    LIVE = "live"
    IDLE = "idle"  # unused for too long
    EXPIRED = "expired"  # past its absolute lifetime
    ENDED = "ended"  # signed out


@dataclass(frozen=True)
class SessionTimes:
    started_at: datetime
    last_seen_at: datetime
    ended_at: datetime | None = None


def link_usable(issued_at: datetime, used_at: datetime | None, now: datetime) -> bool:
    """Unused and younger than its lifetime (issued in the future: a clock gone wrong, not)."""
    return used_at is None and issued_at <= now < issued_at + LINK_LIFETIME


def session_state(times: SessionTimes, now: datetime) -> SessionState:
    """Signing out wins over expiry, expiry over idleness: the most final reason is named."""
    if times.ended_at is not None:
        return SessionState.ENDED
    if now >= times.started_at + SESSION_ABSOLUTE:
        return SessionState.EXPIRED
    if now >= times.last_seen_at + SESSION_IDLE:
        return SessionState.IDLE
    return SessionState.LIVE


def idle_cutoff(now: datetime) -> datetime:
    """A session last seen before this is idle (for a store's conditional update)."""
    return now - SESSION_IDLE


def absolute_cutoff(now: datetime) -> datetime:
    """A session started before this has expired."""
    return now - SESSION_ABSOLUTE


def cookie_may_be_insecure(inbox_base_url: str, allow_insecure_loopback: bool) -> bool:
    """Without ``Secure`` only when asked for and the inbox is reached over plain http on
    this machine (tests, the demo); a deployment's cookie is always ``Secure``."""
    url = urlsplit(inbox_base_url)
    return allow_insecure_loopback and url.scheme == "http" and url.hostname in LOOPBACK_HOSTS
