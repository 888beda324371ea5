"""The alert ports: a contact's channels replaced as a set (kept ones keep their ids), an
alert queued once per (notice, trigger, channel), due with what its text needs, and failures
reported per contact and kind of channel. What every retry queue does (claimed once, settled
only as read) is test_retry_queue.py's."""

from datetime import UTC, datetime, timedelta

from broker.ports import AlertQueued, UnitOfWork
from tests.contracts.conftest import UnitsOfWork

AT = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
DEADLINE = datetime(2026, 12, 7, 8, 45, tzinfo=UTC)
NOTICE = "00000000-0000-4000-8000-000000000001"
EMAIL = ("email", "dsl@oakfield.example.org")
MOBILE = ("sms", "+447700900123")


async def seed_contact(uow: UnitOfWork) -> None:
    rows = uow.directory_rows
    await rows.insert("organisations", [dict(rows.shape("organisations").defaults) | {
        "id": "school-1", "name": "Oakfield Primary School", "kind": "school", "area": "E0900001",
        "session_start": "08:45"}])  # fmt: skip
    await rows.insert("contacts", [dict(rows.shape("contacts").defaults) | {
        "id": "school-1:key_adult", "org_id": "school-1", "role": "key_adult",
        "hpke_public_key": "pk", "key_id": "k1", "daily_digest": False}])  # fmt: skip


def alert(channel_id: int, trigger: str = "new_notice", due: datetime = AT) -> AlertQueued:
    return AlertQueued(NOTICE, trigger, channel_id, "school-1:key_adult", DEADLINE, due, AT)


async def channels(unit_of_work: UnitsOfWork) -> dict[tuple[str, str], int]:
    async with unit_of_work() as uow:
        await seed_contact(uow)
        await uow.alert_channels.replace("school-1:key_adult", [EMAIL, MOBILE])
    async with unit_of_work() as uow:
        rows = await uow.alert_channels.of_contacts(["school-1:key_adult"])
    return {(r.kind, r.address): r.id for r in rows}


class TestAlertChannels:
    async def test_replaced_as_a_set(self, unit_of_work: UnitsOfWork) -> None:
        """Replacing keeps the channels named again (with their ids), drops the others and
        adds the new; the same set again changes nothing."""
        ids = await channels(unit_of_work)
        other = ("email", "deputy@oakfield.example.org")
        async with unit_of_work() as uow:
            assert await uow.alert_channels.replace("school-1:key_adult", [MOBILE, other])
            assert not await uow.alert_channels.replace("school-1:key_adult", [other, MOBILE])
        async with unit_of_work() as uow:
            rows = await uow.alert_channels.of_contacts(["school-1:key_adult", "nobody"])
        assert {(r.kind, r.address) for r in rows} == {MOBILE, other}
        assert next(r.id for r in rows if (r.kind, r.address) == MOBILE) == ids[MOBILE]


class TestAlertQueue:
    async def test_once_per_notice_trigger_and_channel(self, unit_of_work: UnitsOfWork) -> None:
        """The same alert queued again, in one batch or later, stays one; another trigger or
        channel is another alert."""
        ids = await channels(unit_of_work)
        email, mobile = ids[EMAIL], ids[MOBILE]
        async with unit_of_work() as uow:
            assert await uow.alerts.enqueue([alert(email), alert(email), alert(mobile)]) == 2
        async with unit_of_work() as uow:
            assert await uow.alerts.enqueue([alert(email), alert(email, "escalation")]) == 1

    async def test_due_with_what_its_text_needs(self, unit_of_work: UnitsOfWork) -> None:
        """Due once its time has come, earliest first, with its channel's address and the
        recipient's organisation, role and session start; a removed channel has no address."""
        ids = await channels(unit_of_work)
        later = AT + timedelta(days=2)
        async with unit_of_work() as uow:
            earlier = AT - timedelta(days=1)
            reminder = alert(ids[EMAIL], "deadline_approaching", later)
            await uow.alerts.enqueue([alert(ids[EMAIL]), alert(ids[MOBILE], due=earlier), reminder])
            await uow.alert_channels.replace("school-1:key_adult", [EMAIL])
        async with unit_of_work() as uow:
            due = await uow.alerts.due(AT, limit=10)
        assert [(d.channel_kind, d.address, d.trigger) for d in due] == [
            (None, None, "new_notice"),
            ("email", EMAIL[1], "new_notice"),
        ]
        first = due[1]
        assert (first.org_name, first.role, first.session_start) == (
            "Oakfield Primary School", "key_adult", "08:45")  # fmt: skip
        assert (first.deadline, first.attempts, first.answered) == (DEADLINE, 0, False)

    async def test_failures_reported_by_contact_and_kind(self, unit_of_work: UnitsOfWork) -> None:
        """A dead alert and one being retried are counted for their contact and kind of
        channel, with the last error's class; a sent one is not."""
        ids = await channels(unit_of_work)
        async with unit_of_work() as uow:
            await uow.alerts.enqueue([alert(ids[MOBILE]), alert(ids[MOBILE], "escalation"),
                                      alert(ids[EMAIL])])  # fmt: skip
        async with unit_of_work() as uow:
            due = {(d.channel_kind, d.trigger): d for d in await uow.alerts.due(AT, 10)}
            failed = {"first_failed_at": AT, "last_error": "notify_http_500"}
            await uow.alerts.settle(due["sms", "new_notice"], failed | {"state": "dead"})
            await uow.alerts.settle(due["sms", "escalation"], failed)
            await uow.alerts.settle(due["email", "new_notice"], {"state": "sent"})
        async with unit_of_work() as uow:
            [report] = await uow.alerts.failing(AT - timedelta(days=1))
            assert await uow.alerts.failing(AT + timedelta(days=1)) == []
        assert (report.contact_id, report.channel_kind, report.dead, report.retrying) == (
            "school-1:key_adult", "sms", 1, 1)  # fmt: skip
        assert (report.last_error, report.last_failed_at) == ("notify_http_500", AT)
