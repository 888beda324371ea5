"""Each process keeps a copy of the organisations (contacts, keys, alert channels...) until
the directory's change log moves on. On PostgreSQL a change log id is allocated when a
transaction inserts its row, and transactions commit in any order: a change whose id is
below one already seen must still reach the copy once it commits, or a notice could be
sealed to a contact's old key."""

from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import select

from broker.adapters import db
from broker.adapters.directory import SqlDirectory
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


async def read_key(rt: Runtime, contact_id: str) -> str:
    """The contact's public key as this process's copy of the organisations holds it."""
    async with rt.sessions() as session, session.begin():
        known = await SqlDirectory(session).organisations()
        return known.contacts_by_id[contact_id].hpke_public_key


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
        new_key = crypto.encode_public(X25519PrivateKey.generate().public_key())
        async with runtime(settings, configure_logs=False) as rt:
            old_key = await read_key(rt, LEAD)
            async with SqlUnitOfWork(rt.sessions) as uow:
                # The directory write as the admin service makes it, up to its audit entry
                # (appended last, under a lock the other administrator would wait for).
                delta = await put_row(uow, "contacts", {"id": LEAD}, {"hpke_public_key": new_key})
                now = datetime.now(UTC)
                change = DirectoryChangeEntry(now, "import-a", "contact", LEAD, "updated",
                                              tuple(delta.fields))  # fmt: skip
                await uow.directory_rows.log_changes([change])
                await another_contact_changed(rt)
                assert await read_key(rt, LEAD) == old_key
                details = {"action": "updated", "fields": "hpke_public_key"}
                record = AuditRecord("directory_changed", "import-a", f"contact:{LEAD}", details)
                await uow.audit.append(record, now)
            assert await read_key(rt, LEAD) == new_key
