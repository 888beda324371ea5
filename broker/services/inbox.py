"""Recipients' inboxes: delivery stores sealed notices; recipients list and fetch them.

The inbox holds ciphertext, the cleartext header and the broker's signature: nothing a
recipient could not already verify, and nothing the broker's operators could read.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.adapters import audit, bulk, db
from broker.errors import BrokerError, DataKeyShredded, DataKeyUnusable
from broker.ports import DataKeyStore
from producers import crypto
from schemas.notices import NoticeHeader, SealedNotice


class NoticeNotFound(BrokerError):
    """No such notice in this recipient's inbox (another recipient's notice included)."""


class NoticeGone(BrokerError):
    """The notice is in this inbox but can never be read again: its household was shredded
    (retention) or what was stored of it no longer opens."""


async def store(
    session: AsyncSession, notices: Sequence[SealedNotice], now: datetime, keys: DataKeyStore,
    unstorable: list[SealedNotice] | None = None,
) -> int:  # fmt: skip
    """Stores each notice once, however often it is delivered, and audits the new ones;
    returns how many were new (see ``put``)."""
    headed = [(sealed, NoticeHeader.model_validate_json(sealed.header)) for sealed in notices]
    delivered = await put(session, headed, now, keys, unstorable)
    await audit.append_many(session, delivered, now)
    return len(delivered)


async def put(
    session: AsyncSession, notices: Sequence[tuple[SealedNotice, NoticeHeader]], now: datetime,
    keys: DataKeyStore, unstorable: list[SealedNotice] | None = None,
) -> list[audit.Entry]:  # fmt: skip
    """Stores each notice once, however often it is delivered (a batch in one statement);
    answers the audit entries of those new to the inbox, for the caller to append with the
    rest of its batch's, so that the chain's lock is taken once and last.
    Its ciphertext is sealed again at rest under its households' data keys (crypto-shredding).
    A notice whose data key cannot be used goes into ``unstorable`` when it is given (the
    caller dead-letters it), instead of failing the rest. Each notice comes with its header,
    as the caller read it to verify the notice."""
    rows = []
    for sealed, header in notices:
        try:
            rows.append(_row(sealed, header, keys, now))
        except (DataKeyUnusable, ValueError):
            if unstorable is None:
                raise
            unstorable.append(sealed)
    new = await bulk.insert_new(session, db.InboxNotice, "notice_id", rows)
    # A notice twice in one batch went in once: it is audited once.
    firsts: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["notice_id"] in new:
            firsts.setdefault(row["notice_id"], row)
    return [audit.Entry("notice_delivered", "delivery", notice_id,
                        {"recipient_id": row["recipient_id"]})
            for notice_id, row in firsts.items()]  # fmt: skip


def _row(
    sealed: SealedNotice, header: NoticeHeader, keys: DataKeyStore, now: datetime
) -> dict[str, Any]:
    at_rest = keys.wrap(header.household, crypto.b64decode(sealed.ciphertext),
                        _context(header.notice_id))  # fmt: skip
    return {"notice_id": str(header.notice_id), "recipient_id": header.recipient_id,
            "header": sealed.header, "ciphertext": crypto.b64encode(at_rest),
            "signature": sealed.signature, "deadline": header.deadline,
            "held_until": header.held_until, "delivered_at": now}  # fmt: skip


async def list_notices(
    session: AsyncSession, recipient_id: str, now: datetime
) -> Sequence[db.InboxNotice]:
    """The recipient's notices, less low-severity ones still waiting for their daily digest."""
    query = (
        select(db.InboxNotice)
        .where(
            db.InboxNotice.recipient_id == recipient_id,
            or_(db.InboxNotice.held_until.is_(None), db.InboxNotice.held_until <= now),
        )
        .order_by(db.InboxNotice.delivered_at, db.InboxNotice.notice_id)
    )
    return (await session.scalars(query)).all()


async def digest(
    session: AsyncSession, recipient_id: str, released_at: datetime, now: datetime
) -> Sequence[db.InboxNotice]:
    """The low-severity notices gathered into the digest released at ``released_at``."""
    if released_at > now:
        return []
    query = (
        select(db.InboxNotice)
        .where(db.InboxNotice.recipient_id == recipient_id,
               db.InboxNotice.held_until == released_at)
        .order_by(db.InboxNotice.delivered_at, db.InboxNotice.notice_id)
    )  # fmt: skip
    return (await session.scalars(query)).all()


async def get_notice(session: AsyncSession, recipient_id: str, notice_id: UUID) -> db.InboxNotice:
    notice = await session.get(db.InboxNotice, str(notice_id))
    if notice is None or notice.recipient_id != recipient_id:
        raise NoticeNotFound("no such notice in this inbox")
    return notice


async def fetch(
    session: AsyncSession, recipient_id: str, notice_id: UUID, keys: DataKeyStore, now: datetime
) -> tuple[db.InboxNotice, SealedNotice | NoticeGone]:
    """The notice and its sealed form, its fetch audited; or, for a notice that can no longer
    be opened, why, audited as a refusal. The caller records a delivery only for the first,
    and commits either way (the refusal's audit entry too) before answering."""
    notice = await get_notice(session, recipient_id, notice_id)
    try:
        opened: SealedNotice | NoticeGone = sealed(notice, keys)
    except (DataKeyShredded, DataKeyUnusable) as exc:
        reason = "household_shredded" if isinstance(exc, DataKeyShredded) else "unreadable"
        await audit.append(session, "notice_gone", recipient_id, str(notice_id),
                           {"reason": reason}, now)  # fmt: skip
        return notice, NoticeGone("this notice's stored data was deleted or cannot be read")
    await audit.append(session, "notice_read", recipient_id, str(notice_id), {}, now)
    return notice, opened


def sealed(notice: db.InboxNotice, keys: DataKeyStore) -> SealedNotice:
    """The notice as the broker sent it; ``DataKeyShredded`` once its household's key is gone,
    ``DataKeyUnusable`` when what was stored does not open."""
    header = NoticeHeader.model_validate_json(notice.header)
    ciphertext = keys.unwrap(
        header.household, crypto.b64decode(notice.ciphertext), _context(header.notice_id)
    )
    return SealedNotice(
        header=notice.header, ciphertext=crypto.b64encode(ciphertext), signature=notice.signature
    )


def _context(notice_id: object) -> bytes:
    # Binds each stored ciphertext to its notice, so rows cannot be swapped unnoticed.
    return f"sgb/inbox-at-rest/v1/{notice_id}".encode()
