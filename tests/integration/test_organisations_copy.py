"""Each process keeps a copy of the organisations (contacts, keys, alert channels...) until
the directory's change log names an organisation, a contact, or a kind of change it does not
know: changes of the family's kinds (routing's moves) keep it. On PostgreSQL a change log id
is allocated when a transaction inserts its row, and transactions commit in any order: a
change whose id is below one already seen must still reach the copy once it commits, or a
notice could be sealed to a contact's old key."""

from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import event as orm_events
from sqlalchemy import func, select

from broker.adapters import db
from broker.adapters.directory import _ORGANISATIONS, Organisations, SqlDirectory
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.bootstrap import Runtime, runtime
from broker.config import Settings
from broker.ports import AuditRecord, DirectoryChangeEntry
from broker.services import directory_admin as admin
from broker.services.directory_writes import put_row
from producers import crypto
from schemas.directory import ContactSpec

pytestmark = pytest.mark.integration

LEAD = "gp-riverside:safeguarding_lead"


async def read_copy(rt: Runtime) -> Organisations:
    """This process's copy of the organisations, as a batch reads it."""
    async with rt.sessions() as session, session.begin():
        return await SqlDirectory(session).organisations()


async def read_key(rt: Runtime, contact_id: str) -> str:
    """The contact's public key as this process's copy of the organisations holds it."""
    return (await read_copy(rt)).contacts_by_id[contact_id].hpke_public_key


async def another_contact_changed(rt: Runtime) -> None:
    """Another administrator's change to another contact (its daily digest), committed."""
    async with SqlUnitOfWork(rt.sessions) as uow:
        row = await uow.session.scalar(select(db.Contact).where(db.Contact.id != LEAD).limit(1))
        assert row is not None
        spec = ContactSpec(id=row.id, org_id=row.org_id, role=row.role,
                           hpke_public_key=row.hpke_public_key,
                           daily_digest=not row.daily_digest, webhook_url=row.webhook_url,
                           mesh_mailbox=row.mesh_mailbox)  # fmt: skip
        await admin.put_contact(uow, spec, "admin-b")


async def change_logged(rt: Runtime, change_id: int, contact_id: str, key: str) -> None:
    """The contact given a new key, its change log row taking ``change_id``, committed."""
    async with SqlUnitOfWork(rt.sessions) as uow:
        await put_row(uow, "contacts", {"id": contact_id}, {"hpke_public_key": key})
        uow.session.add(db.DirectoryChange(id=change_id, at=datetime.now(UTC), actor="t",
                                           entity="contact", entity_id=contact_id,
                                           action="updated", fields="hpke_public_key"))  # fmt: skip


async def assert_the_leads_new_key_is_read(rt: Runtime, change_id: int) -> None:
    """The lead's new key, logged under ``change_id`` and committed, is the next read's."""
    old_key = await read_key(rt, LEAD)
    key = new_key()
    await change_logged(rt, change_id, LEAD, key)
    assert old_key != key
    assert await read_key(rt, LEAD) == key


async def newest_change(rt: Runtime) -> int:
    """The change log's newest id (0 for none)."""
    async with rt.sessions() as session:
        return await session.scalar(select(func.max(db.DirectoryChange.id))) or 0


async def change_of_kind_logged(rt: Runtime, entity: str, change_id: int | None = None) -> None:
    """A change of this kind to a household (routing's move, for "household") logged and
    committed, under ``change_id`` if given."""
    async with SqlUnitOfWork(rt.sessions) as uow:
        household = await uow.session.scalar(select(db.Household.id).limit(1))
        assert household is not None
        uow.session.add(db.DirectoryChange(id=change_id, at=datetime.now(UTC), actor="router",
                                           entity=entity, entity_id=household,
                                           action="updated", fields="area"))  # fmt: skip


async def statements_of_a_read(rt: Runtime) -> list[str]:
    """The SQL statements a batch's read of the copy sends (its transaction begun before)."""
    sent: list[str] = []

    def note(*args: Any) -> None:
        sent.append(args[2])  # (connection, cursor, statement, ...)

    async with rt.sessions() as session, session.begin():
        engine = (await session.connection()).engine.sync_engine
        orm_events.listen(engine, "before_cursor_execute", note)
        try:
            await SqlDirectory(session).organisations()
        finally:
            orm_events.remove(engine, "before_cursor_execute", note)
    return sent


def new_key() -> str:
    return crypto.encode_public(X25519PrivateKey.generate().public_key())


class TestOrganisationsCopy:
    async def test_a_change_committed_after_a_later_one_reaches_the_copy(
        self, settings: Settings, directory: None
    ) -> None:
        """An import gives the lead a new key: its change log row is written (its id
        allocated) and its transaction stays open while another administrator's later
        change commits and a batch reads the directory. Once the import commits, the next
        read holds the lead's new key."""
        if settings.database_url.startswith("sqlite"):
            pytest.skip("SQLite writes one transaction at a time: its ids commit in order")
        imported = new_key()
        async with runtime(settings, configure_logs=False) as rt:
            old_key = await read_key(rt, LEAD)
            async with SqlUnitOfWork(rt.sessions) as uow:
                # The directory write as the admin service makes it, up to its audit entry
                # (appended last, under a lock the other administrator would wait for).
                delta = await put_row(uow, "contacts", {"id": LEAD}, {"hpke_public_key": imported})
                now = datetime.now(UTC)
                change = DirectoryChangeEntry(now, "import-a", "contact", LEAD, "updated",
                                              tuple(delta.fields))  # fmt: skip
                await uow.directory_rows.log_changes([change])
                await another_contact_changed(rt)
                assert await read_key(rt, LEAD) == old_key
                details = {"action": "updated", "fields": "hpke_public_key"}
                record = AuditRecord("directory_changed", "import-a", f"contact:{LEAD}", details)
                await uow.audit.append(record, now)
            assert await read_key(rt, LEAD) == imported

    async def test_a_change_rolled_back_leaves_the_copy_as_it_is(
        self, settings: Settings, directory: None
    ) -> None:
        """A change log id written and rolled back (while a later change commits) is never
        used: the batches after it keep the copy read after the later change, not read
        again each time."""
        if settings.database_url.startswith("sqlite"):
            pytest.skip("SQLite writes one transaction at a time: its ids commit in order")
        async with runtime(settings, configure_logs=False) as rt:
            before = await read_copy(rt)
            async with rt.sessions() as session:
                transaction = await session.begin()
                change = db.DirectoryChange(at=datetime.now(UTC), actor="import-a",
                                            entity="contact", entity_id=LEAD, action="updated",
                                            fields="hpke_public_key")  # fmt: skip
                session.add(change)
                await session.flush()
                await another_contact_changed(rt)
                after = await read_copy(rt)
                await transaction.rollback()
            assert after is not before
            assert await read_copy(rt) is after
            assert await read_copy(rt) is after

    async def test_an_id_below_the_newest_committed_last_is_read(
        self, settings: Settings, directory: None
    ) -> None:
        """Ids given as PostgreSQL allocates them to two transactions committing out of
        order, on either database: the later id commits first and is read, then the earlier
        one, a change of the lead's key, which the next read holds."""
        async with runtime(settings, configure_logs=False) as rt:
            await read_copy(rt)
            top = await newest_change(rt)
            other = (await read_copy(rt)).contacts_by_id.keys() - {LEAD}
            await change_logged(rt, top + 2, min(other), new_key())
            await assert_the_leads_new_key_is_read(rt, top + 1)

    async def test_a_rolled_back_import_s_many_ids_are_asked_for_as_a_run(
        self, settings: Settings, directory: None
    ) -> None:
        """40,000 ids missing below the newest (an import rolled back, then a change): more
        than asyncpg takes as parameters of one statement, yet reads go on, and the earliest
        of them, committed late, is read."""
        async with runtime(settings, configure_logs=False) as rt:
            await read_copy(rt)
            top = await newest_change(rt)
            other = (await read_copy(rt)).contacts_by_id.keys() - {LEAD}
            await change_logged(rt, top + 40_001, min(other), new_key())
            await read_copy(rt)  # 40,000 gaps now
            key = new_key()
            await change_logged(rt, top + 1, LEAD, key)
            assert await read_key(rt, LEAD) == key

    async def test_a_batch_asks_one_query_with_or_without_gaps(
        self, settings: Settings, directory: None
    ) -> None:
        """Reading the copy costs a batch one statement: the change log's newest id, and
        while ids are missing below it, whether one has appeared, in the same query."""
        async with runtime(settings, configure_logs=False) as rt:
            await read_copy(rt)
            [plain] = await statements_of_a_read(rt)
            top = await newest_change(rt)
            await change_logged(rt, top + 2, LEAD, new_key())  # top + 1 is missing
            await read_copy(rt)
            [asking_about_gaps] = await statements_of_a_read(rt)
            assert asking_about_gaps != plain

    async def test_a_change_to_people_keeps_the_copy_and_a_later_contact_change_is_read(
        self, settings: Settings, directory: None
    ) -> None:
        """A change naming a household (routing's moves, most of the log while events flow)
        moves the log on without the organisations being read again; a contact's new key,
        logged after it, is read."""
        async with runtime(settings, configure_logs=False) as rt:
            before = await read_copy(rt)
            await change_of_kind_logged(rt, "household")
            assert await read_copy(rt) is before
            top = await newest_change(rt)
            key = new_key()
            await change_logged(rt, top + 1, LEAD, key)
            assert await read_key(rt, LEAD) == key

    async def test_a_change_committed_after_a_copy_read_from_nothing_reaches_it(
        self, settings: Settings, directory: None
    ) -> None:
        """A process reads its copy for the first time while a contact's new key is being
        logged (its id allocated, not committed) and a household's later change has
        committed: once the key's change commits, the next read holds it, though nothing
        but family changes came after."""
        async with runtime(settings, configure_logs=False) as rt:
            top = await newest_change(rt)
            await change_of_kind_logged(rt, "household", top + 2)
            _ORGANISATIONS.clear()  # this process's first read: from nothing
            await assert_the_leads_new_key_is_read(rt, top + 1)

    async def test_a_change_of_a_kind_it_does_not_know_reads_the_copy_again(
        self, settings: Settings, directory: None
    ) -> None:
        """Only the family's kinds of change keep the copy: one of a kind added later (here
        made up) reads it again, rather than keep a copy it might have made stale."""
        async with runtime(settings, configure_logs=False) as rt:
            before = await read_copy(rt)
            await change_of_kind_logged(rt, "kind_added_later")
            assert await read_copy(rt) is not before
