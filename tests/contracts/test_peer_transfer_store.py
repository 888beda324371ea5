"""The store of transfers pushed by peer brokers (``broker.services.peer_transfers``): a
peer's keys only for a peer broker, each transfer kept once under its id, pending until
applied or refused once. Against its in-memory fake and its SQL adapter on both databases."""

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from broker.adapters import audit, db
from broker.adapters.peer_transfers import SqlPeerTransfers
from broker.errors import EventNotPermitted, UnknownSigningKey
from producers import crypto
from tests.conftest import Databases
from tests.contracts.conftest import MEMORY
from tests.fakes import InMemoryPeerTransfers

AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
PEER, AGENCY = "peer-north", "mh-trust"
KEY = Ed25519PrivateKey.generate().public_key()
KEY_ID = crypto.key_id(KEY)
ID = "00000000-0000-4000-8000-000000000001"
OTHER = "00000000-0000-4000-8000-000000000002"


class Store:
    """The store under contract, and what it audited."""

    def __init__(self, store: Any, audited: Any) -> None:
        self.store, self.audited = store, audited


@pytest.fixture
async def subject(database_backend: str, databases: Databases) -> AsyncIterator[Store]:
    if database_backend == MEMORY:
        fake = InMemoryPeerTransfers(peer_keys={(PEER, KEY_ID): KEY}, other_orgs={AGENCY})

        async def from_fake() -> list[tuple[str, str]]:
            return fake.audited

        yield Store(fake, from_fake)
        return
    engine = db.make_engine(await databases.new())
    sessions = db.sessions(engine, os.urandom(32))
    async with sessions.begin() as session:
        for org_id, kind in ((PEER, "peer_broker"), (AGENCY, "mental_health")):
            session.add(db.Organisation(id=org_id, name=org_id, kind=kind, area="E08000001"))
            await session.flush()
            session.add(db.OrgSigningKey(org_id=org_id, key_id=KEY_ID,
                                         public_key=crypto.encode_public(KEY)))  # fmt: skip

    async def from_sql() -> list[tuple[str, str]]:
        async with sessions() as session:
            rows = (await session.scalars(select(audit.AuditEntry)
                                          .order_by(audit.AuditEntry.seq))).all()  # fmt: skip
        return [(r.action, r.subject_ref) for r in rows]

    try:
        yield Store(SqlPeerTransfers(sessions), from_sql)
    finally:
        await engine.dispose()


class TestPeerKeys:
    async def test_a_peers_key_is_found(self, subject: Store) -> None:
        """The peer broker's registered key, by its id."""
        found = await subject.store.peer_key(PEER, KEY_ID, AT)
        assert crypto.key_id(found) == KEY_ID

    async def test_an_organisation_of_another_kind_has_no_peer_key(self, subject: Store) -> None:
        """Even with a registered key: only a peer broker pushes transfers."""
        with pytest.raises(EventNotPermitted):
            await subject.store.peer_key(AGENCY, KEY_ID, AT)

    async def test_an_unknown_key_id_is_refused(self, subject: Store) -> None:
        with pytest.raises(UnknownSigningKey):
            await subject.store.peer_key(PEER, "0" * 16, AT)


class TestKeepingTransfers:
    async def test_a_transfer_is_kept_once_and_audited_once(self, subject: Store) -> None:
        """The second keep of the same id is refused (False); its digest is the first's."""
        assert await subject.store.keep(ID, PEER, "d1", "{}", AT) is True
        assert await subject.store.keep(ID, PEER, "d2", "{}", AT) is False
        assert await subject.store.kept_digest(ID) == "d1"
        assert await subject.store.kept_digest(OTHER) is None
        assert await subject.audited() == [("peer_transfer_received", ID)]

    async def test_pending_until_applied_oldest_first(self, subject: Store) -> None:
        """Each transfer is pending until applied or refused, once, and audited as such."""
        await subject.store.keep(OTHER, PEER, "d", "{b}", AT + timedelta(seconds=1))
        await subject.store.keep(ID, PEER, "d", "{a}", AT)
        pending = await subject.store.pending(10)
        assert [(p.transfer_id, p.peer_org, p.sealed) for p in pending] == [
            (ID, PEER, "{a}"), (OTHER, PEER, "{b}")]  # fmt: skip
        await subject.store.applied(ID, PEER, AT)
        await subject.store.applied(ID, PEER, AT)
        await subject.store.applied(OTHER, PEER, AT, refused="TransferUnusable")
        assert await subject.store.pending(10) == []
        assert (await subject.audited())[-2:] == [("peer_transfer_applied", ID),
                                                  ("peer_transfer_refused", OTHER)]  # fmt: skip
