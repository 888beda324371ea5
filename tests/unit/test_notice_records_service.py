"""A notice sealed and recorded, on the fakes: the record keeps the rule, the body under the
household's key, its chain and where it escalates and re-routes; a companion is born closed;
nothing is added for a recipient key that cannot be sealed to."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from broker.adapters.directory import ContactRecord
from broker.errors import RecipientKeyUnusable
from broker.keys import KeyStore
from broker.ports import OutboxEntry
from broker.rules.family import Addressee, ContactRole
from broker.services import notice_records
from producers import crypto
from schemas.notices import NoticeBody, NoticeHeader, NoticeType, SealedNotice, Severity
from tests.fakes import FakeDataKeys, FakeUnitOfWork

AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
LEAD = Addressee("la-1", ContactRole.SAFEGUARDING_LEAD)
DOOR = Addressee("la-1", ContactRole.DUTY_MANAGER)
BODY = NoticeBody(summary="s", event_type="ed_attendance", occurred_at=AT, source_org="a-1")


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyStore:
    return KeyStore.create(Path(tmp_path_factory.mktemp("keys")))


def a_contact(key: str | None = None) -> ContactRecord:
    public = key or crypto.encode_public(X25519PrivateKey.generate().public_key())
    return ContactRecord("gp-1:lead", "gp-1", public, "k")


def header(keys: KeyStore) -> NoticeHeader:
    return NoticeHeader(
        notice_id=uuid4(), event_id=uuid4(), household="h-1", recipient_id="gp-1:lead",
        recipient_org="gp-1", notice_type=NoticeType.GP_INFORMATION, severity=Severity.MEDIUM,
        created_at=AT, deadline=AT + timedelta(days=1), recipient_key_id="k",
        signing_key_id=keys.public.signing_key_id,
    )  # fmt: skip


class TestAdd:
    async def test_the_record_keeps_what_the_broker_needs_later(self, keys: KeyStore) -> None:
        """The rule, the body under the household's key, the escalation steps and the
        re-routing target, in its own chain; the sealed notice as ``add`` returns it waits in
        the outbox."""
        uow, data_keys, told = FakeUnitOfWork(), FakeDataKeys(), header(keys)
        async with uow:
            sealed = await notice_records.add(uow, told, BODY, a_contact(), keys, data_keys,
                                              rule_id="crisis.gp", escalate_to=[LEAD],
                                              reroute_to=DOOR)  # fmt: skip
        record = await uow.notice_records.get(str(told.notice_id))
        assert record is not None
        assert (record.rule_id, record.chain_id, record.closed_at) == (
            "crisis.gp", str(told.notice_id), None)  # fmt: skip
        assert notice_records.body_of(record, data_keys) == BODY
        assert notice_records.escalation_steps(record) == [LEAD]
        assert notice_records.reroute_target(record) == DOOR
        waiting = await uow.outbox.unpublished_of([str(told.notice_id)])
        assert waiting == [OutboxEntry(str(told.notice_id), told.recipient_id, AT, sealed)]
        assert SealedNotice.model_validate_json(sealed).header == told.model_dump_json()

    async def test_a_companion_joins_its_chain_closed(self, keys: KeyStore) -> None:
        """A deputy's copy belongs to the key adult's chain and never escalates itself."""
        uow, chain = FakeUnitOfWork(), uuid4()
        told = header(keys)
        async with uow:
            await notice_records.add(uow, told, BODY, a_contact(), keys, FakeDataKeys(),
                                     rule_id="r", escalate_to=[], reroute_to=None,
                                     chain_id=chain, companion=True)  # fmt: skip
        record = await uow.notice_records.get(str(told.notice_id))
        assert record is not None
        assert (record.chain_id, record.closed_at) == (str(chain), AT)

    async def test_an_unusable_recipient_key_adds_nothing(self, keys: KeyStore) -> None:
        """A key that cannot be sealed to stops this notice alone, with no record."""
        uow, told = FakeUnitOfWork(), header(keys)
        async with uow:
            with pytest.raises(RecipientKeyUnusable):
                await notice_records.add(uow, told, BODY, a_contact("bm90IGEga2V5"), keys,
                                         FakeDataKeys(), rule_id="r", escalate_to=[],
                                         reroute_to=None)  # fmt: skip
        assert await uow.notice_records.get(str(told.notice_id)) is None
