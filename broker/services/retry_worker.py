"""The loop every retry queue's worker runs (webhooks, alerts, NHS MESH, peer receipts): a pass
over what is due, then a wait when the pass found nothing, until it is told to stop."""

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import suppress

import structlog

from broker.adapters.kafka import is_transient

log = structlog.get_logger(__name__)


async def poll(
    stop: asyncio.Event,
    one_pass: Callable[[], Awaitable[int]],
    poll_seconds: float,
    paused: str,
    also_transient: tuple[type[Exception], ...] = (),
) -> None:
    """Runs ``one_pass`` until ``stop`` (a pass under way is finished and recorded first),
    waiting ``poll_seconds`` after a pass that did nothing. The database or Kafka away pauses
    the worker, logged as ``paused``: an item claimed is tried again when its lease runs out,
    so waiting a moment loses nothing. Any other error stops it."""
    while not stop.is_set():
        try:
            done = await one_pass()
        except Exception as exc:
            if not (is_transient(exc) or isinstance(exc, also_transient)):
                raise
            log.warning(paused, error=type(exc).__name__)
            done = 0
        if not done:
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), poll_seconds)
