"""The broker's full view of a notice, kept when it is sealed for a reader who sees less, and
read back when the notice goes on to a reader who may see it all (rules/reader_view.py).
Kept under the same household data keys as the notice itself, so shredding takes it too."""

from typing import Protocol

from broker.ports import DataKeyStore, UnitOfWork
from broker.rules.reader_view import for_reader, reader_kind, sees_everything
from broker.services import notice_records
from schemas.notices import NoticeBody, NoticeHeader, NoticeType

PART = "full_view"


async def keep(
    uow: UnitOfWork, header: NoticeHeader, full: NoticeBody, data_keys: DataKeyStore
) -> None:
    """Keeps the full view of a notice whose own reader sees less (nothing for the rest)."""
    if sees_everything(header.notice_type):
        return
    notice_id = str(header.notice_id)
    kept = notice_records.wrap(data_keys, header.household, notice_id, PART,
                               full.model_dump_json())  # fmt: skip
    await uow.full_views.keep(notice_id, kept)


async def kind_of_reader(uow: UnitOfWork, notice_type: NoticeType, org_id: str) -> NoticeType:
    return reader_kind(notice_type, await uow.recipients.organisation_kind(org_id))


class InChain(notice_records.Kept, Protocol):
    """A notice's record as read here: the ORM row or the port's view alike."""

    @property
    def chain_id(self) -> str: ...


async def body_for(
    uow: UnitOfWork, record: InChain, kind: NoticeType, data_keys: DataKeyStore
) -> NoticeBody:
    """The notice as a reader of ``kind`` may read it: from the chain's first notice's full
    view where that reader sees everything, else as the notice's own reader had it. Raises
    as ``notice_records.body_of`` does."""
    original = notice_records.body_of(record, data_keys)
    if not sees_everything(kind):
        return original
    kept = await uow.full_views.get(record.chain_id)
    if kept is None:
        return original
    text = notice_records.unwrap(data_keys, record.household, record.chain_id, PART, kept)
    return for_reader(original, NoticeBody.model_validate_json(text), kind)
