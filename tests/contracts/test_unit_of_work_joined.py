"""``SqlUnitOfWork.joined``: the stores over a session a caller already holds, for services
still on a session that call converted ones. What they write is the caller's to commit or
roll back."""

import os
from datetime import UTC, datetime

import pytest

from broker.adapters import db
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.ports import AuditRecord
from tests.conftest import Databases
from tests.contracts.conftest import MEMORY

AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
ENTRY = AuditRecord("notice_read", "gp-1:lead", "n-1", {})


class TestJoined:
    async def test_writes_share_the_callers_transaction(
        self, database_backend: str, databases: Databases
    ) -> None:
        """Kept when the caller commits, gone when it rolls back."""
        if database_backend == MEMORY:
            pytest.skip("a SQL adapter's: the fake has no session to join")
        engine = db.make_engine(await databases.new())
        sessions = db.sessions(engine, os.urandom(32))
        try:
            async with sessions.begin() as session:
                await SqlUnitOfWork.joined(session).audit.append(ENTRY, AT)
            with pytest.raises(LookupError):  # noqa: PT012 - the caller fails after the write
                async with sessions.begin() as session:
                    await SqlUnitOfWork.joined(session).audit.append(ENTRY, AT)
                    raise LookupError("the caller failed")
            async with SqlUnitOfWork(sessions) as uow:
                assert await uow.audit.entries_for("n-1") == [ENTRY]
        finally:
            await engine.dispose()
