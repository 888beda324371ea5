"""The loop every retry queue's worker runs (webhooks, alerts, NHS MESH, peer receipts): a pass
over what is due, then, when the pass found nothing, a wait until the first of: the queue's
earliest row falls due, this process queues something for it (``wake``), the idle wait runs
out (``idle_seconds``), or it is told to stop.

An idle loop thus costs one pass and one look at the earliest due time per ``idle_seconds``
instead of a pass a second. Work this process queues (the delivery batch's webhooks, alerts
and MESH sends) is tried at once, and a retry at its time; work queued by another process (a
row written by the inbox API, or by a second delivery process) waits at most ``idle_seconds``
after it is due.
"""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog

from broker.adapters.kafka import is_transient

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Wakes:
    """One event per queue the delivery batch fills, set after its commit, so that this
    process's worker for that queue tries the new rows at once."""

    webhooks: asyncio.Event = field(default_factory=asyncio.Event)
    alerts: asyncio.Event = field(default_factory=asyncio.Event)
    mesh: asyncio.Event = field(default_factory=asyncio.Event)


NextDue = Callable[[], Awaitable[datetime | None]]
"""When the queue's earliest open row falls due (None: the queue is empty)."""


async def poll(
    stop: asyncio.Event,
    one_pass: Callable[[], Awaitable[int]],
    idle_seconds: float,
    paused: str,
    also_transient: tuple[type[Exception], ...] = (),
    *,
    wake: asyncio.Event | None = None,
    next_due: NextDue | None = None,
) -> None:
    """Runs ``one_pass`` until ``stop`` (a pass under way is finished and recorded first),
    waiting after a pass that did nothing (``idle_wait``). The database or Kafka away pauses
    the worker, logged as ``paused``: an item claimed is tried again when its lease runs out,
    so waiting a moment loses nothing. Any other error stops it."""
    wake = wake or asyncio.Event()
    while not stop.is_set():
        wake.clear()  # before the pass: a ring during it is not lost, it runs another
        try:
            done = await one_pass()
            wait = 0.0 if done else await idle_wait(next_due, idle_seconds)
        except Exception as exc:
            if not (is_transient(exc) or isinstance(exc, also_transient)):
                raise
            log.warning(paused, error=type(exc).__name__)
            wait = idle_seconds
        if wait > 0:
            await _first_of(stop, wake, wait)


BLOCKED_SECONDS = 1.0
"""The wait when a row is due yet the pass took none (a recipient's later webhook behind its
earliest, still leased): as often as the loop always looked, never a busy loop."""


async def idle_wait(next_due: NextDue | None, idle_seconds: float) -> float:
    """Seconds to wait after an empty pass: until the earliest row falls due, at most
    ``idle_seconds``."""
    due = await next_due() if next_due else None
    if due is None:
        return idle_seconds
    until = (due - datetime.now(UTC)).total_seconds()
    return min(idle_seconds, until if until > 0 else BLOCKED_SECONDS)


async def _first_of(stop: asyncio.Event, wake: asyncio.Event, seconds: float) -> None:
    waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()
