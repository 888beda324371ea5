"""Transfers pushed here by peer brokers: taken in at the gateway, applied by the router.

At the gateway (``receive``), which holds no key that opens anything: the caller's token names
a peer broker's organisation; the webhook signature over the request, and the transfer's own
signature, verify with that organisation's signing keys; the transfer is kept, sealed as it
came, under its id. The same transfer pushed again (a retry after a timeout or a restart) is
answered "duplicate" and kept once; another transfer under a used id is a ``Conflict``.

In the router's timer (``PeerIntake.apply_pending``), which holds the broker's HPKE key the
peer sealed it to: each transfer kept and not yet applied is opened, read as the move it
reports (``broker.rules.peers``), signed by this broker as the peer's event and accepted
through the acceptance path (idempotent by the transfer's id), then marked applied. A transfer
that cannot be read as a move is marked refused and audited, never routed and never lost.
"""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal, Protocol

import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from broker.errors import BrokerError, SignatureInvalid
from broker.ports import Message, Publisher
from broker.rules.family import OrgKind
from broker.rules.peers import move_from_transfer
from broker.services.acceptance import Acceptance
from producers import crypto
from producers.broker_keys import BrokerPublicKeys
from producers.envelopes import open_notice, seal_event
from producers.pseudonyms import person_key
from producers.webhook_signatures import verify_signature
from schemas.events import Event, EventAdapter, FamilyMovingArea
from schemas.notices import NoticeHeader, NoticeType, SealedNotice
from schemas.peers import TransferAccepted
from schemas.transport import EventHeader, SignedEvent

if TYPE_CHECKING:
    from broker.adapters.directory import OrgRecord

log = structlog.get_logger(__name__)
# A push signed longer ago than this is refused (a replayed request), as receivers of the
# broker's webhooks refuse stale ones.
TIMESTAMP_TOLERANCE = timedelta(minutes=5)
BATCH = 50


class Conflict(BrokerError):
    """A transfer id already taken in for a different transfer."""


class NotATransfer(BrokerError):
    """The request is no transfer addressed here: named, never quoted."""


@dataclass(frozen=True)
class Push:
    """One push as the gateway received it: the webhook headers and the exact body."""

    webhook_id: str
    timestamp: int
    signature: str
    key_id: str
    body: bytes


class TransferRecords(Protocol):
    """What taking transfers in reads and keeps (``broker.adapters.peer_transfers``)."""

    async def peer_key(self, org_id: str, key_id: str, at: datetime) -> Ed25519PublicKey:
        """The peer broker's signing key valid at ``at``; ``EventNotPermitted`` when the
        organisation is no peer broker, ``UnknownSigningKey`` when it has no such key."""
        ...

    async def kept_digest(self, transfer_id: str) -> str | None: ...

    async def keep(self, transfer_id: str, peer_org: str, digest: str, sealed: str,
                   at: datetime) -> bool:  # fmt: skip
        """Keeps the transfer and audits its receipt, once; False when another request
        kept it first."""
        ...


async def receive(
    records: TransferRecords, caller: str, push: Push, now: datetime
) -> TransferAccepted:
    """Takes in one pushed transfer from the peer broker ``caller`` (its token's org)."""
    key = await records.peer_key(caller, push.key_id, now)
    if abs(now.timestamp() - push.timestamp) > TIMESTAMP_TOLERANCE.total_seconds():
        raise SignatureInvalid("the push's webhook-timestamp is too far from now")
    verify_signature(key, push.webhook_id, push.timestamp, push.body, push.signature)
    sealed, header = await _verified_transfer(records, caller, push)
    digest = hashlib.sha256(sealed.model_dump_json().encode()).hexdigest()
    status = await _kept_once(records, header, caller, digest, sealed, now)
    if status == "accepted":
        log.info("peer_transfer_received", transfer_id=str(header.notice_id), peer=caller)
    return TransferAccepted(transfer_id=header.notice_id, status=status)


async def _verified_transfer(
    records: TransferRecords, caller: str, push: Push
) -> tuple[SealedNotice, NoticeHeader]:
    try:
        sealed = SealedNotice.model_validate_json(push.body)
        header = NoticeHeader.model_validate_json(sealed.header)
    except ValueError:
        raise NotATransfer("the body is not a sealed notice") from None
    if str(header.notice_id) != push.webhook_id:
        raise NotATransfer("webhook-id is not the transfer's id")
    if header.notice_type is not NoticeType.TRANSFER:
        raise NotATransfer("only transfer notices are taken from a peer")
    # The transfer's own signature, by the key valid when the peer made it.
    key = await records.peer_key(caller, header.signing_key_id, header.created_at)
    signature = crypto.b64decode(sealed.signature)
    crypto.verify(key, sealed.header.encode(), crypto.b64decode(sealed.ciphertext), signature)
    return sealed, header


async def _kept_once(
    records: TransferRecords, header: NoticeHeader, caller: str, digest: str,
    sealed: SealedNotice, now: datetime,
) -> Literal["accepted", "duplicate"]:  # fmt: skip
    transfer_id = str(header.notice_id)
    for _ in range(2):  # a second request keeping it meanwhile is found on the second look
        kept = await records.kept_digest(transfer_id)
        if kept is not None:
            if kept != digest:
                raise Conflict("this transfer id was already used for a different transfer")
            return "duplicate"
        if await records.keep(transfer_id, caller, digest, sealed.model_dump_json(), now):
            return "accepted"
    raise Conflict("this transfer id is being taken in by another request")


@dataclass(frozen=True)
class Pending:
    transfer_id: str
    peer_org: str
    sealed: str


class IntakeRecords(Protocol):
    """What applying kept transfers reads and marks (``broker.adapters.peer_transfers``)."""

    async def pending(self, limit: int) -> list[Pending]: ...

    async def peer_key(self, org_id: str, key_id: str, at: datetime) -> Ed25519PublicKey: ...

    async def applied(self, transfer_id: str, peer_org: str, at: datetime,
                      refused: str | None = None) -> None:  # fmt: skip
        """Marks it applied (or refused, for the reason named) and audits it."""
        ...


class BrokerKeys(Protocol):
    """The broker's keys the intake uses (``broker.keys.KeyStore``)."""

    def hpke_for(self, key_id: str) -> X25519PrivateKey: ...

    @property
    def signing(self) -> Ed25519PrivateKey: ...


@dataclass(frozen=True)
class PeerIntake:
    records: IntakeRecords
    keys: BrokerKeys
    acceptance: Acceptance
    signing_key_id: str

    async def apply_pending(self, now: datetime) -> list[str]:
        """Applies each transfer taken in and not yet applied; returns their ids."""
        done = []
        for pending in await self.records.pending(BATCH):
            await self.apply(pending, now)
            done.append(pending.transfer_id)
        return done

    async def apply(self, pending: Pending, now: datetime) -> None:
        try:
            move = await self._move(pending)
        except (ValueError, BrokerError) as exc:  # TransferUnusable is a ValueError
            log.warning("peer_transfer_refused", transfer_id=pending.transfer_id,
                        reason=type(exc).__name__)  # fmt: skip
            await self.records.applied(pending.transfer_id, pending.peer_org, now,
                                       refused=type(exc).__name__)  # fmt: skip
            return
        # Accepted once however often this runs: a second time finds it accepted.
        await self.acceptance.accept([(move, self._signed(move))])
        await self.records.applied(pending.transfer_id, pending.peer_org, now)

    async def _move(self, pending: Pending) -> FamilyMovingArea:
        sealed = SealedNotice.model_validate_json(pending.sealed)
        header = NoticeHeader.model_validate_json(sealed.header)
        key = await self.records.peer_key(pending.peer_org, header.signing_key_id,
                                          header.created_at)  # fmt: skip
        opened_header, body = open_notice(sealed, self.keys.hpke_for(header.recipient_key_id),
                                          key)  # fmt: skip
        return move_from_transfer(opened_header, body, pending.peer_org)

    def _signed(self, move: FamilyMovingArea) -> SignedEvent:
        """The move as this broker vouches for it: it verified the peer's signature on the
        transfer, and the router accepts a peer's event signed by the broker's own key."""
        event_json = EventAdapter.dump_json(move)
        signature = crypto.sign_event_bytes(self.keys.signing, event_json)
        return SignedEvent(event_json=event_json.decode(), signature=crypto.b64encode(signature),
                           signing_key_id=self.signing_key_id)  # fmt: skip


class OrganisationLookup(Protocol):
    async def organisation(self, org_id: str) -> "OrgRecord | None": ...

    async def signing_key(self, org_id: str, key_id: str, at: datetime) -> Ed25519PublicKey: ...


async def producer_key(
    directory: OrganisationLookup, org_id: str, key_id: str, at: datetime,
    broker: BrokerPublicKeys,
) -> Ed25519PublicKey:  # fmt: skip
    """The key an event's signature is checked with (the router's ``_admitted``): a peer
    broker's move is signed by this broker, which verified the peer's own signature on the
    transfer it came in (``PeerIntake``); every other event by its producer's key."""
    ids = {broker.signing_key_id, *(crypto.key_id(r.key) for r in broker.retired_signing)}
    if key_id in ids:
        org = await directory.organisation(org_id)
        if org is not None and org.kind == OrgKind.PEER_BROKER:
            return broker.signing_key(key_id, at)
    return await directory.signing_key(org_id, key_id, at)


@dataclass(frozen=True)
class SealingPublisher:
    """Publishes signed events to the events topic sealed to this broker, as a producer's
    SDK would (``Acceptance``'s publisher in the router, which publishes through ``Publisher``)."""

    publisher: Publisher
    broker: BrokerPublicKeys
    pseudonym_secret: bytes
    topic: str

    async def publish_signed(self, events: Sequence[tuple[Event, SignedEvent]]) -> None:
        messages = []
        for event, signed in events:
            header = EventHeader(event_id=event.event_id, source_org=event.source_org,
                                 correlation_id=event.correlation_id,
                                 broker_key_id=self.broker.hpke_key_id)  # fmt: skip
            sealed = seal_event(signed, header, self.broker.hpke)
            key = person_key(self.pseudonym_secret, event.people()[0], event.source_org)
            messages.append(Message(self.topic, key, sealed.model_dump_json().encode()))
        await self.publisher.publish(messages)
