"""An idle retry worker waits long (its ``poll_seconds``, here a minute) and is woken at once by
the delivery batch of its own process that queues work for it; work queued by another
process is picked up within the idle wait; a row due later is tried at its time, never
before. Through the real database, the real delivery batch and the real alert worker, sending
to a real SMTP server on loopback."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from broker.adapters import db
from broker.alert_settings import SmtpSettings
from broker.bootstrap import Runtime, alert_worker, runtime
from broker.config import Settings
from tests.alert_servers import SmtpSink, smtp_sink
from tests.integration.test_delivery_directory import deliver_one, set_reach

pytestmark = pytest.mark.integration

GENEROUS = 30.0  # seconds: half the idle minute, generous for a loaded machine


def with_alerts(settings: Settings, sink: SmtpSink, idle_seconds: float) -> Settings:
    smtp = SmtpSettings(host="127.0.0.1", port=sink.port, starttls=False,
                        from_address="alerts@partnership.example.org")  # fmt: skip
    alerts = settings.alerts.model_copy(update={"smtp": smtp, "poll_seconds": idle_seconds})
    return settings.model_copy(update={"alerts": alerts})


@asynccontextmanager
async def alert_loop(rt: Runtime) -> AsyncIterator[None]:
    """The alert worker running as the delivery process runs it, woken by ``rt``'s batches;
    started, and its first (empty) pass over, before the block runs."""
    worker, stop = alert_worker(rt, rt.services.delivery.wakes.alerts), asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    await asyncio.sleep(0.5)  # its first pass finds nothing: it is waiting its idle minute
    try:
        yield
    finally:
        stop.set()
        await task


async def sent(rt: Runtime, notice: str) -> datetime:
    """When the notice's new-notice alert was sent (as the worker's pass dated it), waiting
    for it at most ``GENEROUS`` seconds."""
    query = select(db.AlertDelivery.finished_at).where(
        db.AlertDelivery.notice_id == notice, db.AlertDelivery.state == "sent"
    )
    async with asyncio.timeout(GENEROUS):
        while True:
            async with rt.sessions() as session:
                if at := await session.scalar(query):
                    return at
            await asyncio.sleep(0.1)


class TestAnIdleWorkerIsWoken:
    async def test_an_alert_queued_by_this_process_is_sent_without_the_idle_wait(
        self, settings: Settings, directory: None
    ) -> None:
        """The worker idles for a minute; a delivery batch in its process queues an alert:
        the alert is sent at once, long before the minute is out."""
        with smtp_sink() as sink:
            async with runtime(with_alerts(settings, sink, 60), configure_logs=False) as rt:
                await set_reach(rt, None, ("lead@riverside.example",))
                async with alert_loop(rt):
                    notice = await deliver_one(rt, 0)
                    await sent(rt, notice)
            assert [m["To"] for m in sink.messages] == ["lead@riverside.example"]

    async def test_an_alert_queued_by_another_process_is_sent_within_the_idle_wait(
        self, settings: Settings, directory: None
    ) -> None:
        """A second delivery process (its own wakes) queues an alert: this process's worker,
        never woken, picks it up at its next idle look (here every second)."""
        with smtp_sink() as sink:
            ours = with_alerts(settings, sink, 1)
            async with (
                runtime(ours, configure_logs=False) as rt,
                runtime(ours, configure_logs=False) as other,
            ):
                await set_reach(rt, None, ("lead@riverside.example",))
                async with alert_loop(rt):
                    notice = await deliver_one(other, 0)
                    await sent(rt, notice)
            assert len(sink.messages) == 1

    async def test_an_alert_due_later_is_sent_at_its_time_not_before(
        self, settings: Settings, directory: None
    ) -> None:
        """A notice held for two seconds queues its alert due then: the worker, woken by the
        batch, finds nothing due yet, waits until the alert's time (not its idle minute) and
        sends it then, never before."""
        with smtp_sink() as sink:
            async with runtime(with_alerts(settings, sink, 60), configure_logs=False) as rt:
                await set_reach(rt, None, ("lead@riverside.example",))
                async with alert_loop(rt):
                    held_until = datetime.now(UTC) + timedelta(seconds=2)
                    notice = await deliver_one(rt, 0, held_until)
                    assert await sent(rt, notice) >= held_until
            assert len(sink.messages) == 1
