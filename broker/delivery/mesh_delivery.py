"""What follows a MESH send, and what follows MESH's tracking of a sent message. Pure.

MESH answers twice. First the send: accepted (the message is in MESH, "sent"), or not. MESH
away or busy is transient, tried again after a backoff until the attempts run out; a refusal
(an unknown mailbox, a workflow the recipient does not take) would only be repeated, so it is
dead at once. Then MESH's tracking, polled until it settles: the recipient's mailbox
downloaded and acknowledged the message (the transport acknowledgement, recorded as the
"delivered" receipt of channel ``mesh``; a person's acknowledgement still comes only through
the inbox API), or MESH reports it undeliverable, in error, or expired undownloaded (a
non-delivery: dead). Tracking that settles on neither within ``give_up_after`` is dead too:
MESH keeps undownloaded messages for days, not forever, so silence is a non-delivery.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from broker.delivery.backoff import Backoff
from broker.delivery.retry import EXHAUSTED, retry_at
from broker.ports import MeshSent, MeshTracking


class Verdict(StrEnum):
    SENT = "sent"  # accepted by MESH: track it
    ACKNOWLEDGED = "acknowledged"  # downloaded and acknowledged by the recipient's mailbox
    WAIT = "wait"  # try (or track) again at ``at``
    DEAD = "dead"


@dataclass(frozen=True)
class Next:
    verdict: Verdict
    reason: str | None = None  # mesh_refused | attempts_exhausted | mesh_undeliverable | ...
    at: datetime | None = None


# MESH's tracking statuses, lower-cased, and what each means for the send.
TRACKING: dict[str, Verdict] = {
    "uploading": Verdict.WAIT,  # still arriving in MESH
    "accepted": Verdict.WAIT,  # in the recipient's inbox, not downloaded yet
    "unreachable": Verdict.WAIT,  # MESH did not answer the poll: ask again
    "acknowledged": Verdict.ACKNOWLEDGED,
    "undeliverable": Verdict.DEAD,  # MESH's non-delivery report
    "error": Verdict.DEAD,
}


def after_send(
    sent: MeshSent,
    attempts: int,
    max_attempts: int,
    backoff: Backoff,
    now: datetime,
    jitter: float,
    track_every: timedelta,
) -> Next:
    """The send's next step after its ``attempts``-th attempt answered ``sent``."""
    if sent.message_id is not None:
        return Next(Verdict.SENT, at=now + track_every)
    if not sent.transient:
        return Next(Verdict.DEAD, "mesh_refused")
    at = retry_at(attempts, max_attempts, backoff, now, jitter)
    return Next(Verdict.DEAD, EXHAUSTED) if at is None else Next(Verdict.WAIT, at=at)


def after_tracking(
    tracking: MeshTracking,
    sent_at: datetime,
    now: datetime,
    track_every: timedelta,
    give_up_after: timedelta,
) -> Next:
    """What MESH's tracking of a sent message means: acknowledged, undelivered, or not yet.
    A status MESH may add later is tracked on, never taken for a delivery."""
    verdict = TRACKING.get(tracking.status, Verdict.WAIT)
    if verdict is Verdict.ACKNOWLEDGED:
        return Next(verdict)
    if verdict is Verdict.DEAD:
        return Next(verdict, f"mesh_{tracking.status}")
    if tracking.expired:
        return Next(Verdict.DEAD, "mesh_expired")
    if now - sent_at >= give_up_after:
        return Next(Verdict.DEAD, "mesh_not_downloaded")
    return Next(Verdict.WAIT, at=now + track_every)
