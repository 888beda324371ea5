"""The router's timer: does what the front doors and recipients decided through the inbox
API and what needs the router's keys (publishing matched events again, applying confirmed
proposals, sending rejected notices on, reminding lead professionals of step-down reviews),
purges the matching queue's expired entries, sends on notices the outbox still holds,
escalates missed deadlines, and anchors the audit chain's head in the audit topic.

Also tells referring agencies of front doors' decisions and escalates overdue next steps
(services/next_steps.py), and sends step-down review reminders (services/reminders.py). All
are safe to run in every router instance at once: the relay's duplicates are the same notice
twice (kept once downstream), and each match, confirmation, re-route, reminder and escalation
is claimed in its transaction.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import structlog

from broker.adapters.kafka import is_transient
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.bootstrap import Runtime
from broker.keys import audit_key
from broker.ports import Message
from broker.services import follow_ups, matching, next_steps, proposals, reminders
from broker.services.audit_anchoring import HeadAnchoring
from broker.services.retention import purge_unmatched_queue

log = structlog.get_logger(__name__)


async def tick(rt: Runtime, now: datetime) -> list[str]:
    """One round: carry out the inbox API's decisions, purge the queue, relay what is
    pending, then escalate what is due; returns escalations. Each notice escalates in its
    own transaction, so one that fails holds up no other."""
    outbox, deps = rt.services.outbox, rt.services.follow_ups
    await decisions(rt, now)
    async with rt.unit_of_work() as uow:
        retention = timedelta(days=rt.settings.matching_queue_retention_days)
        await purge_unmatched_queue(uow, rt.data_keys, now, retention)
    await outbox.relay(now)
    async with rt.unit_of_work() as uow:
        due = await follow_ups.due_for_escalation(uow, now, deps.school_lead)
    escalations, dead_letters = [], []
    for notice_id in due:
        letters: list[Message] = []  # kept only if its transaction commits
        try:
            async with rt.unit_of_work() as uow:
                escalation = await follow_ups.escalate(uow, notice_id, deps, now, letters)
        except Exception as exc:
            if _transient(exc):
                raise
            # Left unclaimed, it is tried again next round; the others go ahead meanwhile.
            log.error("escalation_failed", notice_id=notice_id, error=type(exc).__name__)
            continue
        dead_letters += letters
        if escalation:
            escalations.append(escalation)
    escalations += await overdue_steps(rt, now)
    await outbox.publish(escalations, now, also=dead_letters)
    return escalations


async def overdue_steps(rt: Runtime, now: datetime) -> list[str]:
    """Next steps past their time (a referral's decision, a transfer's conference), each
    escalated in its own transaction to whoever must chase it."""
    deps = rt.services.follow_ups
    async with rt.sessions() as session:
        due = await next_steps.due_overdue(session, now)

    async def escalate(ref: str) -> str | None:
        notice_id, step = ref.split("|")
        async with rt.sessions.begin() as session:
            return await next_steps.escalate_overdue(session, notice_id, step, deps, now)

    return await _each([f"{n}|{s}" for n, s in due], escalate, "overdue_step")


async def decisions(rt: Runtime, now: datetime) -> None:
    """What the inbox API recorded and cannot do itself: it holds no key that opens an event
    or signs a notice (broker/keys.py, PROCESS_KEYS). Each in its own transaction, so one
    that fails holds up no other and is tried again next round."""
    outbox, deps = rt.services.outbox, rt.services.follow_ups
    matches = rt.services.match_publication
    await _each(await matches.unkept(), lambda i: matches.keep_people(i, rt.data_keys), "keep")
    await _each(await matches.accepted(), matches.publish, "republish")
    routing = rt.services.routing

    async def confirm(event_id: str) -> str:
        notices, reports = await proposals.confirm(routing, event_id)
        await outbox.publish([str(n.notice_id) for n in notices], now, also=reports)
        return event_id

    async def reroute(notice_id: str) -> str | None:
        async with rt.unit_of_work() as uow:
            return await follow_ups.reroute_pending(uow, notice_id, deps)

    async def remind(notice_id: str) -> str | None:
        async with rt.sessions.begin() as session:
            return await reminders.send(session, notice_id, deps, now)

    async def tell(ref: str) -> str | None:
        notice_id, step = ref.split("|")
        async with rt.sessions.begin() as session:
            return await next_steps.tell_referrer(session, notice_id, step, deps, now)

    async with rt.sessions() as session:
        confirmed = await proposals.confirming(session)
        rejected = await follow_ups.due_for_reroute(SqlUnitOfWork.joined(session))
        reviews = await reminders.due(session, now)
        decided = [f"{n}|{s}" for n, s in await next_steps.due_for_telling(session)]
    await _each(confirmed, confirm, "confirm")
    await outbox.publish(await _each(rejected, reroute, "reroute"), now)
    await outbox.publish(await _each(reviews, remind, "remind"), now)
    await outbox.publish(await _each(decided, tell, "tell_referrer"), now)


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
            if _transient(exc):
                raise
            log.error("timer_step_failed", step=what, ref=ref, error=type(exc).__name__)
            continue
        if result:
            made.append(result)
    return made


async def run_follow_up_timer(rt: Runtime, stop: asyncio.Event) -> None:
    interval = rt.settings.follow_up_interval_seconds
    anchoring = HeadAnchoring(lambda: SqlUnitOfWork(rt.sessions), rt.publisher, rt.topics.audit,
                              audit_key(rt.settings.keys_dir))  # fmt: skip
    released = False
    while not stop.is_set():
        try:
            if not released:  # what a router that stopped mid-publication left claimed
                async with rt.sessions.begin() as session:
                    await matching.release_claims(session)
                released = True
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
