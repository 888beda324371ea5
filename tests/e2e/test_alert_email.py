"""End to end: an event posted to the gateway is routed and delivered through the real Kafka
broker, and the school's key adult, who has an email address and a mobile as alert channels,
receives an alert at a local SMTP server and by SMS through a loopback GOV.UK Notify: who and
by when, a link to the notice page, and nothing of the notice (no child, no family, no event
kind)."""

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from support import post_signed, wait_for_notices

from broker.alert_settings import AlertSettings, NotifySettings, SmtpSettings
from broker.bootstrap import Runtime
from broker.config import Settings
from broker.demo import family
from schemas.events import ParentMentalHealthCrisis
from tests.alert_content import leaks, personal_data
from tests.alert_servers import API_KEY, NotifyStub, SmtpSink, notify_stub, smtp_sink

pytestmark = pytest.mark.e2e

SCHOOL = "school-oakfield:key_adult"
DSL, MOBILE = "dsl@oakfield.example.org", "+447700900123"
TEMPLATE = "f33517ff-2a88-4f6e-b855-c550268ce08a"
INBOX = "https://inbox.partnership.example.org"


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with smtp_sink() as sink:
        yield sink


@pytest.fixture
def notify() -> Iterator[NotifyStub]:
    with notify_stub() as stub:
        yield stub


@pytest.fixture
def settings(settings: Settings, smtp: SmtpSink, notify: NotifyStub) -> Settings:
    """The test's settings, with the local SMTP server as the partnership's mail relay and
    the loopback Notify as its SMS service."""
    relay = SmtpSettings(host="127.0.0.1", port=smtp.port, starttls=False,
                         from_address="alerts@partnership.example.org")  # fmt: skip
    sms = NotifySettings(api_key=API_KEY, base_url=notify.base_url, sms_template_id=TEMPLATE)
    alerts = AlertSettings(smtp=relay, notify=sms, poll_seconds=0.2)
    return settings.model_copy(update={"alerts": alerts, "inbox_base_url": INBOX})


async def arrived(sink: SmtpSink, notify: NotifyStub, timeout: float = 60) -> None:
    """Once the email and the SMS have both arrived."""
    async with asyncio.timeout(timeout):
        while not (sink.messages and notify.requests):
            await asyncio.sleep(0.1)


class TestAlertEmailEndToEnd:
    async def test_the_key_adult_is_alerted_with_nothing_of_the_notice(
        self,
        gateway: httpx.AsyncClient,
        producer_keys: dict[str, Ed25519PrivateKey],
        inbox: httpx.AsyncClient,
        running_broker: Runtime,
        smtp: SmtpSink,
        notify: NotifyStub,
    ) -> None:
        """A parent's crisis reaches the school's inbox and its key adult's email: the
        school's name and role, the due time, the notice page's link; no name, number, date
        of birth, clinical word or event kind."""
        async with running_broker.unit_of_work() as uow:
            await uow.alert_channels.replace(SCHOOL, [("email", DSL), ("sms", MOBILE)])
        event = ParentMentalHealthCrisis(
            event_type="parent_mental_health_crisis", event_id=uuid.uuid4(),
            source_org="mh-demo", occurred_at=datetime.now(UTC),
            subject=family.person(family.MOTHER), suicidal_ideation=True,
            clinical_summary="Expressed plans to end her life; started on sertraline.",
        )  # fmt: skip
        assert (await post_signed(gateway, event, producer_keys)).status_code == 202
        [listed] = await wait_for_notices(inbox, SCHOOL, 1)
        await arrived(smtp, notify)

        [message] = smtp.messages
        text = message.get_payload(decode=True).decode().replace("\r\n", "\n")  # type: ignore[union-attr]
        assert message["To"] == DSL
        assert message["Subject"] == "A safeguarding notice is waiting"
        assert text.startswith("A safeguarding notice is waiting for Oakfield Primary School "
                               "(key adult), due ")  # fmt: skip
        assert f"{INBOX}/inbox/notices/{listed['notice_id']}" in text
        said = f"{message['Subject']}\n{text}"
        personal = [*personal_data(), "sertraline", event.event_type]
        assert {"Jess", "Carter", family.MOTHER} <= set(personal)
        assert leaks(said, "Oakfield Primary School", "key_adult", personal) == []
        whole = message.as_string()  # the headers too: nothing personal anywhere in the mail
        assert [value for value in personal if value in whole] == []

        [sms] = notify.requests  # the Notify client's real request, its token checked
        assert notify.problems == []
        assert (sms["phone_number"], sms["template_id"]) == (MOBILE, TEMPLATE)
        assert sms["personalisation"] == {"body": text.strip()}
