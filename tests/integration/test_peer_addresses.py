"""The webhook address check on requests to a peer broker (issue 16): token requests to its
gateway and receipts to its recipient API go only to addresses the broker may reach, as
webhooks do. A listener on loopback counts every connection made to it: refused, none is made
(and a receipt is dead-lettered, for replay once the registration is put right); with
loopback allowed, as tests and local development allow it, the request goes."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Network
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from broker.adapters import db
from broker.adapters.peer_receipts import SqlPeerReceipts
from broker.adapters.peer_tokens import HttpPeerTokens
from broker.delivery.backoff import Backoff
from broker.delivery.webhook_targets import Network
from broker.keys import KeyStore, audit_key
from broker.services.peer_receipts import ReceiptSender

pytestmark = pytest.mark.integration

PEER, CONTACT = "peer-north", "peer-north:duty_manager"
LOOPBACK = IPv4Network("127.0.0.0/8")
Sessions = async_sessionmaker[AsyncSession]


class Listener:
    """A TCP port on loopback that counts connections and answers nothing."""

    def __init__(self) -> None:
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def _accept(self, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.close()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port: int = self.server.sockets[0].getsockname()[1]
        return port


@pytest.fixture
async def listener() -> AsyncIterator[Listener]:
    made = Listener()
    yield made
    if made.server is not None:
        made.server.close()
        await made.server.wait_closed()


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    made = db.make_engine(f"sqlite+aiosqlite:///{tmp_path / 'broker.db'}")
    yield made
    await made.dispose()


async def peer_at(engine: AsyncEngine, tmp_path: Path, host: str, port: int) -> Sessions:
    """A broker's database with the peer registered at ``host:port`` (written directly: the
    registration's own check is tested in test_peer_registry.py) and a receipt owed to it."""
    KeyStore.create(tmp_path / "keys")
    await db.create_schema(engine)
    sessions = db.sessions(engine, audit_key(tmp_path / "keys"))
    url, now = f"http://{host}:{port}", datetime.now(UTC)
    async with sessions.begin() as session:
        session.add(db.Organisation(id=PEER, name="North", kind="peer_broker", area="E08000001"))
        await session.flush()
        session.add(db.Contact(id=CONTACT, org_id=PEER, role="duty_manager",
                               hpke_public_key="x", key_id="x"))  # fmt: skip
        session.add(db.Peer(org_id=PEER, gateway_url=url, api_url=url, known_there_as="demo"))
        session.add(db.PeerReceipt(
            transfer_id="t-1", receipt="acknowledged", peer_org=PEER, recipient_id="demo:x",
            queued_at=now, attempts=0, next_attempt_at=now,
        ))  # fmt: skip
    return sessions


def tokens(sessions: Sessions, allowed: tuple[Network, ...]) -> HttpPeerTokens:
    return HttpPeerTokens(sessions, Ed25519PrivateKey.generate(), 2, allowed=allowed)


class TestAPeerAtAnAddressTheBrokerMayNotReach:
    @pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
    async def test_no_token_and_no_receipt_is_sent_there(
        self, engine: AsyncEngine, tmp_path: Path, listener: Listener, host: str
    ) -> None:
        """Loopback not allowed (production): the transfer's push gets no token (the webhook
        sender refuses the same gateway), the receipt is refused for good, and no connection
        is made, the name resolved and judged like an address."""
        sessions = await peer_at(engine, tmp_path, host, await listener.start())
        peers = tokens(sessions, ())
        try:
            assert await peers.bearer(CONTACT) is None
            attempt = await peers.post(PEER, "/v1/recipients/demo:x/notices/t-1/receipts", {})
        finally:
            await peers.close()
        assert (attempt.refused, attempt.error, attempt.transient) == (
            True, "address_refused", False)  # fmt: skip
        assert listener.connections == 0

    async def test_the_receipt_refused_is_dead_lettered_for_replay(
        self, engine: AsyncEngine, tmp_path: Path, listener: Listener
    ) -> None:
        """The delivery worker's sender ends it dead (``sgb dead-letters receipts`` lists
        it), never tried again and never counted sent."""
        sessions = await peer_at(engine, tmp_path, "127.0.0.1", await listener.start())
        store, peers = SqlPeerReceipts(sessions), tokens(sessions, ())
        try:
            quickly = Backoff(timedelta(seconds=1), timedelta(seconds=5))
            sender = ReceiptSender(store, peers, quickly)
            assert await sender.send_due() == 1
        finally:
            await peers.close()
        [dead] = await store.dead_letters()
        assert (dead.transfer_id, dead.last_status) == ("t-1", None)
        assert listener.connections == 0


class TestAPeerOnAllowedLoopback:
    async def test_the_request_goes(
        self, engine: AsyncEngine, tmp_path: Path, listener: Listener
    ) -> None:
        """Loopback allowed, as the tests' brokers allow it: the token request is made (the
        listener answers nothing: a failure to try again, not a refusal)."""
        sessions = await peer_at(engine, tmp_path, "127.0.0.1", await listener.start())
        peers = tokens(sessions, (LOOPBACK,))
        try:
            attempt = await peers.post(PEER, "/v1/recipients/demo:x/notices/t-1/receipts", {})
        finally:
            await peers.close()
        assert (attempt.refused, attempt.transient) == (False, True)
        assert listener.connections >= 1
