"""One round of the router's timer, at a time it is given.

Does what the front doors and recipients decided through the inbox API and what needs the
router's keys (publishing matched events again, applying confirmed proposals, sending
rejected notices on, reminding lead professionals of step-down reviews), purges the matching
queue's expired entries, sends on notices the outbox still holds, escalates missed deadlines,
tells referring agencies of front doors' decisions and escalates overdue next steps.

All are safe to run in every router instance at once: the relay's duplicates are the same
notice twice (kept once downstream), and each match, confirmation, re-route, reminder and
escalation is claimed in its transaction. Each item goes in its own transaction, so one that
fails for good holds up no other and is tried again next round; Kafka or the database being
away stops the round (``is_transient``), for the scheduler to try again later.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from broker.adapters.kafka import is_transient
from broker.ports import DataKeyStore, Message, UnitOfWorkFactory
from broker.services import follow_ups, matching, next_steps, proposals, reminders
from broker.services.follow_ups import FollowUpDeps
from broker.services.match_publication import MatchPublication
from broker.services.outbox import Outbox
from broker.services.peer_transfers import PeerIntake
from broker.services.retention import purge_unmatched_queue
from broker.services.routing import RoutingDeps

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class TimerRound:
    """What a round uses, built once per process (bootstrap.build_services)."""

    unit_of_work: UnitOfWorkFactory
    data_keys: DataKeyStore
    outbox: Outbox
    follow_ups: FollowUpDeps
    matches: MatchPublication
    routing: RoutingDeps
    queue_retention: timedelta
    peers: PeerIntake | None = None  # transfers peer brokers pushed to the gateway

    async def release_claims(self) -> None:
        """What a router that stopped mid-publication left claimed, given back."""
        async with self.unit_of_work() as uow:
            await matching.release_claims(uow)

    async def run(self, now: datetime) -> list[str]:
        """One round: carry out the inbox API's decisions, purge the queue, relay what is
        pending, then escalate what is due; returns the escalations."""
        await self.decisions(now)
        async with self.unit_of_work() as uow:
            await purge_unmatched_queue(uow, self.data_keys, now,
                                        self.queue_retention)  # fmt: skip
        await self.outbox.relay(now)
        escalations, dead_letters = await self.missed_deadlines(now)
        escalations += await self.overdue_steps(now)
        await self.outbox.publish(escalations, also=dead_letters)
        return escalations

    async def missed_deadlines(self, now: datetime) -> tuple[list[str], list[Message]]:
        """Each notice past its deadline escalated; with the dead letters of those whose
        transaction committed (a failed one's are dropped with it)."""
        deps = self.follow_ups
        async with self.unit_of_work() as uow:
            due = await follow_ups.due_for_escalation(uow, now, deps.school_lead)
        dead_letters: list[Message] = []

        async def escalate(notice_id: str) -> str | None:
            letters: list[Message] = []
            async with self.unit_of_work() as uow:
                made = await follow_ups.escalate(uow, notice_id, deps, now, letters)
            dead_letters.extend(letters)
            return made

        return await _each(due, escalate, "escalate"), dead_letters

    async def overdue_steps(self, now: datetime) -> list[str]:
        """Next steps past their time (a referral's decision, a transfer's conference), each
        escalated to whoever must chase it."""
        async with self.unit_of_work() as uow:
            due = await next_steps.due_overdue(uow, now)

        async def escalate(ref: str) -> str | None:
            notice_id, step = ref.split("|")
            async with self.unit_of_work() as uow:
                return await next_steps.escalate_overdue(uow, notice_id, step, self.follow_ups,
                                                         now)  # fmt: skip

        return await _each([f"{n}|{s}" for n, s in due], escalate, "overdue_step")

    async def decisions(self, now: datetime) -> None:
        """What the inbox API recorded and cannot do itself: it holds no key that opens an
        event or signs a notice (broker/keys.py, PROCESS_KEYS)."""
        matches, deps, outbox = self.matches, self.follow_ups, self.outbox
        if self.peers is not None:  # the gateway holds no key that opens a peer's transfer
            await self.peers.apply_pending(now)
        await _each(await matches.unkept(), lambda i: matches.keep_people(i, self.data_keys),
                    "keep")  # fmt: skip
        await _each(await matches.accepted(), matches.publish, "republish")

        async def confirm(event_id: str) -> str:
            notices, reports = await proposals.confirm(self.routing, event_id)
            await outbox.publish([str(n.notice_id) for n in notices], also=reports)
            return event_id

        async def reroute(notice_id: str) -> str | None:
            async with self.unit_of_work() as uow:
                return await follow_ups.reroute_pending(uow, notice_id, deps)

        async def remind(notice_id: str) -> str | None:
            async with self.unit_of_work() as uow:
                return await reminders.send(uow, notice_id, deps, now)

        async def tell(ref: str) -> str | None:
            notice_id, step = ref.split("|")
            async with self.unit_of_work() as uow:
                return await next_steps.tell_referrer(uow, notice_id, step, deps, now)

        async with self.unit_of_work() as uow:
            confirmed = await proposals.confirming(uow)
            rejected = await follow_ups.due_for_reroute(uow)
            reviews = await reminders.due(uow, now)
            decided = [f"{n}|{s}" for n, s in await next_steps.due_for_telling(uow)]
        await _each(confirmed, confirm, "confirm")
        await outbox.publish(await _each(rejected, reroute, "reroute"))
        await outbox.publish(await _each(reviews, remind, "remind"))
        await outbox.publish(await _each(decided, tell, "tell_referrer"))


def transient(exc: BaseException) -> bool:
    """Kafka or the database away: the round stops, and the next one picks up."""
    # Connecting to a database that is restarting fails with a bare OSError (asyncpg's
    # "Multiple exceptions: Connect call failed"), before any DBAPIError wraps it.
    return is_transient(exc) or isinstance(exc, OSError)


async def _each(
    refs: list[str], do: Callable[[str], Awaitable[str | None]], what: str
) -> list[str]:
    """Does each in turn; answers what they made. One that fails for good is logged (by
    its id) and left for the next round; Kafka or the database being away stops the round."""
    made = []
    for ref in refs:
        try:
            result = await do(ref)
        except Exception as exc:
            if transient(exc):
                raise
            log.error("timer_step_failed", step=what, ref=ref, error=type(exc).__name__)
            continue
        if result:
            made.append(result)
    return made
