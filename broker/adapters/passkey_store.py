"""The web inbox's passkeys in SQL (``Passkeys``). Using a challenge and counting a sign-in
are each one conditional UPDATE: the database decides which of two racing answers wins."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from broker.adapters import db
from broker.ports import Ceremony, Passkey, PasskeyPerson

Row, Person, Key = db.PasskeyCeremony, db.PasskeyPerson, db.Passkey


class SqlPasskeys:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_ceremony(self, ceremony: Ceremony) -> None:
        self._session.add(Row(challenge=ceremony.challenge, kind=ceremony.kind,
                              contact_id=ceremony.contact_id, person_id=ceremony.person_id,
                              issued_at=ceremony.issued_at))  # fmt: skip
        await self._session.flush()

    async def use_ceremony(
        self, challenge: str, kind: str, issued_after: datetime, now: datetime
    ) -> Ceremony | None:
        used = await self._session.execute(
            update(Row)
            .where(
                Row.challenge == challenge,
                Row.kind == kind,
                Row.used_at.is_(None),
                Row.issued_at > issued_after,
                Row.issued_at <= now,
            )
            .values(used_at=now)
            .returning(Row)
        )
        row = used.scalar_one_or_none()
        if row is None:
            return None
        return Ceremony(row.challenge, row.kind, row.contact_id, row.person_id, row.issued_at)

    async def forget_ceremonies(self, issued_before: datetime) -> int:
        gone = await self._session.execute(
            delete(Row).where(Row.issued_at < issued_before).returning(Row.challenge)
        )
        return len(gone.all())

    async def contact_has_passkeys(self, contact_id: str) -> bool:
        found = await self._session.scalar(select(exists().where(Key.contact_id == contact_id)))
        return bool(found)

    async def add_person(self, person: PasskeyPerson) -> None:
        self._session.add(Person(id=person.person_id, contact_id=person.contact_id,
                                 recovery_lookup=person.recovery_lookup,
                                 recovery_wrapped_key=person.recovery_wrapped_key,
                                 enrolled_at=person.enrolled_at))  # fmt: skip
        await self._session.flush()

    async def person_by_recovery(self, recovery_lookup: str) -> PasskeyPerson | None:
        row = await self._session.scalar(
            select(Person).where(Person.recovery_lookup == recovery_lookup)
        )
        if row is None:
            return None
        return PasskeyPerson(row.id, row.contact_id, row.recovery_lookup,
                             row.recovery_wrapped_key, row.enrolled_at)  # fmt: skip

    async def renew_recovery(
        self, person_id: str, replaces: str, recovery_lookup: str, recovery_wrapped_key: str
    ) -> bool:
        renewed = await self._session.execute(
            update(Person)
            .where(Person.id == person_id, Person.recovery_lookup == replaces)
            .values(recovery_lookup=recovery_lookup, recovery_wrapped_key=recovery_wrapped_key)
            .returning(Person.id)
        )
        return renewed.scalar_one_or_none() is not None

    async def holds_recovery(self, person_id: str, recovery_lookup: str) -> bool:
        # An update that changes nothing: it locks the row (PostgreSQL; SQLite has one writer).
        held = await self._session.execute(
            update(Person)
            .where(Person.id == person_id, Person.recovery_lookup == recovery_lookup)
            .values(recovery_lookup=Person.recovery_lookup)
            .returning(Person.id)
        )
        return held.scalar_one_or_none() is not None

    async def add_passkey(self, passkey: Passkey) -> None:
        self._session.add(Key(credential_id=passkey.credential_id, person_id=passkey.person_id,
                              contact_id=passkey.contact_id, public_key=passkey.public_key,
                              sign_count=passkey.sign_count, wrapped_key=passkey.wrapped_key,
                              created_at=passkey.created_at,
                              last_used_at=passkey.last_used_at,
                              aaguid=passkey.aaguid))  # fmt: skip
        await self._session.flush()

    async def passkey(self, credential_id: str) -> Passkey | None:
        row = await self._session.get(Key, credential_id)
        return None if row is None else _passkey(row)

    async def passkeys_of(self, contact_id: str) -> list[Passkey]:
        rows = await self._session.scalars(
            select(Key)
            .where(Key.contact_id == contact_id)
            .order_by(Key.created_at, Key.credential_id)
        )
        return [_passkey(row) for row in rows]

    async def hold(self, credential_ids: Sequence[str]) -> set[str]:
        # FOR UPDATE on PostgreSQL; SQLite has no row locks, and lets one writer at a time.
        held = await self._session.scalars(
            select(Key.credential_id)
            .where(Key.credential_id.in_(list(credential_ids)))
            .order_by(Key.credential_id)
            .with_for_update()
        )
        return set(held)

    async def remove_passkey(self, credential_id: str) -> bool:
        removed = await self._session.execute(
            delete(Key).where(Key.credential_id == credential_id).returning(Key.credential_id)
        )
        return removed.scalar_one_or_none() is not None

    async def count_use(
        self, credential_id: str, stored: int, reported: int, now: datetime
    ) -> bool:
        counted = await self._session.execute(
            update(Key)
            .where(Key.credential_id == credential_id, Key.sign_count == stored)
            .values(sign_count=reported, last_used_at=now)
            .returning(Key.credential_id)
        )
        return counted.scalar_one_or_none() is not None

    async def remove_passkeys(self, person_id: str, keep: str) -> list[str]:
        removed = await self._session.execute(
            delete(Key)
            .where(Key.person_id == person_id, Key.credential_id != keep)
            .returning(Key.credential_id)
        )
        return sorted(removed.scalars())


def _passkey(row: db.Passkey) -> Passkey:
    return Passkey(row.credential_id, row.person_id, row.contact_id, row.public_key,
                   row.sign_count, row.wrapped_key, row.created_at, row.last_used_at,
                   row.aaguid)  # fmt: skip
