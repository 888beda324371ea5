"""The broker's full view of a notice, on the fakes: kept only where the notice's own reader
sees less, read back for a reader who sees everything, never for one who does not."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from broker.ports import NoticeRecordView
from broker.rules.reader_view import sees_everything
from broker.services import notice_records, reader_views
from schemas.notices import NoticeBody, NoticeHeader, NoticeType, Severity
from tests.fakes import FakeDataKeys, FakeUnitOfWork

AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
FULL = NoticeBody(summary="everything", event_type="ed_attendance", occurred_at=AT,
                  source_org="a-1")  # fmt: skip
LESS = FULL.model_copy(update={"summary": "less"})
PARTIAL = next(kind for kind in NoticeType if not sees_everything(kind))


def header(kind: NoticeType) -> NoticeHeader:
    return NoticeHeader(
        notice_id=uuid4(), event_id=uuid4(), household="h-1", recipient_id="school-1:dsl",
        recipient_org="school-1", notice_type=kind, severity=Severity.MEDIUM, created_at=AT,
        deadline=AT + timedelta(days=1), recipient_key_id="k", signing_key_id="s",
    )  # fmt: skip


def record_of(told: NoticeHeader, keys: FakeDataKeys) -> NoticeRecordView:
    notice_id = str(told.notice_id)
    return NoticeRecordView(
        notice_id=notice_id, chain_id=notice_id, event_id=str(told.event_id), household="h-1",
        recipient_id=told.recipient_id, recipient_org=told.recipient_org,
        notice_type=told.notice_type.value, severity="medium", rule_id="r", created_at=AT,
        deadline=AT, escalate_to="[]", reroute_to=None,
        body=notice_records.wrap(keys, "h-1", notice_id, "body", LESS.model_dump_json()),
    )  # fmt: skip


class TestReaderViews:
    async def test_a_front_door_reads_the_full_view(self) -> None:
        """A follow-up to a front door reads as a front door, from the full view kept."""
        uow, keys, told = FakeUnitOfWork(), FakeDataKeys(), header(PARTIAL)
        uow.recipients.front_doors["fd-1"] = "E1"
        async with uow:
            await reader_views.keep(uow, told, FULL, keys)
            kind = await reader_views.kind_of_reader(uow, PARTIAL, "fd-1")
            body = await reader_views.body_for(uow, record_of(told, keys), kind, keys)
        assert kind is NoticeType.FRONT_DOOR_REFERRAL
        assert body.summary == "everything"

    async def test_a_reader_who_sees_less_reads_the_notice_as_sent(self) -> None:
        """Another school's follow-up reads the notice as its own reader had it."""
        uow, keys, told = FakeUnitOfWork(), FakeDataKeys(), header(PARTIAL)
        async with uow:
            await reader_views.keep(uow, told, FULL, keys)
            kind = await reader_views.kind_of_reader(uow, PARTIAL, "school-2")
            body = await reader_views.body_for(uow, record_of(told, keys), kind, keys)
        assert (kind, body) == (PARTIAL, LESS)

    async def test_nothing_is_kept_for_a_reader_who_sees_everything(self) -> None:
        """A notice whose reader sees everything needs no second copy."""
        uow, keys = FakeUnitOfWork(), FakeDataKeys()
        told = header(NoticeType.FRONT_DOOR_REFERRAL)
        async with uow:
            await reader_views.keep(uow, told, FULL, keys)
        assert await uow.full_views.get(str(told.notice_id)) is None
        record = replace(record_of(told, keys), notice_type=told.notice_type.value)
        async with uow:
            body = await reader_views.body_for(uow, record, NoticeType.FRONT_DOOR_REFERRAL, keys)
        assert body == LESS
