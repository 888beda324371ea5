"""The inbox service on the fakes: storing once, listing, the digest, and fetching (a notice
whose household was shredded is gone, audited either way)."""

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from broker.ports import AuditRecord
from broker.services import inbox
from producers import crypto
from schemas.notices import NoticeHeader, NoticeType, SealedNotice, Severity
from tests.fakes import FakeDataKeys, FakeUnitOfWork

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
DIGEST = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
GP = "gp-1:safeguarding_lead"


def notice(recipient: str = GP, held_until: datetime | None = None) -> SealedNotice:
    header = NoticeHeader(
        notice_id=uuid4(), event_id=uuid4(), household="h-1", recipient_id=recipient,
        recipient_org=recipient.split(":")[0], notice_type=NoticeType.GP_INFORMATION,
        severity=Severity.LOW, created_at=NOW, deadline=NOW + timedelta(hours=72),
        held_until=held_until, recipient_key_id="k", signing_key_id="s",
    )  # fmt: skip
    return SealedNotice(header=header.model_dump_json(), ciphertext=crypto.b64encode(b"sealed"),
                        signature="sig")  # fmt: skip


def id_of(sealed: SealedNotice) -> UUID:
    return NoticeHeader.model_validate_json(sealed.header).notice_id


async def stored(*notices: SealedNotice, keys: FakeDataKeys | None = None) -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    async with uow:
        await inbox.store(uow, notices, NOW, keys or FakeDataKeys())
    return uow


class TestStore:
    async def test_a_notice_delivered_twice_is_stored_and_audited_once(self) -> None:
        """Redelivery, in the same batch or a later one, neither doubles nor re-audits it."""
        sealed, keys = notice(), FakeDataKeys()
        uow = await stored(sealed, sealed, keys=keys)
        async with uow:
            assert await inbox.store(uow, [sealed], NOW, keys) == 0
        assert await uow.audit.entries_for(str(id_of(sealed))) == [
            AuditRecord("notice_delivered", "delivery", str(id_of(sealed)), {"recipient_id": GP})
        ]

    async def test_the_ciphertext_is_sealed_again_at_rest(self) -> None:
        """What the inbox keeps is not what was delivered; fetching gives the original back."""
        sealed, keys = notice(), FakeDataKeys()
        uow = await stored(sealed, keys=keys)
        async with uow:
            kept, fetched = await inbox.fetch(uow, GP, id_of(sealed), keys, NOW)
        assert kept.ciphertext != sealed.ciphertext
        assert fetched == sealed

    async def test_an_unstorable_notice_is_set_aside_for_the_caller(self) -> None:
        """A notice whose data key cannot be used goes to ``unstorable``; the rest are stored."""
        good, bad, unstorable = notice(), notice(), list[SealedNotice]()
        keys = FakeDataKeys()
        headed = [(n, NoticeHeader.model_validate_json(n.header)) for n in (good, bad)]
        keys.wrap = lambda household, data, context: _refuse(context, bad)  # type: ignore[method-assign]
        uow = FakeUnitOfWork()
        async with uow:
            delivered = await inbox.put(uow, headed, NOW, keys, unstorable)
        assert unstorable == [bad]
        assert [entry.subject_ref for entry in delivered] == [str(id_of(good))]


def _refuse(context: bytes, bad: SealedNotice) -> bytes:
    if str(id_of(bad)).encode() in context:
        raise ValueError("unusable key")
    return b"kept"


class TestListing:
    async def test_a_held_notice_waits_for_its_digest(self) -> None:
        """A low-severity notice held for the digest is listed once the hold ends, and is in
        that digest once released, not before."""
        held = notice(held_until=DIGEST)
        uow = await stored(held, notice(recipient="school-1:dsl"))
        async with uow:
            assert await inbox.list_notices(uow, GP, NOW) == []
            later = await inbox.list_notices(uow, GP, DIGEST)
            released = await inbox.digest(uow, GP, DIGEST, DIGEST)
            early = await inbox.digest(uow, GP, DIGEST, NOW)
        assert [n.notice_id for n in later] == [n.notice_id for n in released] == [str(id_of(held))]
        assert early == []


class TestFetch:
    async def test_another_recipients_notice_is_not_found(self) -> None:
        """A notice in another inbox is the same 404 as one that does not exist."""
        sealed = notice(recipient="school-1:dsl")
        uow = await stored(sealed)
        async with uow:
            with pytest.raises(inbox.NoticeNotFound):
                await inbox.fetch(uow, GP, id_of(sealed), FakeDataKeys(), NOW)
            with pytest.raises(inbox.NoticeNotFound):
                await inbox.fetch(uow, GP, uuid4(), FakeDataKeys(), NOW)

    async def test_a_fetch_is_audited_as_a_read(self) -> None:
        """Fetching a notice leaves a ``notice_read`` entry naming the recipient."""
        sealed, keys = notice(), FakeDataKeys()
        uow = await stored(sealed, keys=keys)
        async with uow:
            await inbox.fetch(uow, GP, id_of(sealed), keys, NOW)
        entries = await uow.audit.entries_for(str(id_of(sealed)))
        assert entries[-1] == AuditRecord("notice_read", GP, str(id_of(sealed)), {})

    async def test_a_shredded_households_notice_is_gone_and_audited(self) -> None:
        """Once its household is shredded the notice is gone, and the refusal is audited."""
        sealed, keys = notice(), FakeDataKeys()
        uow = await stored(sealed, keys=keys)
        keys.shred("h-1")
        async with uow:
            _, answer = await inbox.fetch(uow, GP, id_of(sealed), keys, NOW)
        assert isinstance(answer, inbox.NoticeGone)
        entries = await uow.audit.entries_for(str(id_of(sealed)))
        assert entries[-1] == AuditRecord("notice_gone", GP, str(id_of(sealed)),
                                          {"reason": "household_shredded"})  # fmt: skip
