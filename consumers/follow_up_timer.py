"""The router's timer: sends on notices the outbox still holds, and escalates missed deadlines.

Both are safe to run in every router instance at once: the relay's duplicates are the same
notice twice (kept once downstream), and each escalation is claimed in its transaction.
"""

import asyncio
import contextlib
from datetime import UTC, datetime

import structlog
from sqlalchemy.exc import DBAPIError

from broker.adapters.kafka import is_transient
from broker.bootstrap import Runtime
from broker.errors import PublishFailed
from broker.services import follow_ups
from broker.services.outbox import Outbox

log = structlog.get_logger(__name__)


async def tick(rt: Runtime, now: datetime) -> list[str]:
    """One round: relay what is pending, then escalate what is due; returns escalations."""
    outbox = Outbox(rt.sessions, rt.publisher, rt.topics.notices, rt.keys.pseudonym_secret)
    await outbox.relay(now)
    deps = follow_ups.FollowUpDeps(rt.keys, rt.data_keys, rt.settings.routing.escalation_period())
    async with rt.sessions.begin() as session:
        escalations = await follow_ups.escalate_due(session, deps, now)
    await outbox.publish(escalations, now)
    return escalations


async def run_follow_up_timer(rt: Runtime, stop: asyncio.Event) -> None:
    interval = rt.settings.follow_up_interval_seconds
    while not stop.is_set():
        try:
            await tick(rt, datetime.now(UTC))
        except Exception as exc:
            # The database or Kafka is away (a refused connection while the database
            # restarts is an OSError, not a DBAPIError): nothing was claimed that is not also
            # recorded, so the next round picks up where this one stopped.
            if not (isinstance(exc, DBAPIError | PublishFailed) or is_transient(exc)):
                raise
            log.warning("follow_up_timer_deferred", error=type(exc).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
