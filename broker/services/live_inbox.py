"""A live inbox page's look at its inbox (entrypoints/web/live.py asks every few seconds):
is the session still live, and which notices are released to the contact now.

One read of the session (its idle clock left alone: the stream is not a person using the
page) and one of the inbox's ids; nothing written, nothing decrypted.
"""

from dataclasses import dataclass
from datetime import datetime

from broker.ports import UnitOfWork
from broker.rules.live_inbox import stream_goes_on
from broker.rules.web_sessions import SessionTimes


@dataclass(frozen=True)
class Look:
    live: bool
    released: frozenset[str]  # notice ids; empty once the session has ended


async def look(uow: UnitOfWork, id_hash: str, contact_id: str, now: datetime) -> Look:
    session = await uow.web_sessions.get(id_hash)
    times = None
    if session is not None and session.contact_id == contact_id:
        times = SessionTimes(session.started_at, session.last_seen_at, session.ended_at)
    if not stream_goes_on(times, now):
        return Look(False, frozenset())
    return Look(True, frozenset(await uow.inbox.released_ids(contact_id, now)))
