"""The router's timer: sends on notices the outbox still holds, escalates missed deadlines,
and anchors the audit chain's head in the audit topic.

Both are safe to run in every router instance at once: the relay's duplicates are the same
notice twice (kept once downstream), and each escalation is claimed in its transaction.
"""

import asyncio
import contextlib
from datetime import UTC, datetime

import structlog

from broker.adapters.kafka import Message, is_transient
from broker.bootstrap import Runtime
from broker.keys import audit_key
from broker.services import follow_ups
from broker.services.audit_anchoring import HeadAnchoring
from broker.services.outbox import Outbox

log = structlog.get_logger(__name__)


async def tick(rt: Runtime, now: datetime) -> list[str]:
    """One round: relay what is pending, then escalate what is due; returns escalations.
    Each notice escalates in its own transaction, so one that fails holds up no other."""
    outbox = Outbox(rt.sessions, rt.publisher, rt.topics.notices, rt.keys.pseudonym_secret)
    await outbox.relay(now)
    deps = follow_ups.FollowUpDeps(rt.keys, rt.data_keys, rt.settings.routing.escalation_period(),
                                   dead_letters=rt.topics.dead_letters)  # fmt: skip
    async with rt.sessions() as session:
        due = await follow_ups.due_for_escalation(session, now)
    escalations, dead_letters = [], []
    for notice_id in due:
        letters: list[Message] = []  # kept only if its transaction commits
        try:
            async with rt.sessions.begin() as session:
                escalation = await follow_ups.escalate(session, notice_id, deps, now, letters)
        except Exception as exc:
            if _transient(exc):
                raise
            # Left unclaimed, it is tried again next round; the others go ahead meanwhile.
            log.error("escalation_failed", notice_id=notice_id, error=type(exc).__name__)
            continue
        dead_letters += letters
        if escalation:
            escalations.append(escalation)
    await outbox.publish(escalations, now, also=dead_letters)
    return escalations


async def run_follow_up_timer(rt: Runtime, stop: asyncio.Event) -> None:
    interval = rt.settings.follow_up_interval_seconds
    anchoring = HeadAnchoring(rt.sessions, rt.publisher, rt.topics.audit,
                              audit_key(rt.settings.keys_dir))  # fmt: skip
    while not stop.is_set():
        try:
            await tick(rt, datetime.now(UTC))
            await anchoring.anchor()
        except Exception as exc:
            # The database or Kafka is away: nothing was claimed that is not also recorded,
            # so the next round picks up where this one stopped.
            if not _transient(exc):
                raise
            log.warning("follow_up_timer_deferred", error=type(exc).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)


def _transient(exc: BaseException) -> bool:
    # Connecting to a database that is restarting fails with a bare OSError (asyncpg's
    # "Multiple exceptions: Connect call failed"), before any DBAPIError wraps it.
    return is_transient(exc) or isinstance(exc, OSError)
