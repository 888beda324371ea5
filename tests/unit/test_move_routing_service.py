"""A move routed (services/routing.py, sealing.py) on the fakes: a code the table of
authorities does not hold reaches the originating front door as a task, owes the history
sent, and is listed on the data-quality report; a code the table holds is not."""

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from broker.adapters.data_quality import Gap
from broker.adapters.directory import ContactRecord, FamilyContext, OrgRecord, SigningKeyRecord
from broker.adapters.kafka import Topics
from broker.keys import KeyStore
from broker.rules.family import ContactRole
from broker.services.routing import Delivery, Routed, RoutingDeps, record_events
from producers import crypto, recipient_keys
from producers.envelopes import seal_event, sign_event
from schemas.events import Event
from schemas.transport import EventHeader
from tests.fakes import FakeDataKeys, FakeDirectory, FakePublisher, FakeUnitOfWork, organisations_of
from tests.unit.builders import (
    AREA,
    CHILD_NHS,
    FRONT_DOOR,
    MOTHER_NHS,
    ORG_KINDS,
    RECEIVED,
    child,
    event,
    family,
    move_payload,
    parent,
)

PRODUCER = Ed25519PrivateKey.generate()
_, RECIPIENT_KEY, _ = recipient_keys.new_hybrid()


def directory() -> FakeDirectory:
    """The demo's organisations, each with a contact in every role, the front door with its
    signing key (it reports the move); a mother and a school-age child in the demo area."""
    orgs = [OrgRecord(o, o, kind.value, AREA, None, None) for o, kind in ORG_KINDS.items()]
    contacts = [(role, ContactRecord(f"{org.id}:{role.value}", org.id, RECIPIENT_KEY,
                                     recipient_keys.key_id(RECIPIENT_KEY)))
                for org in orgs for role in ContactRole]  # fmt: skip
    public = PRODUCER.public_key()
    signing = [(FRONT_DOOR, crypto.key_id(public),
                SigningKeyRecord(crypto.encode_public(public), None, None))]  # fmt: skip
    carters = family(parent("mum"), child("elder", school="school-oakfield"))
    return FakeDirectory(organisations_of(orgs, contacts, signing),
                         {"mum": FamilyContext(carters, {})},
                         {MOTHER_NHS: "mum", CHILD_NHS: "elder"})  # fmt: skip


@pytest.fixture
def uow() -> FakeUnitOfWork:
    unit = FakeUnitOfWork()
    unit.directory = directory()
    return unit


async def route(moving: Event, uow: FakeUnitOfWork, keys: KeyStore) -> Routed:
    header = EventHeader(event_id=moving.event_id, event_type=moving.event_type,
                         source_org=moving.source_org, received_at=RECEIVED,
                         broker_key_id=keys.public.hpke_key_id)  # fmt: skip
    sealed = seal_event(sign_event(moving, PRODUCER), header, keys.public.hpke)
    delivery: Delivery = (sealed, "t.events/0/0", RECEIVED)
    deps = RoutingDeps(lambda: uow, keys, FakePublisher(), Topics.with_prefix("t."),
                       clock=lambda: RECEIVED, data_keys=FakeDataKeys())  # fmt: skip
    [done] = await record_events([delivery], deps)
    assert isinstance(done, Routed)
    return done


class TestAMoveToAnAuthorityNotReached:
    @pytest.fixture
    def keys(self, tmp_path: Path) -> KeyStore:
        return KeyStore.create(tmp_path / "keys")

    async def test_a_code_not_in_the_table_is_on_the_data_quality_report(
        self, uow: FakeUnitOfWork, keys: KeyStore
    ) -> None:
        """The task reaches the originating front door, owes the history sent, and the code
        is listed on the data-quality report of that front door, with the task's rule."""
        done = await route(event(move_payload(source_org=FRONT_DOOR,
                                              to_authority="E06000999")), uow, keys)  # fmt: skip
        [task] = [n for n in done.notices if n.recipient_org == FRONT_DOOR]
        assert task.notice_type.value == "transfer"
        owed = [s.step for s in uow.steps_owed.committed]
        assert owed == ["history_sent"]
        [(issue, _)] = uow.data_quality.committed
        assert (issue.gap, issue.org_id, issue.front_door, issue.rule_id) == (
            Gap.AUTHORITY_NOT_IN_TABLE,
            "E06000999",
            FRONT_DOOR,
            "move.send_history",
        )

    async def test_a_code_in_the_table_is_not_reported(
        self, uow: FakeUnitOfWork, keys: KeyStore
    ) -> None:
        """A move to Cumberland, which the table holds, owes the task but reports nothing."""
        await route(event(move_payload(source_org=FRONT_DOOR, to_authority="E06000063")), uow,
                    keys)  # fmt: skip
        assert [s.step for s in uow.steps_owed.committed] == ["history_sent"]
        assert uow.data_quality.committed == []
