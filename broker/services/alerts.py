"""Tells a person that a notice waits in their inbox, by email or SMS, saying nothing of it.

The delivery worker queues the alerts in the transaction that puts the notice in the inbox
(``enqueue``): one per channel of the recipient contact, "new notice" or "escalation" (an
escalation is a notice delivered like any other, ``follow_up`` naming it), and a reminder due
at its time (``rules.alerts.reminder_at``). So none is lost, and none is queued twice however
often Kafka redelivers the notice. The worker (``AlertWorker.run``, in the delivery process
beside the webhook dispatcher) takes due alerts, drops those that no longer have a point (the
notice answered, a reminder past its deadline), claims each attempt (a lease, as the webhook
queue does), words the text from the directory at that moment, sends it through the channel's
``AlertSender``, and records what ``delivery.alert_delivery.after`` says follows.

Addresses are a professional's personal data: they go to the sender and nowhere else, never
into a log line, a metric or an error.
"""

import asyncio
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

import structlog

from broker.adapters import metrics
from broker.alert_settings import AlertSettings
from broker.delivery.alert_delivery import after
from broker.delivery.retry import given_up, lease, retrying
from broker.delivery.webhook_delivery import Verdict
from broker.ports import (
    AlertAttempt,
    AlertChannelRow,
    AlertDue,
    AlertFailures,
    AlertQueued,
    AlertSender,
    AuditRecord,
    RetryChange,
    UnitOfWork,
    UnitOfWorkFactory,
)
from broker.rules.alerts import (
    SUBJECT,
    AlertFacts,
    Trigger,
    alert_text,
    notice_link,
    reminder_at,
    worth_sending,
)
from broker.rules.family import OrgKind
from broker.services.retry_worker import poll
from schemas.notices import FollowUp, NoticeHeader

log = structlog.get_logger(__name__)
SENT, DEAD, CANCELLED = "sent", "dead", "cancelled"


async def enqueue(uow: UnitOfWork, notices: Sequence[NoticeHeader], now: datetime) -> int:
    """Queues the alerts of each notice whose recipient contact has channels (one read of
    the channels for the batch); answers how many were new."""
    channels: dict[str, list[AlertChannelRow]] = {}
    for row in await uow.alert_channels.of_contacts([h.recipient_id for h in notices]):
        channels.setdefault(row.contact_id, []).append(row)
    schools: dict[str, bool] = {}
    queued: list[AlertQueued] = []
    for header in notices:
        if header.recipient_id not in channels:
            continue
        org = header.recipient_org
        if org not in schools:
            schools[org] = await uow.recipients.organisation_kind(org) == OrgKind.SCHOOL
        queued += alerts_of(header, channels[header.recipient_id], schools[org], now)
    return await uow.alerts.enqueue(queued) if queued else 0


def alerts_of(
    header: NoticeHeader, channels: Sequence[AlertChannelRow], school: bool, now: datetime
) -> list[AlertQueued]:
    """The notice's alerts to each channel: at once (a low-severity notice held for the daily
    digest: when it is released), and a reminder at its time if it has one."""
    first = Trigger.ESCALATION if header.follow_up is FollowUp.ESCALATION else Trigger.NEW_NOTICE
    at = max(now, header.held_until) if header.held_until else now
    when = [(first, at)]
    reminder = reminder_at(at, header.deadline, school)
    if reminder is not None:
        when.append((Trigger.DEADLINE_APPROACHING, reminder))
    return [AlertQueued(str(header.notice_id), trigger, channel.id, header.recipient_id,
                        header.deadline, due_at, now)
            for trigger, due_at in when for channel in channels]  # fmt: skip


async def failing(uow: UnitOfWork, now: datetime, window: timedelta) -> list[AlertFailures]:
    """Contacts whose alerts keep failing, by kind of channel, over the last ``window``: for
    the front door or the administrator to put the address right."""
    return await uow.alerts.failing(now - window)


@dataclass
class AlertWorker:
    units: UnitOfWorkFactory
    senders: Mapping[str, AlertSender]  # by channel kind (rules.alerts.ChannelKind)
    settings: AlertSettings
    inbox_base_url: str
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    jitter: Callable[[], float] = random.random
    wake: asyncio.Event = field(default_factory=asyncio.Event)  # set when this process queues

    async def run(self, stop: asyncio.Event) -> None:
        """Sends until ``stop``; a send under way is finished and recorded first."""
        log.info("alert_worker_started", channels=sorted(self.senders))
        await poll(stop, self.send_due, self.settings.poll_seconds, "alert_worker_paused",
                   also_transient=(OSError,), wake=self.wake, next_due=self.next_due)  # fmt: skip
        log.info("alert_worker_stopped")

    async def next_due(self) -> datetime | None:
        async with self.units() as uow:
            return await uow.alerts.next_due()

    async def send_due(self) -> int:
        """One pass over the alerts due now; answers how many it settled or attempted."""
        now = self.clock()
        async with self.units() as uow:
            due = await uow.alerts.due(now, self.settings.batch)
        outcomes = await asyncio.gather(*(self._send(d, now) for d in due),
                                        return_exceptions=True)  # fmt: skip
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome  # the others have finished: nothing is left running unawaited
        return len(due)

    async def _send(self, due: AlertDue, now: datetime) -> None:
        if not worth_sending(Trigger(due.trigger), due.deadline, due.answered, now):
            await self._settle(due, {"state": CANCELLED, "finished_at": now})
            self._count(due, "cancelled")
            return
        sender = self.senders.get(due.channel_kind or "")
        if due.address is None or sender is None:
            reason = "channel_removed" if due.address is None else "channel_not_configured"
            await self._give_up(due, reason, now)
            return
        claimed = await self._claim(due, now)
        if claimed is None:
            return  # another worker has it
        text = alert_text(self._facts(due), now)
        try:
            attempt = await sender.send(due.address, SUBJECT, text, f"alert-{due.sequence}")
        except Exception as exc:  # a sender's own bug: counted as a failure, never a crash
            attempt = AlertAttempt(False, type(exc).__name__)
        await self._record(claimed, attempt)

    def _facts(self, due: AlertDue) -> AlertFacts:
        start = time.fromisoformat(due.session_start) if due.session_start else None
        return AlertFacts(Trigger(due.trigger), due.org_name, due.role, due.deadline, start,
                          notice_link(self.inbox_base_url, due.notice_id))  # fmt: skip

    async def _record(self, due: AlertDue, attempt: AlertAttempt) -> None:
        """Settles a claimed alert (``due`` as claimed) as the rules say its attempt ends."""
        now = self.clock()
        step = after(attempt, due.attempts, self.settings.max_attempts, self.settings.backoff(),
                     now, self.jitter())  # fmt: skip
        error = attempt.error or "unknown"
        if step.verdict is Verdict.DELIVERED:
            await self._sent(due, now)
        elif step.verdict is Verdict.RETRY:
            assert step.retry_at is not None  # a RETRY verdict always carries its time
            await self._settle(due, retrying(due, step.retry_at, error, now))
            self._count(due, "retried")
            log.warning("alert_retry", alert=due.sequence, notice_id=due.notice_id,
                        channel=due.channel_kind, attempts=due.attempts, error=error)  # fmt: skip
        else:
            await self._give_up(due, error, now, step.reason)

    async def _sent(self, due: AlertDue, now: datetime) -> None:
        # What was shared, with whom and why: the alert's trigger and channel, no address.
        told = {"contact_id": due.contact_id, "trigger": due.trigger, "channel": due.channel_kind}
        record = AuditRecord("alert_sent", "alerts", due.notice_id, told)
        async with self.units() as uow:
            if await uow.alerts.settle(due, {"state": SENT, "finished_at": now}):
                await uow.audit.append(record, now)
        self._count(due, "sent")
        log.info("alert_sent", alert=due.sequence, notice_id=due.notice_id,
                 trigger=due.trigger, channel=due.channel_kind, attempts=due.attempts)  # fmt: skip

    async def _give_up(
        self, due: AlertDue, error: str, now: datetime, reason: str | None = None
    ) -> None:
        await self._settle(due, given_up(due, DEAD, error, now))
        self._count(due, "dead")
        log.warning("alert_failed", alert=due.sequence, notice_id=due.notice_id,
                    contact_id=due.contact_id, channel=due.channel_kind, attempts=due.attempts,
                    error=error, reason=reason or error)  # fmt: skip

    async def _claim(self, due: AlertDue, now: datetime) -> AlertDue | None:
        """Counts the attempt and leases it (the alert as claimed, to settle later), unless
        another worker got there first (None)."""
        async with self.units() as uow:
            return await uow.alerts.claim(due, now + lease(self.settings.timeout_seconds))

    async def _settle(self, due: AlertDue, change: RetryChange) -> bool:
        async with self.units() as uow:
            return await uow.alerts.settle(due, change)

    @staticmethod
    def _count(due: AlertDue, outcome: str) -> None:
        metrics.ALERTS.labels(channel=due.channel_kind or "removed", outcome=outcome).inc()
