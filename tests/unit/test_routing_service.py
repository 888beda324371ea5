"""Routing (services/routing.py, sealing.py) on the fakes: a family on the FakeDirectory
routed to sealed notices, and a group whose event another router committed first."""

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from broker.adapters.directory import ContactRecord, FamilyContext, OrgRecord, SigningKeyRecord
from broker.adapters.kafka import Topics
from broker.errors import Unrecordable
from broker.keys import KeyStore
from broker.ports import NoticeRecordView, OutboxEntry
from broker.rules.family import ContactRole
from broker.services.outbox import Outbox
from broker.services.routing import Delivery, Routed, RoutingDeps, record_events
from producers import crypto, recipient_keys
from producers.envelopes import seal_event, sign_event
from schemas.events import Event
from schemas.transport import EventHeader
from tests.fakes import (
    FakeDataKeys,
    FakeDirectory,
    FakeNoticeRecords,
    FakePublisher,
    FakeUnitOfWork,
    organisations_of,
)
from tests.unit.builders import (
    AREA,
    MOTHER_NHS,
    ORG_KINDS,
    RECEIVED,
    child,
    crisis_payload,
    event,
    family,
    parent,
)

PRODUCER = Ed25519PrivateKey.generate()
_, RECIPIENT_KEY, _ = recipient_keys.new_hybrid()


def directory() -> FakeDirectory:
    """The demo's organisations, each with a contact in every role, the mental health trust
    with its signing key; the Carters: a mother (GP Riverside) and a school-age child."""
    orgs = [
        OrgRecord(org_id, org_id, kind.value, AREA, None, None)
        for org_id, kind in ORG_KINDS.items()
    ]
    contacts = [(role, ContactRecord(f"{org.id}:{role.value}", org.id, RECIPIENT_KEY,
                                     recipient_keys.key_id(RECIPIENT_KEY)))
                for org in orgs for role in ContactRole]  # fmt: skip
    public = PRODUCER.public_key()
    signing = [("mh-demo", crypto.key_id(public),
                SigningKeyRecord(crypto.encode_public(public), None, None))]  # fmt: skip
    carters = family(parent("mum", gp="gp-riverside"), child("elder", school="school-oakfield"))
    return FakeDirectory(organisations_of(orgs, contacts, signing),
                         {"mum": FamilyContext(carters, {})}, {MOTHER_NHS: "mum"})  # fmt: skip


@pytest.fixture
def keys(tmp_path: Path) -> KeyStore:
    return KeyStore.create(tmp_path / "keys")


@pytest.fixture
def uow() -> FakeUnitOfWork:
    unit = FakeUnitOfWork()
    unit.directory = directory()
    return unit


class RefusingNoticeRecords(FakeNoticeRecords):
    """The database's refusal of one event's notices (a value too long for its column)."""

    def __init__(self, refused_event: str) -> None:
        super().__init__()
        self.refused_event = refused_event

    async def add(self, records: Sequence[NoticeRecordView]) -> None:
        if any(r.event_id == self.refused_event for r in records):
            raise Unrecordable("the database refused a value as it stands")
        await super().add(records)


def deps_of(uow: FakeUnitOfWork, keys: KeyStore) -> RoutingDeps:
    return RoutingDeps(lambda: uow, keys, FakePublisher(), Topics.with_prefix("t."),
                       clock=lambda: RECEIVED, data_keys=FakeDataKeys())  # fmt: skip


def delivered(crisis: Event, keys: KeyStore, offset: int) -> Delivery:
    header = EventHeader(event_id=crisis.event_id, event_type=crisis.event_type,
                         source_org=crisis.source_org, received_at=RECEIVED,
                         broker_key_id=keys.public.hpke_key_id)  # fmt: skip
    sealed = seal_event(sign_event(crisis, PRODUCER), header, keys.public.hpke)
    return sealed, f"t.events/0/{offset}", RECEIVED


class TestRoutingOnFakes:
    async def test_a_known_family_is_routed_to_its_school_and_gp(
        self, uow: FakeUnitOfWork, keys: KeyStore
    ) -> None:
        """A parent's crisis reaches the school-age child's school and the parent's GP, each
        notice sealed, recorded and audited, in one committed unit of work."""
        crisis = event(crisis_payload())
        [routed] = await record_events([delivered(crisis, keys, 0)], deps_of(uow, keys))
        assert isinstance(routed, Routed)
        orgs = {notice.recipient_org for notice in routed.notices}
        assert {"school-oakfield", "gp-riverside"} <= orgs
        assert uow.commits == 1
        assert set(uow.routed_events.routed) == {str(crisis.event_id)}
        produced = [r.subject_ref for r, _ in uow.audit.committed if r.action == "notice_produced"]
        assert sorted(produced) == sorted(routed.notice_ids)
        assert len(routed.outbox) == len(routed.notices)

    async def test_the_family_is_held_before_its_history_is_read(
        self, uow: FakeUnitOfWork, keys: KeyStore
    ) -> None:
        """The group holds the family it decides for (its people and its household), so
        that another router's decision for the same family waits for this one."""
        crisis = event(crisis_payload())
        await record_events([delivered(crisis, keys, 0)], deps_of(uow, keys))
        [held] = uow.family_locks.held
        assert {"mum", "elder"} <= held.people
        assert held.households

    async def test_an_event_seen_before_from_its_record_produces_nothing(
        self, uow: FakeUnitOfWork, keys: KeyStore
    ) -> None:
        """A redelivery of the same Kafka record is routed once."""
        delivery = delivered(event(crisis_payload()), keys, 0)
        await record_events([delivery], deps_of(uow, keys))
        [again] = await record_events([delivery], deps_of(uow, keys))
        assert isinstance(again, Routed)
        assert again.notices == []

    async def test_a_group_another_router_committed_into_is_routed_one_by_one(
        self, uow: FakeUnitOfWork, keys: KeyStore
    ) -> None:
        """When another router commits one of the group's events between the group's reads
        and its writes, the group is undone and routed again event by event: the other
        router's event produces nothing here, the rest are routed."""
        first, second = event(crisis_payload()), event(crisis_payload())
        deliveries = [delivered(first, keys, 0), delivered(second, keys, 1)]
        uow.routed_events.elsewhere = {str(first.event_id): "t.events/0/0"}
        outcomes = await record_events(deliveries, deps_of(uow, keys))
        assert [isinstance(o, Routed) and bool(o.notices) for o in outcomes] == [False, True]
        assert uow.routed_events.routed == {
            str(first.event_id): "t.events/0/0", str(second.event_id): "t.events/0/1"}  # fmt: skip
        # Only the second event's notices are audited: nothing of the undone group stayed.
        produced = {r.details["event_id"] for r, _ in uow.audit.committed
                    if r.action == "notice_produced"}  # fmt: skip
        assert produced == {str(second.event_id)}

    async def test_notices_kafka_has_leave_the_outbox_with_the_group(
        self, uow: FakeUnitOfWork, keys: KeyStore
    ) -> None:
        """The notices the router published after its last group are taken out in this
        group's unit of work; when the group is undone and routed one by one, by one of
        their own: either way they are gone, and the new group's notices wait."""
        for elsewhere in (False, True):
            published = OutboxEntry(f"published-{elsewhere}", "school", RECEIVED, "{}")
            uow.outbox.committed = {published.notice_id: published}
            crisis = event(crisis_payload())
            if elsewhere:
                uow.routed_events.elsewhere = {str(crisis.event_id): "t.events/0/9"}
            deps = replace(deps_of(uow, keys), outbox=Outbox(lambda: uow, FakePublisher(),
                                                               "t.notices", b"k" * 32))  # fmt: skip
            await record_events([delivered(crisis, keys, 0)], deps,
                                taking_out=[published.notice_id])  # fmt: skip
            assert published.notice_id not in uow.outbox.committed
            assert bool(uow.outbox.committed) is not elsewhere  # this group's notices, if any

    async def test_an_event_the_database_refuses_is_not_routed_and_the_rest_are(
        self, uow: FakeUnitOfWork, keys: KeyStore
    ) -> None:
        """A value the database will never take fails that event alone, as an outcome the
        router dead-letters (kept for a replay), not an error that would retry the group
        forever and block its partition; the group's other events are routed."""
        first, second = event(crisis_payload()), event(crisis_payload())
        uow.notice_records = RefusingNoticeRecords(str(first.event_id))
        deliveries = [delivered(first, keys, 0), delivered(second, keys, 1)]
        refused, routed = await record_events(deliveries, deps_of(uow, keys))
        assert isinstance(refused, Unrecordable)
        assert isinstance(routed, Routed)
        assert routed.notices
        assert set(uow.routed_events.routed) == {str(second.event_id)}
