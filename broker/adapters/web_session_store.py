"""The web inbox's sign-in links and sessions in SQL (``WebSessions``). Using a link and
touching a session are each one conditional UPDATE: the database decides which of two racing
requests wins, and nothing past its limits is revived."""

from datetime import datetime

from sqlalchemy import and_, or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from broker.adapters import db
from broker.ports import SignInLink, WebSessionRecord

Link, Session = db.WebSignInLink, db.WebSession


class SqlWebSessions:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def contact_exists(self, contact_id: str) -> bool:
        return await self._session.get(db.Contact, contact_id) is not None

    async def add_link(self, link: SignInLink) -> None:
        self._session.add(Link(token_hash=link.token_hash, contact_id=link.contact_id,
                               issued_by=link.issued_by, issued_at=link.issued_at))  # fmt: skip
        await self._session.flush()

    async def use_link(self, token_hash: str, issued_after: datetime, now: datetime) -> str | None:
        used = await self._session.execute(
            update(Link)
            .where(
                Link.token_hash == token_hash,
                Link.used_at.is_(None),
                Link.issued_at > issued_after,
                Link.issued_at <= now,
            )
            .values(used_at=now)
            .returning(Link.contact_id)
        )
        return used.scalar_one_or_none()

    async def start(self, session: WebSessionRecord) -> None:
        self._session.add(Session(
            id_hash=session.id_hash, contact_id=session.contact_id,
            csrf_token=session.csrf_token, signed_in_with=session.signed_in_with,
            started_at=session.started_at, last_seen_at=session.last_seen_at,
            credential_id=session.credential_id,
        ))  # fmt: skip
        await self._session.flush()

    async def touch(
        self, id_hash: str, now: datetime, seen_after: datetime, started_after: datetime
    ) -> WebSessionRecord | None:
        touched = await self._session.execute(
            update(Session)
            .where(
                Session.id_hash == id_hash,
                Session.ended_at.is_(None),
                Session.last_seen_at > seen_after,
                Session.started_at > started_after,
            )
            .values(last_seen_at=now)
            .returning(Session)
        )
        row = touched.scalar_one_or_none()
        return None if row is None else _record(row)

    async def get(self, id_hash: str) -> WebSessionRecord | None:
        row = await self._session.get(Session, id_hash)
        return None if row is None else _record(row)

    async def end(self, id_hash: str, now: datetime) -> bool:
        ended = await self._session.execute(
            update(Session)
            .where(Session.id_hash == id_hash, Session.ended_at.is_(None))
            .values(ended_at=now)
            .returning(Session.id_hash)
        )
        return ended.scalar_one_or_none() is not None

    async def end_all_of(self, contact_id: str, now: datetime) -> int:
        await self._session.execute(
            update(Link)
            .where(Link.contact_id == contact_id, Link.used_at.is_(None))
            .values(used_at=now)
        )
        ended = await self._session.execute(
            update(Session)
            .where(Session.contact_id == contact_id, Session.ended_at.is_(None))
            .values(ended_at=now)
            .returning(Session.id_hash)
        )
        return len(ended.scalars().all())

    async def end_sessions_opened_by(self, contact_id: str, credential_id: str,
                                     now: datetime) -> int:  # fmt: skip
        unrecorded = and_(Session.credential_id.is_(None), Session.signed_in_with == "passkey")
        ended = await self._session.execute(
            update(Session)
            .where(Session.contact_id == contact_id, Session.ended_at.is_(None),
                   or_(Session.credential_id == credential_id, unrecorded))
            .values(ended_at=now)
            .returning(Session.id_hash)
        )  # fmt: skip
        return len(ended.scalars().all())


def _record(row: db.WebSession) -> WebSessionRecord:
    return WebSessionRecord(row.id_hash, row.contact_id, row.csrf_token, row.signed_in_with,
                            row.started_at, row.last_seen_at, row.ended_at,
                            row.credential_id)  # fmt: skip
