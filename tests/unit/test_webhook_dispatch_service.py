"""The webhook dispatcher on the fakes: a notice queued for a recipient with a webhook is
posted, a 2xx recorded as its delivery, a transient failure retried later, and a notice with
nowhere to go dead-lettered; a dead letter's replay queues it again."""

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest

from broker.adapters.kafka import Topics
from broker.config import WebhookSettings
from broker.delivery.webhook_delivery import Attempt
from broker.keys import KeyStore
from broker.services import inbox, webhook_dispatch
from producers import crypto
from schemas.notices import NoticeHeader, NoticeType, SealedNotice, Severity
from tests.fakes import FakeDataKeys, FakePublisher, FakeUnitOfWork

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
GP = "gp-1:safeguarding_lead"
URL = "https://gp-1.example/notices"
TOPICS = Topics.with_prefix("t.")


class Sender:
    def __init__(self, *answers: Attempt) -> None:
        self.answers, self.posted = list(answers), list[tuple[str, bytes]]()

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Attempt:
        self.posted.append((url, body))
        return self.answers.pop(0)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyStore:
    return KeyStore.create(Path(tmp_path_factory.mktemp("keys")))


async def queued(uow: FakeUnitOfWork, data_keys: FakeDataKeys, url: str | None = URL) -> str:
    """A notice to GP in the inbox, queued for its webhook; answers its id."""
    header = NoticeHeader(
        notice_id=uuid4(), event_id=uuid4(), household="h-1", recipient_id=GP,
        recipient_org="gp-1", notice_type=NoticeType.GP_INFORMATION, severity=Severity.HIGH,
        created_at=NOW, deadline=NOW + timedelta(hours=72), recipient_key_id="k",
        signing_key_id="s",
    )  # fmt: skip
    sealed = SealedNotice(header=header.model_dump_json(), ciphertext=crypto.b64encode(b"c"),
                          signature="sig")  # fmt: skip
    if url:
        uow.recipients.webhooks[GP] = url
    async with uow:
        await inbox.store(uow, [sealed], NOW, data_keys)
        await webhook_dispatch.enqueue(uow, [(header, "notices/0/1")], NOW)
    return str(header.notice_id)


def dispatcher(
    uow: FakeUnitOfWork, keys: KeyStore, data_keys: FakeDataKeys, sender: Sender,
    publisher: FakePublisher,
) -> webhook_dispatch.Dispatcher:  # fmt: skip
    return webhook_dispatch.Dispatcher(lambda: uow, keys, data_keys, publisher,
                                       TOPICS, WebhookSettings(), sender,
                                       clock=lambda: NOW, jitter=lambda: 0.5)  # fmt: skip


class TestEnqueue:
    async def test_only_a_recipient_with_a_webhook_is_queued(self, keys: KeyStore) -> None:
        """Without a webhook the notice waits in the inbox alone: nothing is queued."""
        uow, data_keys = FakeUnitOfWork(), FakeDataKeys()
        await queued(uow, data_keys, url=None)
        assert await uow.webhooks.due(NOW, 10) == []


class TestDispatch:
    async def test_a_2xx_is_the_notices_delivery(self, keys: KeyStore) -> None:
        """The sealed notice is posted to the webhook; a 2xx settles it as delivered and
        records the delivery receipt's audit entry (never an acknowledgement)."""
        uow, data_keys, sender = FakeUnitOfWork(), FakeDataKeys(), Sender(Attempt(200))
        notice_id = await queued(uow, data_keys)
        assert await dispatcher(uow, keys, data_keys, sender, FakePublisher()).dispatch_due() == 1
        assert [url for url, _ in sender.posted] == [URL]
        assert SealedNotice.model_validate_json(sender.posted[0][1]).signature == "sig"
        assert uow.webhooks.row(notice_id)["state"] == "delivered"

    async def test_a_transient_failure_is_retried_later(self, keys: KeyStore) -> None:
        """A 503 leaves the delivery pending, its attempt counted and its retry in future."""
        uow, data_keys, sender = FakeUnitOfWork(), FakeDataKeys(), Sender(Attempt(503))
        notice_id = await queued(uow, data_keys)
        await dispatcher(uow, keys, data_keys, sender, FakePublisher()).dispatch_due()
        row = uow.webhooks.row(notice_id)
        assert (row["state"], row["attempts"], row["last_status"]) == ("pending", 1, 503)
        assert row["next_attempt_at"] > NOW

    async def test_a_shredded_notice_is_dead_lettered_without_a_post(self, keys: KeyStore) -> None:
        """A notice whose household was shredded is never posted: it is dead-lettered."""
        uow, data_keys, sender = FakeUnitOfWork(), FakeDataKeys(), Sender()
        publisher = FakePublisher()
        notice_id = await queued(uow, data_keys)
        data_keys.shred("h-1")
        await dispatcher(uow, keys, data_keys, sender, publisher).dispatch_due()
        assert sender.posted == []
        assert uow.webhooks.row(notice_id)["last_error"] == "household_shredded"
        assert [m.topic for m in publisher.published] == [TOPICS.dead_letters]


class TestRequeue:
    async def test_a_dead_delivery_is_pending_again(self, keys: KeyStore) -> None:
        """Replaying a dead webhook letter puts the delivery back from its first attempt."""
        uow, data_keys = FakeUnitOfWork(), FakeDataKeys()
        notice_id = await queued(uow, data_keys)
        data_keys.shred("h-1")
        await dispatcher(uow, keys, data_keys, Sender(), FakePublisher()).dispatch_due()
        async with uow:
            assert await webhook_dispatch.requeue(uow, notice_id, NOW)
            assert not await webhook_dispatch.requeue(uow, notice_id, NOW)
        assert uow.webhooks.row(notice_id)["attempts"] == 0
