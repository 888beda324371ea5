"""Access tokens at peer brokers' gateways, over httpx: this broker signs in at a peer as the
organisation it is in the peer's directory (``peers.known_there_as``), with a
``private_key_jwt`` assertion signed by its own signing key (the key the peer registered for
that organisation, which also signs the webhook request and the transfer itself).

A token is kept until shortly before it expires, one per peer. Only a recipient that is a peer
broker's contact gets one: every other webhook goes without, as before.

Token requests (to the peer's gateway) and receipts (to its recipient API) pass the webhook
address check as webhooks do (``broker.adapters.webhooks.pinned``): the name is resolved, every
address judged, and the request sent to the address judged. A refused address is permanent:
a receipt is dead-lettered (replayed once the registration is put right), and a transfer's
push gets no token, so the webhook sender refuses the same gateway and dead-letters it.
"""

import time
from collections.abc import Sequence
from dataclasses import dataclass

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.adapters import db
from broker.adapters.webhooks import AddressRefused, pinned
from broker.delivery.webhook_delivery import Attempt
from broker.delivery.webhook_targets import Network
from broker.errors import PeerUnreachable
from producers import crypto
from producers.auth import ASSERTION_TYPE, REFRESH_MARGIN_S, assertion

TOKEN_PATH = "/v1/oauth/token"  # noqa: S105  a path, not a secret

# A peer registered before api_url existed has none: its recipient API is at its gateway.
PEER_COLUMNS = (db.Peer.org_id, db.Peer.gateway_url, db.Peer.known_there_as,
                func.coalesce(db.Peer.api_url, db.Peer.gateway_url))  # fmt: skip


@dataclass(frozen=True)
class PeerGateway:
    org_id: str  # the peer's organisation here
    gateway_url: str
    known_there_as: str  # this broker's organisation there
    api_url: str  # its recipient API: where receipts go (the gateway serves no /v1/recipients)


class HttpPeerTokens:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], signing_key: Ed25519PrivateKey,
        timeout: float, transport: httpx.AsyncBaseTransport | None = None,
        allowed: Sequence[Network] = (),
    ) -> None:  # fmt: skip
        self._sessions, self._key = sessions, signing_key
        self._held: dict[str, tuple[str, float]] = {}  # peer org id: (token, expiry)
        self._allowed = tuple(allowed)
        # A transport given (tests: an app served in process) reaches no network to check.
        self._checked = transport is None
        # No connection kept for reuse: one made for one name must not carry another's.
        fresh = httpx.Limits(max_keepalive_connections=0)
        self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=False,
                                         trust_env=False, transport=transport,
                                         limits=fresh)  # fmt: skip

    async def bearer(self, recipient_id: str) -> str | None:
        """``Bearer <token>`` for a peer broker's contact; None for any other recipient."""
        gateway = await self.gateway_of(recipient_id)
        if gateway is None:
            return None
        try:
            return f"Bearer {await self.token(gateway)}"
        except AddressRefused:
            return None  # the push to the same gateway is refused, and dead-lettered, too

    async def gateway_of(self, recipient_id: str) -> PeerGateway | None:
        query = (
            select(*PEER_COLUMNS)
            .join(db.Contact, db.Contact.org_id == db.Peer.org_id)
            .where(db.Contact.id == recipient_id)
        )
        async with self._sessions() as session:
            row = (await session.execute(query)).first()
        return PeerGateway(*row) if row else None

    async def post(self, peer_org: str, path: str, body: dict[str, str]) -> Attempt:
        """POSTs ``body`` to the peer's recipient API at ``path``, signed in with a token
        from its gateway (both of its processes take its tokens); the answer's status, or
        the class of the failure (no status) when there was none."""
        query = select(*PEER_COLUMNS).where(db.Peer.org_id == peer_org)
        async with self._sessions() as session:
            row = (await session.execute(query)).first()
        if row is None:
            return Attempt(None, "peer_not_registered")
        gateway = PeerGateway(*row)
        try:
            token = await self.token(gateway)
            target, host, extensions = await self._target(gateway.api_url + path)
            signed_in = {"authorization": f"Bearer {token}", "host": host}
            answer = await self._client.post(target, json=body, headers=signed_in,
                                             extensions=extensions)  # fmt: skip
        except AddressRefused:
            return Attempt(None, "address_refused", refused=True)
        except PeerUnreachable:
            return Attempt(None, "peer_token_unavailable")
        except (httpx.HTTPError, OSError) as exc:  # OSError: the name does not resolve
            return Attempt(None, type(exc).__name__)
        if answer.status_code == 401:
            self.forget(peer_org)  # a token the peer no longer takes: a new one next time
        return Attempt(answer.status_code)

    async def token(self, gateway: PeerGateway) -> str:
        held = self._held.get(gateway.org_id)
        if held and time.monotonic() < held[1] - REFRESH_MARGIN_S:
            return held[0]
        url = gateway.gateway_url + TOKEN_PATH
        key_id = crypto.key_id(self._key.public_key())
        signed = assertion(gateway.known_there_as, self._key, key_id, url)
        form = {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": signed}  # fmt: skip
        try:
            target, host, extensions = await self._target(url)
            answer = await self._client.post(target, data=form, headers={"host": host},
                                             extensions=extensions)  # fmt: skip
            answer.raise_for_status()
            granted = answer.json()
            token, lifetime = str(granted["access_token"]), float(granted["expires_in"])
        except (httpx.HTTPError, OSError, ValueError, KeyError) as exc:
            raise PeerUnreachable(f"no token from the peer: {type(exc).__name__}") from None
        self._held[gateway.org_id] = (token, time.monotonic() + lifetime)
        return token

    async def _target(self, url: str) -> tuple[httpx.URL, str, dict[str, str]]:
        """Where the request goes: the address judged (``AddressRefused`` otherwise), with
        the Host header and TLS's server name of the URL's own."""
        given = httpx.URL(url)
        if not self._checked:
            return given, given.netloc.decode("ascii"), {}
        return await pinned(given, self._allowed)

    def forget(self, recipient_org: str) -> None:
        """Drops a peer's token (it was refused): the next attempt asks for a new one."""
        self._held.pop(recipient_org, None)

    async def close(self) -> None:
        await self._client.aclose()
