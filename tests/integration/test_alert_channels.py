"""The alert channels against real far ends on loopback: an SMTP server receiving the real
message, and an HTTP server implementing GOV.UK Notify's SMS endpoint, checking the client's
real request; failures come back transient or permanent, and a Notify failure is retried."""

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from broker.adapters.notify_alerts import NotifySmsSender
from broker.adapters.smtp_alerts import SmtpAlertSender
from broker.alert_settings import AlertSettings, NotifySettings, SmtpSettings
from broker.ports import AlertAttempt
from broker.services import alerts
from schemas.notices import NoticeHeader, NoticeType, Severity
from tests.alert_servers import API_KEY, notify_stub, smtp_sink
from tests.fakes import FakeUnitOfWork

pytestmark = pytest.mark.integration

TEMPLATE = "f33517ff-2a88-4f6e-b855-c550268ce08a"
TEXT = "A safeguarding notice is waiting for Oakfield Primary School (key adult), due ...\nlink"
NOW = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)


def smtp(port: int) -> SmtpAlertSender:
    settings = SmtpSettings(
        host="127.0.0.1", port=port, starttls=False, from_address="alerts@partnership.example.org"
    )
    return SmtpAlertSender(settings, timeout_seconds=5)


def notify(base_url: str) -> NotifySmsSender:
    settings = NotifySettings(api_key=API_KEY, base_url=base_url, sms_template_id=TEMPLATE)
    return NotifySmsSender(settings, timeout_seconds=5)


class TestSmtpAlertSender:
    async def test_the_message_arrives(self) -> None:
        """The relay receives one message to the address, from the partnership's address,
        with the alert's subject and text."""
        with smtp_sink() as sink:
            sent = await smtp(sink.port).send(
                "dsl@oakfield.example.org", "A safeguarding notice is waiting", TEXT, "alert-1"
            )
        assert sent == AlertAttempt(True)
        [message] = sink.messages
        assert message["To"] == "dsl@oakfield.example.org"
        assert message["From"] == "alerts@partnership.example.org"
        assert message["Subject"] == "A safeguarding notice is waiting"
        body = message.get_payload(decode=True).decode()  # type: ignore[union-attr]
        assert body.replace("\r\n", "\n").strip() == TEXT  # SMTP sends CRLF line ends

    @pytest.mark.parametrize(
        ("reply", "expected"),
        [
            ("550 5.1.1 No such user", AlertAttempt(False, "smtp_550", transient=False)),
            ("451 4.3.0 Try again later", AlertAttempt(False, "smtp_451", transient=True)),
        ],
    )
    async def test_a_refusal_is_permanent_or_transient_by_its_code(
        self, reply: str, expected: AlertAttempt
    ) -> None:
        """A 5xx reply to the address is permanent, a 4xx transient; the error names the
        code only, never the reply's text (which may quote the address)."""
        with smtp_sink() as sink:
            sink.refuse = reply
            assert await smtp(sink.port).send("x@example.org", "s", TEXT, "alert-1") == expected

    async def test_no_relay_is_transient(self) -> None:
        """Nothing listening: tried again later."""
        with smtp_sink() as sink:
            port = sink.port
        sent = await smtp(port).send("x@example.org", "s", TEXT, "alert-1")
        assert (sent.sent, sent.transient) == (False, True)


class TestNotifySmsSender:
    async def test_the_clients_real_request(self) -> None:
        """The client posts the number, the template and the text as its ``body``, with a
        token signed with the key's secret naming the service; 201 is sent."""
        with notify_stub() as stub:
            sent = await notify(stub.base_url).send("+447700900123", "s", TEXT, "alert-7")
        assert sent == AlertAttempt(True)
        assert stub.problems == []
        assert stub.requests == [
            {
                "phone_number": "+447700900123",
                "template_id": TEMPLATE,
                "personalisation": {"body": TEXT},
                "reference": "alert-7",
            }
        ]

    @pytest.mark.parametrize(("status", "transient"), [(500, True), (429, True), (400, False)])
    async def test_failures_by_status(self, status: int, transient: bool) -> None:
        """A 5xx or a rate limit is transient; a 400 (a number Notify will not text) is not."""
        with notify_stub() as stub:
            stub.answers = [status]
            sent = await notify(stub.base_url).send("+447700900123", "s", TEXT, "alert-7")
        assert sent == AlertAttempt(False, f"notify_http_{status}", transient=transient)

    async def test_a_failure_is_retried_by_the_worker(self) -> None:
        """Through the alert worker: Notify answers 500, the alert waits its backoff, and the
        second request (the same text, the same reference) is sent."""
        uow = FakeUnitOfWork()
        uow.recipients.kinds["gp-1"] = "gp_practice"
        rows = uow.directory_rows
        async with uow:
            await rows.insert(
                "organisations",
                [
                    dict(rows.shape("organisations").defaults)
                    | {
                        "id": "gp-1",
                        "name": "Riverside Surgery",
                        "kind": "gp_practice",
                        "area": "E0900001",
                    }
                ],
            )
            await rows.insert(
                "contacts",
                [
                    dict(rows.shape("contacts").defaults)
                    | {
                        "id": "gp-1:safeguarding_lead",
                        "org_id": "gp-1",
                        "role": "safeguarding_lead",
                    }
                ],
            )
            await uow.alert_channels.replace("gp-1:safeguarding_lead", [("sms", "+447700900123")])
            await alerts.enqueue(uow, [_header()], NOW)
        clock = [NOW]
        settings = AlertSettings(backoff_base_seconds=60)
        with notify_stub() as stub:
            stub.answers = [500]
            worker = alerts.AlertWorker(
                lambda: uow,
                {"sms": notify(stub.base_url)},
                settings,
                "https://inbox.example.org",
                clock=lambda: clock[0],
                jitter=lambda: 0.5,
            )
            await worker.send_due()
            clock[0] = NOW + timedelta(seconds=29)
            assert await worker.send_due() == 0  # waiting its backoff (30 s with this jitter)
            clock[0] = NOW + timedelta(seconds=30)
            assert await worker.send_due() == 1
            await asyncio.sleep(0)
        first, second = stub.requests
        assert first == second
        assert first["personalisation"]["body"].startswith(
            "A safeguarding notice is waiting for Riverside Surgery (safeguarding lead), due"
        )
        assert stub.problems == []


def _header() -> NoticeHeader:
    return NoticeHeader(
        notice_id=uuid4(),
        event_id=uuid4(),
        household="h-1",
        recipient_id="gp-1:safeguarding_lead",
        recipient_org="gp-1",
        notice_type=NoticeType.GP_INFORMATION,
        severity=Severity.HIGH,
        created_at=NOW,
        deadline=NOW + timedelta(days=1),
        recipient_key_id="k",
        signing_key_id="s",
    )
