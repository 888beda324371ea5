"""The retry cycle every queue shares (webhooks, alerts, NHS MESH, peer receipts). Pure: the
clock and the jitter come in.

An item is claimed before each attempt: its attempts counted and its next attempt moved past
the request's timeout (a lease), so a second worker or a crash never doubles or loses it. A
transient failure is tried again after the backoff until ``max_attempts`` have been made; then
it is given up as ``attempts_exhausted``, as a permanent failure is at once. What each queue
does with a given-up item (a dead letter, a report, an audit entry) stays its own.
"""

from datetime import datetime, timedelta
from typing import Protocol

from broker.delivery.backoff import Backoff

EXHAUSTED = "attempts_exhausted"

RetryChange = dict[str, str | int | datetime | None]
"""Columns of a queued item to set (its state, attempts, next_attempt_at, ...)."""


class Tried(Protocol):
    """An item's place in its retry cycle, as read."""

    @property
    def attempts(self) -> int: ...

    @property
    def first_failed_at(self) -> datetime | None: ...


def lease(timeout_seconds: float) -> timedelta:
    """How long a claimed attempt holds its item: twice the request's timeout and a margin,
    so a lease runs out only when the worker that took it has certainly stopped."""
    return timedelta(seconds=2 * timeout_seconds + 5)


def retry_at(
    attempts: int, max_attempts: int, backoff: Backoff, now: datetime, jitter: float
) -> datetime | None:
    """When a transient failure of the ``attempts``-th attempt is tried again; None when the
    attempts have run out (give it up)."""
    if attempts >= max_attempts:
        return None
    return now + backoff.delay(attempts, jitter)


def retrying(item: Tried, at: datetime, error: str | None, now: datetime) -> RetryChange:
    """The change that schedules the next attempt, keeping when the item first failed."""
    return {"next_attempt_at": at, "last_error": error,
            "first_failed_at": item.first_failed_at or now}  # fmt: skip


def given_up(item: Tried, dead: str, error: str | None, now: datetime) -> RetryChange:
    """The change that ends the item in the queue's ``dead`` state."""
    return {"state": dead, "finished_at": now, "last_error": error,
            "first_failed_at": item.first_failed_at or now}  # fmt: skip
