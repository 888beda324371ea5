"""Recipients' inboxes: delivery stores sealed notices; recipients list and fetch them.

The inbox holds ciphertext, the cleartext header and the broker's signature: nothing a
recipient could not already verify, and nothing the broker's operators could read.
"""

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from broker.errors import BrokerError, DataKeyShredded, DataKeyUnusable
from broker.ports import AuditRecord, DataKeyStore, InboxEntry, UnitOfWork
from producers import crypto
from schemas.notices import NoticeHeader, SealedNotice


class NoticeNotFound(BrokerError):
    """No such notice in this recipient's inbox (another recipient's notice included)."""


class NoticeGone(BrokerError):
    """The notice is in this inbox but can never be read again: its household was shredded
    (retention) or what was stored of it no longer opens."""


async def store(
    uow: UnitOfWork, notices: Sequence[SealedNotice], now: datetime, keys: DataKeyStore,
    unstorable: list[SealedNotice] | None = None,
) -> int:  # fmt: skip
    """Stores each notice once, however often it is delivered, and audits the new ones;
    returns how many were new (see ``put``)."""
    headed = [(sealed, NoticeHeader.model_validate_json(sealed.header)) for sealed in notices]
    delivered = await put(uow, headed, now, keys, unstorable)
    await uow.audit.append_many(delivered, now)
    return len(delivered)


async def put(
    uow: UnitOfWork, notices: Sequence[tuple[SealedNotice, NoticeHeader]], now: datetime,
    keys: DataKeyStore, unstorable: list[SealedNotice] | None = None,
) -> list[AuditRecord]:  # fmt: skip
    """Stores each notice once, however often it is delivered (a batch in one statement);
    answers the audit entries of those new to the inbox, for the caller to append with the
    rest of its batch's, so that the chain's lock is taken once and last.
    Its ciphertext is sealed again at rest under its households' data keys (crypto-shredding).
    A notice whose data key cannot be used goes into ``unstorable`` when it is given (the
    caller dead-letters it), instead of failing the rest. Each notice comes with its header,
    as the caller read it to verify the notice."""
    entries = []
    for sealed, header in notices:
        try:
            entries.append(_entry(sealed, header, keys, now))
        except (DataKeyUnusable, ValueError):
            if unstorable is None:
                raise
            unstorable.append(sealed)
    new = await uow.inbox.add_new(entries)
    # A notice twice in one batch went in once: it is audited once.
    firsts: dict[str, InboxEntry] = {}
    for entry in entries:
        if entry.notice_id in new:
            firsts.setdefault(entry.notice_id, entry)
    return [AuditRecord("notice_delivered", "delivery", notice_id,
                        {"recipient_id": entry.recipient_id})
            for notice_id, entry in firsts.items()]  # fmt: skip


def _entry(
    sealed: SealedNotice, header: NoticeHeader, keys: DataKeyStore, now: datetime
) -> InboxEntry:
    at_rest = keys.wrap(header.household, crypto.b64decode(sealed.ciphertext),
                        _context(header.notice_id))  # fmt: skip
    return InboxEntry(notice_id=str(header.notice_id), recipient_id=header.recipient_id,
                      header=sealed.header, ciphertext=crypto.b64encode(at_rest),
                      signature=sealed.signature, deadline=header.deadline,
                      held_until=header.held_until, delivered_at=now)  # fmt: skip


async def list_notices(uow: UnitOfWork, recipient_id: str, now: datetime) -> list[InboxEntry]:
    """The recipient's notices, less low-severity ones still waiting for their daily digest."""
    return await uow.inbox.released(recipient_id, now)


async def digest(
    uow: UnitOfWork, recipient_id: str, released_at: datetime, now: datetime
) -> list[InboxEntry]:
    """The low-severity notices gathered into the digest released at ``released_at``."""
    if released_at > now:
        return []
    return await uow.inbox.held_until(recipient_id, released_at)


async def get_notice(uow: UnitOfWork, recipient_id: str, notice_id: UUID) -> InboxEntry:
    notice = await uow.inbox.get(str(notice_id))
    if notice is None or notice.recipient_id != recipient_id:
        raise NoticeNotFound("no such notice in this inbox")
    return notice


async def fetch(
    uow: UnitOfWork, recipient_id: str, notice_id: UUID, keys: DataKeyStore, now: datetime
) -> tuple[InboxEntry, SealedNotice | NoticeGone]:
    """The notice and its sealed form, its fetch audited; or, for a notice that can no longer
    be opened, why, audited as a refusal. The caller records a delivery only for the first,
    and commits either way (the refusal's audit entry too) before answering."""
    notice = await get_notice(uow, recipient_id, notice_id)
    try:
        opened: SealedNotice | NoticeGone = sealed(notice, keys)
    except (DataKeyShredded, DataKeyUnusable) as exc:
        reason = "household_shredded" if isinstance(exc, DataKeyShredded) else "unreadable"
        await uow.audit.append(AuditRecord("notice_gone", recipient_id, str(notice_id),
                                           {"reason": reason}), now)  # fmt: skip
        return notice, NoticeGone("this notice's stored data was deleted or cannot be read")
    await uow.audit.append(AuditRecord("notice_read", recipient_id, str(notice_id), {}), now)
    return notice, opened


def sealed(notice: InboxEntry, keys: DataKeyStore) -> SealedNotice:
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
