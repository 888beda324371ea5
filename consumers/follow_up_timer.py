"""The router's timer: a round of broker/services/timer_round.py every interval, then the
audit chain's head anchored in the audit topic, and now and then the notice gauges counted.

Safe to run in every router instance at once (see the service). Kafka or the database being
away defers the round to the next interval; anything else stops the router.
"""

import asyncio
import contextlib
import time
from datetime import UTC, datetime

import structlog

from broker.adapters.notice_gauges import NoticeGauges
from broker.bootstrap import Runtime
from broker.keys import audit_key
from broker.services.audit_anchoring import HeadAnchoring
from broker.services.timer_round import transient

log = structlog.get_logger(__name__)


async def tick(rt: Runtime, now: datetime) -> list[str]:
    """One round at ``now`` (tests drive the timer through this); returns escalations."""
    return await rt.services.timer.run(now)


async def run_follow_up_timer(rt: Runtime, stop: asyncio.Event) -> None:
    anchoring = HeadAnchoring(rt.unit_of_work, rt.publisher, rt.topics.audit,
                              audit_key(rt.settings.keys_dir))  # fmt: skip
    gauges = NoticeGauges(rt.engine, rt.settings.notice_gauges_interval_seconds)
    released = False
    while not stop.is_set():
        try:
            if not released:
                await rt.services.timer.release_claims()
                released = True
            began = time.time()
            await tick(rt, datetime.now(UTC))
            await anchoring.anchor()
            await gauges.refresh_if_due(datetime.now(UTC))  # for /metrics
            # When and how long: routing shares this process's loop and database (debug: the
            # benchmark's per-stage report reads it at SGB_LOG_LEVEL=DEBUG).
            log.debug("timer_round", started_at=began, seconds=round(time.time() - began, 4))
        except Exception as exc:
            # Nothing was claimed that is not also recorded, so the next round picks up
            # where this one stopped.
            if not transient(exc):
                raise
            log.warning("follow_up_timer_deferred", error=type(exc).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), rt.settings.follow_up_interval_seconds)
