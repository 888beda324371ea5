"""The broker's full view of a notice, kept when it is sealed for a reader who sees less, and
read back when the notice goes on to a reader who may see it all (rules/reader_view.py).
Kept under the same household data keys as the notice itself, so shredding takes it too."""

from sqlalchemy.ext.asyncio import AsyncSession

from broker.adapters import db
from broker.adapters.directory import SqlDirectory
from broker.ports import DataKeyStore
from broker.rules.reader_view import for_reader, reader_kind, sees_everything
from broker.services import notice_records
from schemas.notices import NoticeBody, NoticeHeader, NoticeType

PART = "full_view"


def keep(
    session: AsyncSession, header: NoticeHeader, full: NoticeBody, data_keys: DataKeyStore
) -> None:
    """Keeps the full view of a notice whose own reader sees less (nothing for the rest)."""
    if sees_everything(header.notice_type):
        return
    notice_id = str(header.notice_id)
    kept = notice_records.wrap(data_keys, header.household, notice_id, PART,
                               full.model_dump_json())  # fmt: skip
    session.add(db.NoticeFullView(notice_id=notice_id, body=kept))


async def kind_of_reader(session: AsyncSession, notice_type: NoticeType, org_id: str) -> NoticeType:
    org = await SqlDirectory(session).organisation(org_id)
    return reader_kind(notice_type, org.kind if org else None)


async def body_for(
    session: AsyncSession, record: db.NoticeRecord, kind: NoticeType, data_keys: DataKeyStore
) -> NoticeBody:
    """The notice as a reader of ``kind`` may read it: from the chain's first notice's full
    view where that reader sees everything, else as the notice's own reader had it. Raises
    as ``notice_records.body_of`` does."""
    original = notice_records.body_of(record, data_keys)
    if not sees_everything(kind):
        return original
    row = await session.get(db.NoticeFullView, record.chain_id)
    if row is None:
        return original
    text = notice_records.unwrap(data_keys, record.household, record.chain_id, PART, row.body)
    return for_reader(original, NoticeBody.model_validate_json(text), kind)
