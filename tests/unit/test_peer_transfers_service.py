"""Taking in and applying peer brokers' transfers (broker.services.peer_transfers) over
in-memory stores: every signature checked, a stale push refused, a transfer kept and applied
once, one that cannot be read as a move refused and never accepted."""

import json
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from broker.errors import EventNotPermitted, SignatureInvalid
from broker.services.peer_transfers import Conflict, NotATransfer, PeerIntake, Push, receive
from producers import crypto
from producers.envelopes import seal_notice
from producers.webhook_signatures import signature_headers
from schemas.notices import NoticeBody, NoticeHeader, NoticeType, PersonView, Severity
from tests.fakes import InMemoryPeerTransfers
from unit.test_acceptance import FakeRecords, acceptance

PEER = "peer-north"
A_SIGNING = Ed25519PrivateKey.generate()  # the peer's
B_HPKE = X25519PrivateKey.generate()  # this broker's
KEY_ID = crypto.key_id(A_SIGNING.public_key())


class BrokerKeys:
    signing = Ed25519PrivateKey.generate()

    def hpke_for(self, key_id: str) -> X25519PrivateKey:
        return B_HPKE


def transfer(notice_id: UUID | None = None, about: tuple[PersonView, ...] | None = None,
             notice_type: NoticeType = NoticeType.TRANSFER) -> bytes:  # fmt: skip
    now = datetime.now(UTC)
    header = NoticeHeader(notice_id=notice_id or uuid4(), event_id=uuid4(), household="h",
                          recipient_id="demo:duty_manager", recipient_org="demo",
                          notice_type=notice_type, severity=Severity.HIGH, created_at=now,
                          deadline=now, recipient_key_id=crypto.key_id(B_HPKE.public_key()),
                          signing_key_id=KEY_ID)  # fmt: skip
    people = about if about is not None else (PersonView(nhs_number="9990000018"),)
    facts = {"from_authority": "W06000015", "to_authority": "E08000001"}
    body = NoticeBody(summary="s", event_type="family_moving_area", occurred_at=now,
                      about=people, facts=facts)  # fmt: skip
    return seal_notice(header, body, B_HPKE.public_key(), A_SIGNING).model_dump_json().encode()


NOW = datetime.now(UTC)


def push(body: bytes, key: Ed25519PrivateKey = A_SIGNING, webhook_id: str | None = None,
         at: float | None = None) -> Push:  # fmt: skip
    notice_id = webhook_id or str(
        NoticeHeader.model_validate_json(json.loads(body)["header"]).notice_id
    )
    # Signed at the tests' NOW, not the clock's: the file may run minutes after it is imported.
    headers = signature_headers(key, KEY_ID, notice_id, int(at or NOW.timestamp()), body)
    return Push(notice_id, int(headers["webhook-timestamp"]), headers["webhook-signature"],
                KEY_ID, body)  # fmt: skip


def store() -> InMemoryPeerTransfers:
    return InMemoryPeerTransfers(peer_keys={(PEER, KEY_ID): A_SIGNING.public_key()},
                                 other_orgs={"mh-trust"})  # fmt: skip


class TestReceive:
    async def test_a_signed_transfer_is_kept(self) -> None:
        kept = store()
        answer = await receive(kept, PEER, push(transfer()), NOW)
        assert answer.status == "accepted"
        assert list(kept.kept) == [str(answer.transfer_id)]

    async def test_the_same_push_again_is_a_duplicate(self) -> None:
        """A retry: answered duplicate, kept once."""
        kept, body = store(), transfer()
        await receive(kept, PEER, push(body), NOW)
        assert (await receive(kept, PEER, push(body), NOW)).status == "duplicate"
        assert len(kept.kept) == 1

    async def test_another_transfer_under_a_used_id_conflicts(self) -> None:
        kept, notice_id = store(), uuid4()
        await receive(kept, PEER, push(transfer(notice_id)), NOW)
        with pytest.raises(Conflict):
            await receive(kept, PEER, push(transfer(notice_id)), NOW)

    async def test_a_push_signed_long_ago_is_refused(self) -> None:
        """A replayed request: its webhook-timestamp is over five minutes from now."""
        old = push(transfer(), at=NOW.timestamp() - 600)
        with pytest.raises(SignatureInvalid):
            await receive(store(), PEER, old, NOW)

    async def test_a_push_signed_by_another_key_is_refused(self) -> None:
        with pytest.raises(SignatureInvalid):
            await receive(store(), PEER, push(transfer(), Ed25519PrivateKey.generate()), NOW)

    async def test_an_organisation_of_another_kind_may_not_push(self) -> None:
        with pytest.raises(EventNotPermitted):
            await receive(store(), "mh-trust", push(transfer()), NOW)

    @pytest.mark.parametrize("case", ["webhook_id", "notice_type", "body"])
    async def test_what_is_not_a_transfer_addressed_here_is_refused(self, case: str) -> None:
        """The webhook id must be the transfer's; only a transfer; only a sealed notice."""
        given = {
            "webhook_id": push(transfer(), webhook_id=str(uuid4())),
            "notice_type": push(transfer(notice_type=NoticeType.GP_INFORMATION)),
            "body": push(b'{"not": "a notice"}', webhook_id=str(uuid4())),
        }[case]
        with pytest.raises(NotATransfer):
            await receive(store(), PEER, given, NOW)


class TestIntake:
    async def test_a_kept_transfer_is_accepted_once_as_the_peers_move(self) -> None:
        """Applied, then applied again: published once, under the transfer's id."""
        kept, records = store(), FakeRecords()
        accepting, published = acceptance(records)
        answer = await receive(kept, PEER, push(transfer()), NOW)
        intake = PeerIntake(kept, BrokerKeys(), accepting, "broker-key")
        [pending] = await kept.pending(10)
        assert await intake.apply_pending(NOW) == [str(answer.transfer_id)]
        await intake.apply(pending, NOW + timedelta(seconds=1))
        assert published.published == [answer.transfer_id]
        assert await kept.pending(10) == []

    async def test_a_transfer_naming_nobody_is_refused_never_accepted(self) -> None:
        """Audited as refused; nothing published; not pending any more."""
        kept, records = store(), FakeRecords()
        accepting, published = acceptance(records)
        answer = await receive(kept, PEER, push(transfer(about=(PersonView(given_name="A"),))),
                               NOW)  # fmt: skip
        await PeerIntake(kept, BrokerKeys(), accepting, "broker-key").apply_pending(NOW)
        assert published.published == []
        assert ("peer_transfer_refused", str(answer.transfer_id)) in kept.audited
