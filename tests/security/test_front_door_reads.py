"""Attacks on what a front door may read and match, and on the audit of what the broker
receives (issue 12, items 3, 4, 14 and 22), each through the real apps, Kafka and database:
the refusal, its audit entry, and nothing changed."""

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select
from support import post_signed, token_request, wait_for_notices

from broker.adapters import audit, db
from broker.adapters.accepted_events import SqlAcceptanceRecords
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.bootstrap import Runtime
from broker.config import Settings
from broker.demo import family
from broker.errors import PublishFailed
from broker.rules.admission import Arrival
from broker.services import matching
from broker.services.retention import shred_household
from consumers.follow_up_timer import tick
from producers import crypto
from producers.envelopes import seal_event, sign_event
from producers.sdk import EventPublisher
from schemas.events import Event, EventAdapter
from schemas.transport import EventHeader, SealedEvent

pytestmark = pytest.mark.e2e

Keys = dict[str, Ed25519PrivateKey]
MOTHERS_GP = "gp-riverside:safeguarding_lead"
ELSEWHERE = "la-elsewhere"  # another authority's front door, in another area
ELSEWHERE_AREA = "E09000001"


def crisis(subject: dict[str, str], **fields: Any) -> dict[str, Any]:
    return {"event_type": "parent_mental_health_crisis", "event_id": str(uuid.uuid4()),
            "source_org": "mh-demo", "occurred_at": datetime.now(UTC).isoformat(),
            "subject": subject, **fields}  # fmt: skip


async def other_front_door(rt: Runtime, inbox: httpx.AsyncClient) -> dict[str, str]:
    """Onboards a front door of another area and answers its bearer header."""
    key = Ed25519PrivateKey.generate()
    public = key.public_key()
    async with rt.sessions.begin() as session:
        session.add(db.Organisation(id=ELSEWHERE, name="Elsewhere Front Door",
                                    kind="front_door", area=ELSEWHERE_AREA))  # fmt: skip
        await session.flush()
        session.add(db.OrgSigningKey(org_id=ELSEWHERE, key_id=crypto.key_id(public),
                                     public_key=crypto.encode_public(public)))  # fmt: skip
        # A directory change, so the processes read the organisations again.
        session.add(db.DirectoryChange(at=datetime.now(UTC), actor="test", entity="organisation",
                                       entity_id=ELSEWHERE, action="created",
                                       fields="id"))  # fmt: skip
    answer = await inbox.send(token_request(inbox.base_url.join("/v1/oauth/token"),
                                            ELSEWHERE, key))  # fmt: skip
    return {"authorization": f"Bearer {answer.json()['access_token']}"}


async def audited(rt: Runtime, action: str) -> list[audit.AuditEntry]:
    async with rt.sessions() as session:
        query = select(audit.AuditEntry).where(audit.AuditEntry.action == action)
        return list((await session.scalars(query.order_by(audit.AuditEntry.seq))).all())


async def count(rt: Runtime, table: type[db.Base]) -> int:
    async with rt.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


class TestChronologyReads:
    async def test_03_front_door_of_another_area_cannot_read_a_chronology(
        self,
        gateway: httpx.AsyncClient,
        inbox: httpx.AsyncClient,
        running_broker: Runtime,
        producer_keys: Keys,
    ) -> None:
        """Attack: a front door of another area asks for the Carters' chronology (risk
        signals included), and the Carters' own front door asks again after their data was
        shredded. The stranger gets 403 and the chronology is as it was; the shredded
        household 410; each refusal audited with the caller and the household id only."""
        rt = running_broker
        await post_signed(gateway, crisis({"nhs_number": family.MOTHER},
                                          suicidal_ideation=True), producer_keys)  # fmt: skip
        await wait_for_notices(inbox, MOTHERS_GP, 1)
        lines_before = await count(rt, db.ChronologyEntry)
        url = "/v1/households/h-carter/chronology"
        stranger = await other_front_door(rt, inbox)

        refused = await inbox.get(url, headers=stranger)
        assert refused.status_code == 403
        assert "suicidal" not in refused.text
        assert (await inbox.get(url)).status_code == 200  # the Carters' own front door
        assert await count(rt, db.ChronologyEntry) == lines_before
        async with SqlUnitOfWork(rt.sessions) as uow:
            await shred_household(uow, rt.data_keys, rt.keys.pseudonym_secret,
                                  "h-carter", "retention-test")  # fmt: skip
        gone = await inbox.get(url)
        assert gone.status_code == 410
        assert "suicidal" not in gone.text

        refusals = [(e.actor, e.subject_ref, json.loads(e.details))
                    for e in await audited(rt, "access_refused")]  # fmt: skip
        assert [(actor, subject, details["status"]) for actor, subject, details in refusals] == [
            (ELSEWHERE, "h-carter", 403), ("la-front-door", "h-carter", 410)]  # fmt: skip
        reads = [(e.actor, e.subject_ref) for e in await audited(rt, "chronology_accessed")]
        assert reads == [("la-front-door", "h-carter")]
        assert await count(rt, db.ChronologyEntry) == 0  # the shredding took it

    async def test_03_a_household_reached_again_after_its_shredding_is_read_again(
        self,
        gateway: httpx.AsyncClient,
        inbox: httpx.AsyncClient,
        running_broker: Runtime,
        producer_keys: Keys,
    ) -> None:
        """Not a loss in its place: after the Carters' shredding a new crisis reaches them,
        and their front door reads the new chronology (200, the new event only), rather
        than a 410 for good that would hide what happened since."""
        rt = running_broker
        url = "/v1/households/h-carter/chronology"
        await post_signed(gateway, crisis({"nhs_number": family.MOTHER}), producer_keys)
        await wait_for_notices(inbox, MOTHERS_GP, 1)
        async with SqlUnitOfWork(rt.sessions) as uow:
            await shred_household(uow, rt.data_keys, rt.keys.pseudonym_secret,
                                  "h-carter", "retention-test")  # fmt: skip
        assert (await inbox.get(url)).status_code == 410
        again = crisis({"nhs_number": family.MOTHER})
        await post_signed(gateway, again, producer_keys)
        await wait_for_notices(inbox, MOTHERS_GP, 2)

        answer = await inbox.get(url)
        assert answer.status_code == 200
        assert {line["event_id"] for line in answer.json()} == {again["event_id"]}


QUEUE = "/v1/front-doors/la-front-door/matching-queue"


async def queued(inbox: httpx.AsyncClient, event_id: str) -> dict[str, Any]:
    """The event's entry in the Carters' front door's matching queue, once it is there."""
    async with asyncio.timeout(60):
        while True:
            for entry in (await inbox.get(QUEUE)).json():
                if entry["event_id"] == event_id:
                    return dict(entry)
            await asyncio.sleep(0.2)


async def someone_elsewhere(rt: Runtime) -> str:
    """A person in a household of another area; answers their id."""
    async with rt.sessions.begin() as session:
        session.add(db.Person(id="p-elsewhere"))
        session.add(db.Household(id="h-elsewhere", area=ELSEWHERE_AREA))
        await session.flush()
        session.add(db.HouseholdMember(household_id="h-elsewhere", person_id="p-elsewhere",
                                       role="parent"))  # fmt: skip
    return "p-elsewhere"


async def matches_audited(rt: Runtime) -> list[audit.AuditEntry]:
    return [e for e in await audited(rt, "directory_changed")
            if json.loads(e.details).get("action") == "matched"]  # fmt: skip


class TestMatching:
    async def test_14_front_door_cannot_match_to_a_person_of_another_area(
        self,
        gateway: httpx.AsyncClient,
        inbox: httpx.AsyncClient,
        running_broker: Runtime,
        producer_keys: Keys,
    ) -> None:
        """Attack: the front door matches a queued event to a person who lives in another
        authority's area, naming someone else as the matcher. Refused with 403 and audited
        against the front door; no alias, no directory change, the event still waiting. A
        match in its own area is recorded against the front door whose token asked, and the
        audit names the kinds of identifier learnt, not their values."""
        rt = running_broker
        unknown = crisis({"local_id": "MH-77", "given_name": "Jessica", "family_name": "Carter"})
        await post_signed(gateway, unknown, producer_keys)
        await queued(inbox, unknown["event_id"])
        stranger = await someone_elsewhere(rt)
        changes_before = await count(rt, db.DirectoryChange)
        url = f"{QUEUE}/{unknown['event_id']}/match"

        refused = await inbox.post(url, json={"links": [{"position": 0, "person_id": stranger}],
                                              "matched_by": "duty-sw-1"})  # fmt: skip
        assert refused.status_code == 403
        [refusal] = await audited(rt, "access_refused")
        assert (refusal.actor, refusal.subject_ref) == ("la-front-door", unknown["event_id"])
        assert json.loads(refusal.details)["status"] == 403
        async with rt.sessions() as session:
            assert await session.get(db.PersonAlias, ("mh-demo", "MH-77")) is None
            assert (await session.get(db.MatchingQueueEntry, unknown["event_id"])).status == (
                "waiting")  # fmt: skip
        assert await count(rt, db.DirectoryChange) == changes_before
        assert await matches_audited(rt) == []

        own = await inbox.post(url, json={"links": [{"position": 0, "person_id": "p-mother"}],
                                          "matched_by": "somebody else"})  # fmt: skip
        assert own.status_code == 200
        [change] = await matches_audited(rt)
        assert (change.actor, change.subject_ref) == ("la-front-door", "p-mother")
        assert json.loads(change.details)["fields"] == "alias"
        assert "MH-77" not in change.details
        async with rt.sessions() as session:
            matched = select(db.DirectoryChange).where(db.DirectoryChange.action == "matched")
            [recorded] = (await session.scalars(matched)).all()
        assert recorded.actor == "la-front-door"


def aged_unknown_crisis(rt: Runtime, keys: Keys, days: int) -> tuple[SealedEvent, Arrival, Event]:
    """A crisis about someone nobody knows, received ``days`` ago, sealed as it lay then."""
    received = datetime.now(UTC) - timedelta(days=days)
    event = EventAdapter.validate_python(crisis(
        {"local_id": "MH-88", "given_name": "Jessica", "family_name": "Carter"},
        occurred_at=(received - timedelta(hours=1)).isoformat(),
    ))  # fmt: skip
    header = EventHeader(event_id=event.event_id, source_org=event.source_org,
                         broker_key_id=rt.keys.public.hpke_key_id)  # fmt: skip
    sealed = seal_event(sign_event(event, keys["mh-demo"]), header, rt.keys.public.hpke)
    return sealed, Arrival.of(event, received), event


async def wait_for_audit(rt: Runtime, action: str, subject: str) -> audit.AuditEntry:
    async with asyncio.timeout(60):
        while True:
            for entry in await audited(rt, action):
                if entry.subject_ref == subject:
                    return entry
            await asyncio.sleep(0.2)


class TestLateMatch:
    async def test_04_match_after_a_week_is_routed(
        self,
        inbox: httpx.AsyncClient,
        running_broker: Runtime,
        producer_keys: Keys,
    ) -> None:
        """Attack (a loss): an event queued eight days ago is matched; before the fix the
        front door was told ``matched`` and the router dropped the event as too old. Now it
        is published again by the broker, routed with its own ``occurred_at`` (its
        producer's key checked at its first receipt), and marked matched only once routed."""
        rt = running_broker
        sealed, arrival, event = aged_unknown_crisis(rt, producer_keys, days=8)
        event_id = str(arrival.event_id)
        async with SqlUnitOfWork(rt.sessions) as uow:  # queued, as the router did eight days ago
            await matching.park(uow, sealed, arrival, event, "la-front-door", rt.data_keys)
        await queued(inbox, event_id)

        to_mother = {"links": [{"position": 0, "person_id": "p-mother"}]}
        answer = await inbox.post(f"{QUEUE}/{event_id}/match", json=to_mother)
        # Not "matched": recorded, for the router's timer to publish and route.
        assert answer.json()["status"] == "accepted"
        await tick(rt, datetime.now(UTC))  # a round of the router's timer publishes it again
        school = await wait_for_notices(inbox, "school-oakfield:key_adult", 1)
        assert [n["header"]["event_id"] for n in school] == [event_id]
        async with rt.sessions() as session:
            entry = await session.get(db.MatchingQueueEntry, event_id)
            lines = (await session.scalars(select(db.ChronologyEntry).where(
                db.ChronologyEntry.event_id == event_id, db.ChronologyEntry.kind == "event",
                db.ChronologyEntry.household_id == "h-carter"))).all()  # fmt: skip
        assert entry is not None
        assert entry.status == "matched"
        assert [line.at for line in lines] == [arrival.received_at - timedelta(hours=1)]
        assert (await inbox.get(QUEUE)).json() == []
        assert not [e for e in await audited(rt, "event_rejected") if e.subject_ref == event_id]


PERSONAL = ("MH-99", "Jessica", "Carter", family.MOTHER)


class TestReadsAndReceiptsAudited:
    async def test_22_queue_reads_and_sdk_events_leave_an_audit_entry(
        self,
        gateway: httpx.AsyncClient,
        inbox: httpx.AsyncClient,
        running_broker: Runtime,
        producer_keys: Keys,
        settings: Settings,
    ) -> None:
        """Attack (unaccountable access): an agency publishes straight to Kafka with the SDK,
        passing the gateway's audit, and a front door reads the names in its matching queue;
        another front door tries that queue too. The event's receipt is audited by the
        router, each queued event shown is an audited read, the stranger is refused (403,
        audited, nothing shown), and no audit record holds a name or an NHS number."""
        rt = running_broker
        direct = EventAdapter.validate_python(crisis({"nhs_number": family.MOTHER}))
        async with EventPublisher(settings.kafka_bootstrap_servers, rt.keys.public,
                                  producer_keys["mh-demo"],
                                  topic_prefix=settings.topic_prefix) as sdk:  # fmt: skip
            await sdk.publish(direct)
        unknown = crisis({"local_id": "MH-99", "given_name": "Jessica", "family_name": "Carter"})
        await post_signed(gateway, unknown, producer_keys)
        stranger = await other_front_door(rt, inbox)

        received = await wait_for_audit(rt, "event_received", str(direct.event_id))
        assert received.actor == "mh-demo"
        assert json.loads(received.details) == {
            "event_type": "parent_mental_health_crisis", "path": "kafka"}  # fmt: skip
        await queued(inbox, unknown["event_id"])
        refused = await inbox.get(QUEUE, headers=stranger)
        assert refused.status_code == 403
        assert "MH-99" not in refused.text

        reads = [(e.actor, e.subject_ref) for e in await audited(rt, "matching_queue_read")]
        assert ("la-front-door", unknown["event_id"]) in reads
        assert all(actor == "la-front-door" for actor, _ in reads)
        refusals = [json.loads(e.details)["status"] for e in await audited(rt, "access_refused")]
        assert refusals == [403]
        async with rt.sessions() as session:
            entries = (await session.scalars(select(audit.AuditEntry))).all()
        for entry in entries:
            assert not any(p in f"{entry.subject_ref} {entry.details}" for p in PERSONAL)


async def routed(rt: Runtime, event_id: str) -> db.RoutedEvent:
    async with asyncio.timeout(60):
        while True:
            async with rt.sessions() as session:
                if found := await session.get(db.RoutedEvent, event_id):
                    return found
            await asyncio.sleep(0.2)


class TestReceiptAuditedOnce:
    async def test_22_a_gateway_event_is_audited_once(
        self,
        gateway: httpx.AsyncClient,
        running_broker: Runtime,
        producer_keys: Keys,
        settings: Settings,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """Attack (a log that says more than happened): an event reaches the router before
        the gateway has recorded it, or the gateway's publish fails and the agency retries,
        or it retries an event already accepted; each would make a second "received" entry
        for one event, and the log could not tell one receipt from two. Each event has
        exactly one ``event_received`` entry whatever the path and the order (the gateway's
        before it publishes, the SDK's by the router), the failed publish answers 503 and
        its retry 202, the repeat 200, and each event is routed once."""
        rt = running_broker
        failing = crisis({"nhs_number": family.MOTHER})
        calls = 0
        genuine = EventPublisher.publish_signed

        async def fails_once(publisher: EventPublisher, events: Any) -> None:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise PublishFailed("Kafka did not acknowledge the record")
            await genuine(publisher, events)

        async def after_the_router(records: Any, events: Any, *more: Any) -> None:
            # A slow gateway: the router has routed the event before it is recorded.
            await routed(rt, failing["event_id"])
            await remember(records, events, *more)

        remember = SqlAcceptanceRecords.remember
        monkeypatch.setattr(EventPublisher, "publish_signed", fails_once)
        monkeypatch.setattr(SqlAcceptanceRecords, "remember", after_the_router)
        assert (await post_signed(gateway, failing, producer_keys)).status_code == 503
        assert (await post_signed(gateway, failing, producer_keys)).status_code == 202
        assert (await post_signed(gateway, failing, producer_keys)).status_code == 200
        monkeypatch.undo()
        direct = EventAdapter.validate_python(crisis({"nhs_number": family.MOTHER}))
        async with EventPublisher(settings.kafka_bootstrap_servers, rt.keys.public,
                                  producer_keys["mh-demo"],
                                  topic_prefix=settings.topic_prefix) as sdk:  # fmt: skip
            await sdk.publish(direct)

        await routed(rt, failing["event_id"])
        await routed(rt, str(direct.event_id))
        receipts = [(e.subject_ref, e.actor, json.loads(e.details)["path"])
                    for e in await audited(rt, "event_received")]  # fmt: skip
        assert sorted(receipts) == sorted([
            (failing["event_id"], "mh-demo", "gateway"),
            (str(direct.event_id), "mh-demo", "kafka"),
        ])  # fmt: skip
        assert await audited(rt, "event_rejected") == []
        assert await count(rt, db.RoutedEvent) == 2
