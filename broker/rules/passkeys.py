"""Passkeys for the web inbox: how long a ceremony's challenge lives, what a sign-in link
grants once its contact has passkeys, which signature counter is believable, and where the
browser's WebAuthn calls must come from. Pure: time comes in as an argument.

A challenge is used once, within ``CHALLENGE_LIFETIME`` of being issued: long enough for a
person to find their phone or touch a key, short enough that a captured one is soon useless.
"""

import base64
import hashlib
from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

CHALLENGE_LIFETIME = timedelta(minutes=5)
# The PRF input the browser evaluates at every ceremony. Not a secret: each passkey's own PRF
# secret makes its output differ, and one fixed input lets a sign-in name no passkey first.
PRF_INPUT = hashlib.sha256(b"safeguarding-broker passkey PRF v1").digest()


class CeremonyKind(StrEnum):
    REGISTRATION = "registration"  # a new person enrols, after a sign-in link
    AUTHENTICATION = "authentication"  # signing in with a passkey
    RECOVERY = "recovery"  # a person with a recovery key enrols a passkey in place of theirs


class LinkGrant(StrEnum):
    """What using a sign-in link starts."""

    SESSION = "link"  # the contact has no passkey yet: a session, from which to enrol one
    INVITATION = "invitation"  # it has: only the enrolment of a new person's passkey


def link_grants(contact_has_passkeys: bool) -> LinkGrant:
    """Once a contact has a passkey, a link reads no notices: it only invites a new person
    to enrol (who needs the contact's key to do it), so a forwarded link opens nothing."""
    return LinkGrant.INVITATION if contact_has_passkeys else LinkGrant.SESSION


def may_enrol(signed_in_with: str) -> bool:
    """A passkey is enrolled from a sign-in link's session (or with a recovery key, which
    needs none): a passkey's own session belongs to a person who has one."""
    return signed_in_with in {LinkGrant.SESSION, LinkGrant.INVITATION}


def challenge_usable(issued_at: datetime, used_at: datetime | None, now: datetime) -> bool:
    """Unused and younger than its lifetime (issued in the future: a clock gone wrong, not)."""
    return used_at is None and issued_at <= now < issued_at + CHALLENGE_LIFETIME


def challenge_cutoff(now: datetime) -> datetime:
    """A challenge issued at or before this has expired (for a store's conditional update)."""
    return now - CHALLENGE_LIFETIME


def sign_count_believable(stored: int, reported: int) -> bool:
    """An authenticator that counts must count up: a count that does not rise suggests a
    cloned credential. Zero on both sides is an authenticator that does not count (most
    synced passkeys), and believed."""
    return reported > stored or (stored == 0 and reported == 0)


def added_since(last_here: datetime, others_set_up: Iterable[datetime]) -> int:
    """How many of the person's other passkeys were set up after ``last_here`` (when the
    passkey signing in now was last used, or set up if never): a device added with the
    recovery key meanwhile, which the person is shown, to check it was them."""
    return sum(1 for set_up in others_set_up if set_up > last_here)


def relying_party(inbox_base_url: str) -> tuple[str, str]:
    """The WebAuthn relying party id (the inbox's host) and the origin the browser reports
    (scheme, host and any port), both from the inbox's public address."""
    url = urlsplit(inbox_base_url)
    if not url.hostname or url.scheme not in {"http", "https"}:
        raise ValueError("the inbox's base URL names no http(s) host")
    return url.hostname, f"{url.scheme}://{url.netloc}"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def from_b64url(text: str) -> bytes:
    """Unpadded base64url, strictly: anything else is ``ValueError``."""
    if not isinstance(text, str) or not text.isascii() or any(c in text for c in "=+/"):
        raise ValueError("not unpadded base64url")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except ValueError as exc:
        raise ValueError("not unpadded base64url") from exc
