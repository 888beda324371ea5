"""Alerts on the fakes: queued with the notice for each channel of its recipient (a reminder
too), sent once with nothing of the notice in them, retried after a transient failure, given
up and reported after a permanent one, and dropped once the notice is answered."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from structlog.testing import capture_logs

from broker.alert_settings import AlertSettings
from broker.ports import AlertAttempt, NoticeRecordView
from broker.services import alerts
from schemas.notices import FollowUp, NoticeHeader, NoticeType, Severity
from tests.fakes import FakeUnitOfWork

FRIDAY_3PM = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
MONDAY_0845 = datetime(2026, 12, 7, 8, 45, tzinfo=UTC)
KEY_ADULT = "school-1:key_adult"
EMAIL, MOBILE = "dsl@oakfield.example.org", "+447700900123"
BASE = "https://inbox.example.org"


class Sender:
    """A channel that answers as told, and keeps what it was given."""

    def __init__(self, *answers: AlertAttempt) -> None:
        self.answers, self.sent = list(answers), list[tuple[str, str, str]]()

    async def send(self, address: str, subject: str, text: str, reference: str) -> AlertAttempt:
        self.sent.append((address, subject, text))
        return self.answers.pop(0) if self.answers else AlertAttempt(True)


def header(**kw: object) -> NoticeHeader:
    values: dict[str, object] = {
        "notice_id": uuid4(), "event_id": uuid4(), "household": "h-1",
        "recipient_id": KEY_ADULT, "recipient_org": "school-1",
        "notice_type": NoticeType.SCHOOL_SUPPORT, "severity": Severity.HIGH,
        "created_at": FRIDAY_3PM, "deadline": MONDAY_0845, "recipient_key_id": "k",
        "signing_key_id": "s",
    }  # fmt: skip
    return NoticeHeader.model_validate(values | kw)


async def school(channels: list[tuple[str, str]]) -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    uow.recipients.kinds["school-1"] = "school"
    rows = uow.directory_rows
    async with uow:
        await rows.insert("organisations", [dict(rows.shape("organisations").defaults) | {
            "id": "school-1", "name": "Oakfield Primary School", "kind": "school",
            "area": "E0900001", "session_start": "08:45"}])  # fmt: skip
        await rows.insert("contacts", [dict(rows.shape("contacts").defaults) | {
            "id": KEY_ADULT, "org_id": "school-1", "role": "key_adult"}])  # fmt: skip
        await uow.alert_channels.replace(KEY_ADULT, channels)
    return uow


def worker(uow: FakeUnitOfWork, now: datetime, **senders: Sender) -> alerts.AlertWorker:
    return alerts.AlertWorker(lambda: uow, senders, AlertSettings(), BASE,
                              clock=lambda: now, jitter=lambda: 0.5)  # fmt: skip


async def queue(uow: FakeUnitOfWork, *notices: NoticeHeader) -> int:
    async with uow:
        return await alerts.enqueue(uow, notices, FRIDAY_3PM)


class TestEnqueue:
    async def test_each_channel_now_and_a_reminder(self) -> None:
        """A notice to a contact with an email and a mobile queues an alert to each now and
        a reminder to each the evening before the school's morning deadline."""
        uow = await school([("email", EMAIL), ("sms", MOBILE)])
        notice = header()
        assert await queue(uow, notice) == 4
        evening = datetime(2026, 12, 6, 18, 0, tzinfo=UTC)
        new, reminder = (uow.alerts.row(str(notice.notice_id), t)
                         for t in ("new_notice", "deadline_approaching"))  # fmt: skip
        assert (new["next_attempt_at"], reminder["next_attempt_at"]) == (FRIDAY_3PM, evening)

    async def test_once_however_often_delivered(self) -> None:
        """Kafka's redelivery of the notice queues nothing more."""
        uow = await school([("email", EMAIL)])
        notice = header()
        await queue(uow, notice)
        assert await queue(uow, notice) == 0

    async def test_no_channels_no_alert(self) -> None:
        """A contact with no channels has its notice in the inbox and nothing queued."""
        uow = await school([])
        assert await queue(uow, header()) == 0

    async def test_an_escalation_says_so(self) -> None:
        """A notice that follows another as its escalation is alerted as an escalation."""
        uow = await school([("email", EMAIL)])
        notice = header(follow_up=FollowUp.ESCALATION, follows=uuid4(), escalation_level=1)
        await queue(uow, notice)
        assert uow.alerts.row(str(notice.notice_id), "escalation")["state"] == "pending"

    async def test_a_digest_notice_is_alerted_when_released(self) -> None:
        """A low-severity notice held for the daily digest is alerted when it is released."""
        uow = await school([("email", EMAIL)])
        release = FRIDAY_3PM + timedelta(hours=2)
        notice = header(held_until=release, severity=Severity.LOW)
        await queue(uow, notice)
        assert uow.alerts.row(str(notice.notice_id), "new_notice")["next_attempt_at"] == release


class TestWorker:
    async def test_sends_the_brief_s_words_and_nothing_else(self) -> None:
        """The alert names the school and role, the due time in words, and links the notice
        page; it is sent once, audited without its address, and no log line holds it."""
        uow = await school([("email", EMAIL)])
        notice = header()
        await queue(uow, notice)
        email = Sender()
        with capture_logs() as logs:
            assert await worker(uow, FRIDAY_3PM, email=email).send_due() == 1
            assert await worker(uow, FRIDAY_3PM, email=email).send_due() == 0
        [(address, subject, text)] = email.sent
        assert address == EMAIL
        assert subject == "A safeguarding notice is waiting"
        assert text == (
            "A safeguarding notice is waiting for Oakfield Primary School (key adult), due "
            f"before school on Monday at 08:45.\n{BASE}/inbox/notices/{notice.notice_id}"
        )
        [audited] = [r for r, _ in uow.audit.committed if r.action == "alert_sent"]
        assert audited.details == {"contact_id": KEY_ADULT, "trigger": "new_notice",
                                   "channel": "email"}  # fmt: skip
        assert EMAIL not in repr(logs)

    async def test_a_transient_failure_is_retried_after_a_backoff(self) -> None:
        """A relay that is away is tried again after the backoff (half the first ceiling with
        this jitter), and the alert is sent then."""
        uow = await school([("email", EMAIL)])
        await queue(uow, header())
        email = Sender(AlertAttempt(False, "smtp_connect_error"))
        await worker(uow, FRIDAY_3PM, email=email).send_due()
        later = FRIDAY_3PM + timedelta(seconds=15)
        assert await worker(uow, later - timedelta(seconds=1), email=email).send_due() == 0
        assert await worker(uow, later, email=email).send_due() == 1
        assert len(email.sent) == 2
        [row] = [r for r in uow.alerts.committed.values() if r["trigger"] == "new_notice"]
        assert (row["state"], row["attempts"]) == ("sent", 2)
        assert row["last_error"] == "smtp_connect_error"

    async def test_a_permanent_failure_is_given_up_and_reported(self) -> None:
        """A number Notify will never accept is given up at once and reported for the contact
        and kind of channel, with its error's class and no number."""
        uow = await school([("sms", MOBILE)])
        await queue(uow, header())
        sms = Sender(AlertAttempt(False, "notify_http_400", transient=False))
        await worker(uow, FRIDAY_3PM, sms=sms).send_due()
        async with uow:
            [report] = await alerts.failing(uow, FRIDAY_3PM, timedelta(days=7))
        assert (report.contact_id, report.channel_kind, report.dead, report.last_error) == (
            KEY_ADULT, "sms", 1, "notify_http_400")  # fmt: skip
        assert MOBILE not in repr(report)

    async def test_an_answered_notice_is_not_alerted(self) -> None:
        """Once the notice is acknowledged its alerts (the reminder too) are cancelled."""
        uow = await school([("email", EMAIL)])
        notice = header()
        await queue(uow, notice)
        record = NoticeRecordView(
            notice_id=str(notice.notice_id), chain_id=str(notice.notice_id), follows=None,
            level=0, event_id=str(notice.event_id), household="h-1", recipient_id=KEY_ADULT,
            recipient_org="school-1", notice_type="school_support", severity="high",
            rule_id="r", created_at=FRIDAY_3PM, deadline=MONDAY_0845, escalate_to="[]",
            reroute_to=None, body="",
        )  # fmt: skip
        uow.notice_records.committed[record.notice_id] = replace(record, acknowledged_at=FRIDAY_3PM)
        email = Sender()
        assert await worker(uow, MONDAY_0845 - timedelta(hours=1), email=email).send_due() == 2
        assert email.sent == []
        states = {r["trigger"]: r["state"] for r in uow.alerts.committed.values()}
        assert states == {"new_notice": "cancelled", "deadline_approaching": "cancelled"}

    async def test_a_channel_with_no_sender_is_reported_not_dropped(self) -> None:
        """SMS not configured for the partnership: the alert is given up as such and shows in
        the report, rather than waiting for ever or vanishing."""
        uow = await school([("sms", MOBILE)])
        await queue(uow, header())
        await worker(uow, FRIDAY_3PM).send_due()
        async with uow:
            [report] = await alerts.failing(uow, FRIDAY_3PM, timedelta(days=7))
        assert (report.channel_kind, report.last_error) == ("sms", "channel_not_configured")
