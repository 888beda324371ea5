"""Crypto-shredding under attack (issue 12, items 5, 7 and 21), through the gateway, the inbox
API, the real router and delivery worker on Kafka, and the real database.

Shredding a household deletes its data key and keeps a tombstone of it. What the key sealed
answers 410 for good, even after a later event about the household has made it a new key; a
push or replay of such a notice is a dead letter, never a crashed worker; a refused fetch is
audited and is no delivery."""

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Network
from typing import Any

import httpx
import pytest
import uvicorn
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI, Response
from pydantic import ValidationError
from sqlalchemy import select
from support import post_signed, recorded_rules, wait_for_notices
from typer.testing import CliRunner, Result

from broker.adapters import audit, db
from broker.adapters.dead_letter_topic import DeadLetter, read_all, sealed_context
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.bootstrap import Runtime
from broker.config import Settings, WebhookSettings
from broker.demo import family
from broker.entrypoints.cli import app as cli
from broker.errors import DataKeyShredded
from broker.services.dead_letters import Replayed, replay
from broker.services.directory_admin import put_contact, put_household
from broker.services.retention import shred_household
from consumers.follow_up_timer import tick
from producers.sdk import EventPublisher
from schemas.directory import ContactSpec, HouseholdMemberSpec, HouseholdSpec
from schemas.events import EventAdapter
from schemas.transport import SealedEvent

pytestmark = pytest.mark.e2e
GP = "gp-riverside:safeguarding_lead"
FRONT_DOOR = "la-front-door:duty_manager"


def crisis() -> dict[str, Any]:
    return {"event_type": "parent_mental_health_crisis", "event_id": str(uuid.uuid4()),
            "source_org": "mh-demo", "occurred_at": datetime.now(UTC).isoformat(),
            "subject": {"nhs_number": family.MOTHER}, "suicidal_ideation": True}  # fmt: skip


LOOPBACK = IPv4Network("127.0.0.0/8")  # the test's endpoint is served on loopback


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Quick webhook polling, so a push and its replay settle within the test; the endpoint's
    loopback allowed (it never is in production)."""
    webhooks = WebhookSettings(timeout_seconds=2, max_attempts=3, backoff_base_seconds=0.02,
                               backoff_cap_seconds=0.1, poll_seconds=0.05,
                               allowed_networks=[LOOPBACK])  # fmt: skip
    return settings.model_copy(update={"webhooks": webhooks})


@pytest.fixture
async def refusing_endpoint() -> AsyncIterator[str]:
    """A recipient's webhook that answers 404 to everything: each push is dead-lettered."""
    app = FastAPI()

    @app.post("/hook")
    async def hook() -> Response:
        return Response(status_code=404)

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False,
                                           lifespan="off", ws="none"))  # fmt: skip
    task = asyncio.create_task(server.serve(sockets=[sock]))
    async with asyncio.timeout(10):
        while not server.started:
            await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    server.should_exit = True
    await task
    sock.close()


async def shred_carters(rt: Runtime) -> None:
    async with SqlUnitOfWork(rt.sessions) as uow:
        await shred_household(uow, rt.data_keys, rt.keys.pseudonym_secret, "h-carter",
                              "security-test")  # fmt: skip


async def audit_entries(rt: Runtime, action: str, subject: str | None = None) -> list[Any]:
    query = select(audit.AuditEntry).where(audit.AuditEntry.action == action)
    if subject is not None:
        query = query.where(audit.AuditEntry.subject_ref == subject)
    async with rt.sessions() as session:
        return list((await session.scalars(query)).all())


async def until(check: Any, timeout: float = 60) -> Any:
    async with asyncio.timeout(timeout):
        while not (found := await check()):
            await asyncio.sleep(0.1)
        return found


class TestShreddedHouseholdStaysGone:
    async def test_05_a_later_event_and_a_replayed_webhook_cannot_revive_or_crash(
        self,
        gateway: httpx.AsyncClient,
        inbox: httpx.AsyncClient,
        running_broker: Runtime,
        producer_keys: dict[str, Ed25519PrivateKey],
        refusing_endpoint: str,
    ) -> None:
        """Attack: after the Carters are shredded, a new crisis of the mother makes their
        household a key again, and an operator replays the dead-lettered webhook of an old
        notice. The old notice answers 410 (not 500), its fetch is audited as gone, the replay
        is dead-lettered as shredded, and the delivery worker lives on to deliver the next."""
        rt = running_broker
        await give_webhook(rt, GP, refusing_endpoint)
        await post_signed(gateway, crisis(), producer_keys)
        [old] = await wait_for_notices(inbox, GP, 1)
        await until(lambda: delivery_state(rt, old["notice_id"], "dead", last=404))
        await shred_carters(rt)

        await post_signed(gateway, crisis(), producer_keys)  # the household's next event
        listed = await wait_for_notices(inbox, GP, 2)
        [new] = [n for n in listed if n["notice_id"] != old["notice_id"]]
        assert (
            await inbox.get(f"/v1/recipients/{GP}/notices/{old['notice_id']}")
        ).status_code == 410
        assert (
            await inbox.get(f"/v1/recipients/{GP}/notices/{new['notice_id']}")
        ).status_code == 200
        [gone] = await audit_entries(rt, "notice_gone", old["notice_id"])
        assert '"household_shredded"' in gone.details

        now = datetime.now(UTC)
        replayed = await replay([webhook_letter(old["notice_id"])], rt.publisher,
                                lambda: SqlUnitOfWork(rt.sessions), now)  # fmt: skip
        assert replayed == [Replayed.REQUEUED]
        await until(lambda: delivery_state(rt, old["notice_id"], "dead", last=None,
                                           last_error="household_shredded"))  # fmt: skip
        await post_signed(gateway, crisis(), producer_keys)  # the worker still delivers
        assert len(await wait_for_notices(inbox, GP, 3)) == 3


class TestShreddedNoticeFetch:
    async def test_21_a_refused_fetch_is_no_delivery(
        self,
        gateway: httpx.AsyncClient,
        inbox: httpx.AsyncClient,
        running_broker: Runtime,
        producer_keys: dict[str, Ed25519PrivateKey],
    ) -> None:
        """Attack: fetching a shredded notice to have it recorded as delivered (a deadline
        met on paper). The fetch answers 410, is audited as gone and not as read, and the
        notice's record keeps no delivery."""
        rt = running_broker
        await post_signed(gateway, crisis(), producer_keys)
        [listed] = await wait_for_notices(inbox, GP, 1)
        notice_id = listed["notice_id"]
        await shred_carters(rt)

        answer = await inbox.get(f"/v1/recipients/{GP}/notices/{notice_id}")
        assert answer.status_code == 410
        assert "sealed" not in answer.json()
        assert len(await audit_entries(rt, "notice_gone", notice_id)) == 1
        assert await audit_entries(rt, "notice_read", notice_id) == []
        async with rt.sessions() as session:
            record = await session.get(db.NoticeRecord, notice_id)
        assert record is not None
        assert (record.delivered_at, record.delivered_via) == (None, None)


async def give_webhook(rt: Runtime, contact_id: str, url: str) -> None:
    async with rt.sessions.begin() as session:
        contact = await session.get(db.Contact, contact_id)
        assert contact is not None
        spec = ContactSpec(id=contact.id, org_id=contact.org_id, role=contact.role,
                           hpke_public_key=contact.hpke_public_key, webhook_url=url)  # fmt: skip
        await put_contact(
            SqlUnitOfWork.joined(session), spec, "security-test", webhook_networks=[LOOPBACK]
        )


async def delivery_state(rt: Runtime, notice_id: str, state: str, **expected: Any) -> bool:
    """Whether the notice's push is in this state (with these attempts and last status)."""
    async with rt.sessions() as session:
        row = await session.scalar(
            select(db.WebhookDelivery).where(db.WebhookDelivery.notice_id == notice_id)
        )
    if row is None or row.state != state:
        return False
    return all(getattr(row, {"last": "last_status"}.get(k, k)) == v for k, v in expected.items())


def webhook_letter(notice_id: str) -> DeadLetter:
    """The letter the dispatcher wrote for the notice's refused push, as an operator's replay
    reads it (the dead-letter CLI reads the same letter from the topic)."""
    reason = {"reason": "webhook_rejected", "channel": "webhook", "notice_id": notice_id}
    return DeadLetter(0, 0, None, b"", reason, None, None)


def ed_attendance(nhs_number: str) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    return {"event_type": "ed_attendance", "event_id": str(uuid.uuid4()),
            "source_org": "acute-demo", "occurred_at": now, "arrived_at": now,
            "subject": {"nhs_number": nhs_number}, "presenting_category": "injury"}  # fmt: skip


def crisis_of_someone_unknown() -> dict[str, Any]:
    """The mother, known to the mental health service only by its own record number."""
    return crisis() | {"subject": {"local_id": "mh-record-4471"}}


class TestShreddingLeavesNothingInClear:
    async def test_07_chronology_patterns_and_matched_queue_entries_go_with_the_key(
        self,
        gateway: httpx.AsyncClient,
        inbox: httpx.AsyncClient,
        running_broker: Runtime,
        producer_keys: dict[str, Ed25519PrivateKey],
    ) -> None:
        """Attack: after the Carters are shredded, an operator (or a database backup) reads
        what was kept in clear: the household's chronology, a twin's ED attendance in the
        pattern records, and the event the front door matched to the mother, still sealed only
        to the broker in the matching queue; or reads the front door's notice of that event
        from before the match, when the mother was unknown. All of it is deleted in the
        shredding's transaction or answers 410, the audit entry counts what went, and the
        router still routes."""
        rt, door = running_broker, "/v1/front-doors/la-front-door/matching-queue"
        await post_signed(gateway, ed_attendance(family.TWIN_2), producer_keys)
        unknown = crisis_of_someone_unknown()
        await post_signed(gateway, unknown, producer_keys)
        await until(lambda: queued(inbox, door, unknown["event_id"]))
        held = await until(lambda: unmatched_notice(inbox, rt, unknown["event_id"]))
        matched = await inbox.post(f"{door}/{unknown['event_id']}/match",
                                   json={"links": [{"position": 0, "person_id": "p-mother"}],
                                         "matched_by": "duty social worker"})  # fmt: skip
        assert matched.status_code == 200
        await tick(rt, datetime.now(UTC))  # the router's timer publishes the matched event
        await until(lambda: chronology_has(rt, unknown["event_id"]))
        assert await kept_in_clear(rt) == (True, True, True)

        await shred_carters(rt)

        assert await kept_in_clear(rt) == (False, False, False)
        [entry] = await audit_entries(rt, "household_shredded")
        details = json.loads(entry.details)
        assert details["had_a_key"] is True
        assert details["queued_events"] == 1
        assert details["pattern_records"] >= 1
        assert details["chronology_lines"] >= 2
        assert details["unmatched_keys"] == 1  # the mother's record number's key
        held_url = f"/v1/recipients/{FRONT_DOOR}/notices/{held['notice_id']}"
        assert (await inbox.get(held_url)).status_code == 410
        await post_signed(gateway, ed_attendance(family.TWIN_2), producer_keys)
        await until(lambda: chronology_has(rt, None))  # a new chronology starts


async def unmatched_notice(inbox: httpx.AsyncClient, rt: Runtime, event_id: str) -> Any:
    """The front door's notice of an event about someone unknown, once it has arrived (its
    rule as the broker recorded it: no header names it)."""
    listed = (await inbox.get(f"/v1/recipients/{FRONT_DOOR}/notices")).json()
    of_event = [n for n in listed if n["header"]["event_id"] == event_id]
    rules = await recorded_rules(rt.sessions, of_event)
    return next((n for n, rule in zip(of_event, rules, strict=True) if "unmatched" in rule), None)


async def queued(inbox: httpx.AsyncClient, door: str, event_id: str) -> bool:
    return any(e["event_id"] == event_id for e in (await inbox.get(door)).json())


async def chronology_has(rt: Runtime, event_id: str | None) -> bool:
    """Whether the Carters' chronology holds this event (any event, for None)."""
    query = select(db.ChronologyEntry).where(db.ChronologyEntry.household_id == "h-carter")
    if event_id is not None:
        query = query.where(db.ChronologyEntry.event_id == event_id)
    async with rt.sessions() as session:
        return (await session.scalar(query.limit(1))) is not None


async def kept_in_clear(rt: Runtime) -> tuple[bool, bool, bool]:
    """Whether the Carters' chronology, the twin's pattern records and the queue's copy of
    the matched event are in the database."""
    async with rt.sessions() as session:
        patterns = await session.scalar(
            select(db.PatternRecord).where(db.PatternRecord.person_id == "p-twin-2").limit(1)
        )
        entries = (await session.scalars(select(db.MatchingQueueEntry))).all()
    return await chronology_has(rt, None), patterns is not None, bool(entries)


SCHOOL, FATHERS_GP = "school-oakfield:key_adult", "gp-hillview:safeguarding_lead"


async def father_moves_out(rt: Runtime) -> None:
    """The father now lives in a flat of his own; the mother and the children stay."""
    mother_and_children = tuple(
        HouseholdMemberSpec(person_id=p, role="parent_or_carer" if p == "p-mother" else "child")
        for p in ("p-mother", "p-child-b", "p-twin-1", "p-twin-2")
    )
    flat = (HouseholdMemberSpec(person_id="p-father", role="parent_or_carer"),)
    homes = [HouseholdSpec(id="h-carter", area=family.AREA, members=mother_and_children),
             HouseholdSpec(id="h-father-flat", area=family.AREA, members=flat)]  # fmt: skip
    async with rt.sessions.begin() as session:
        for home in homes:
            await put_household(SqlUnitOfWork.joined(session), home, "test")


class TestAChildsNoticeFromAnotherHousehold:
    async def test_07_a_childs_notice_goes_with_the_childs_household(
        self,
        gateway: httpx.AsyncClient,
        inbox: httpx.AsyncClient,
        running_broker: Runtime,
        producer_keys: dict[str, Ed25519PrivateKey],
    ) -> None:
        """Attack: the father, living apart, is in crisis; his son's school is told. Once the
        son's household (the Carters) is shredded, the school's notice about the son must be
        gone too, though the event came from the father's household: 410, audited as gone.
        The father's own GP's notice, about him alone, is untouched."""
        rt = running_broker
        await father_moves_out(rt)
        fathers_crisis = crisis() | {"subject": {"nhs_number": family.FATHER}}
        await post_signed(gateway, fathers_crisis, producer_keys)
        [school] = await wait_for_notices(inbox, SCHOOL, 1)
        [gp] = await wait_for_notices(inbox, FATHERS_GP, 1)
        assert (await inbox.get(f"/v1/recipients/{SCHOOL}/notices/{school['notice_id']}")
                ).status_code == 200  # fmt: skip

        await shred_carters(rt)

        answer = await inbox.get(f"/v1/recipients/{SCHOOL}/notices/{school['notice_id']}")
        assert answer.status_code == 410
        assert len(await audit_entries(rt, "notice_gone", school["notice_id"])) == 1
        fathers = await inbox.get(f"/v1/recipients/{FATHERS_GP}/notices/{gp['notice_id']}")
        assert fathers.status_code == 200


async def routed_to_the_end(rt: Runtime) -> bool:
    """Whether the router's group has committed past every record on the events topic."""
    admin = AIOKafkaAdminClient(bootstrap_servers=rt.settings.kafka_bootstrap_servers)
    reader = AIOKafkaConsumer(bootstrap_servers=rt.settings.kafka_bootstrap_servers)
    await admin.start()
    await reader.start()
    try:
        committed = await admin.list_consumer_group_offsets(rt.settings.router_group)
        partitions = [TopicPartition(rt.topics.events, p)
                      for p in range(rt.settings.topics.partitions)]  # fmt: skip
        ends = await reader.end_offsets(partitions)
    finally:
        await reader.stop()
        await admin.close()
    done = {tp: meta.offset for tp, meta in committed.items()}
    return bool(ends) and all(done.get(tp, 0) >= end for tp, end in ends.items())


async def events_on_the_topic(rt: Runtime) -> list[bytes]:
    """Every record on the events topic, read from each partition's first offset to its end:
    an emptied topic answers at once (one fetch with a timeout waited it out, 3 s), and a
    full one is read to its end, not to what the first fetch brought."""
    partitions = [TopicPartition(rt.topics.events, p) for p in range(rt.settings.topics.partitions)]
    # Reset to the earliest offset: assigned, the consumer's own reset ("latest") could race
    # the seek below and read nothing.
    reader = AIOKafkaConsumer(bootstrap_servers=rt.settings.kafka_bootstrap_servers,
                              auto_offset_reset="earliest", enable_auto_commit=False,
                              group_id=None)  # fmt: skip
    await reader.start()
    try:
        reader.assign(partitions)
        ends = await reader.end_offsets(partitions)
        await reader.seek_to_beginning(*partitions)
        values: list[bytes] = []
        async with asyncio.timeout(30):
            for tp in partitions:
                while await reader.position(tp) < ends[tp]:
                    batch = await reader.getmany(tp, timeout_ms=1000)
                    values += [r.value or b"" for r in batch.get(tp, [])]
    finally:
        await reader.stop()
    return values


async def sgb_shred(settings: Settings, household_id: str) -> Result:
    """``sgb shred-household`` as an operator runs it, in a thread (it runs its own loop)."""
    env = {"SGB_DATABASE_URL": settings.database_url, "SGB_KEYS_DIR": str(settings.keys_dir),
           "SGB_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
           "SGB_TOPIC_PREFIX": settings.topic_prefix,
           "SGB_ROUTER_GROUP": settings.router_group}  # fmt: skip
    return await asyncio.to_thread(CliRunner().invoke, cli, ["shred-household", household_id],
                                   env=env)  # fmt: skip


class TestShreddingReachesKafka:
    async def test_07_a_shred_leaves_no_readable_household_record_in_kafka(
        self,
        gateway: httpx.AsyncClient,
        running_broker: Runtime,
        producer_keys: dict[str, Ed25519PrivateKey],
        settings: Settings,
    ) -> None:
        """Attack: after the Carters are shredded, someone holding the broker's key (or a copy
        of Kafka's disks) reads the mother's events on the events topic (kept 7 days) and a
        refused event about her on the dead-letter topic (kept 30 days). ``sgb
        shred-household`` cuts every event the router has routed from the events topic; the
        letter was sealed under the data key of the mother's NHS number, which the shredding
        deletes: it no longer opens, and replaying it is refused (shredded), where before the
        shredding it opened to the event as received."""
        rt = running_broker
        await post_signed(gateway, crisis(), producer_keys)
        replayed = EventAdapter.validate_python(crisis())
        async with EventPublisher(settings.kafka_bootstrap_servers, rt.keys.public,
                                  producer_keys["mh-demo"],
                                  topic_prefix=settings.topic_prefix) as sdk:  # fmt: skip
            await sdk.publish(replayed)
            await sdk.publish(replayed)  # the same event as a new record: refused
        [letter] = await until(lambda: read_all(settings.kafka_bootstrap_servers,
                                                rt.topics.dead_letters))  # fmt: skip
        assert letter.reason_name == "ReplayedEvent"
        assert letter.source is not None
        assert letter.sealed_under is not None
        opened = rt.data_keys.unwrap(letter.sealed_under, letter.value,
                                     sealed_context(letter.source))  # fmt: skip
        assert SealedEvent.model_validate_json(opened)  # the event, as it lay on the topic
        with pytest.raises(ValidationError):  # sealed again: no event to be read
            SealedEvent.model_validate_json(letter.value)
        await until(lambda: routed_to_the_end(rt))
        assert len(await events_on_the_topic(rt)) == 3

        shredded = await sgb_shred(settings, "h-carter")
        assert shredded.exit_code == 0, shredded.output
        assert "routed events cut from the events topic" in shredded.output
        assert await events_on_the_topic(rt) == []
        with pytest.raises(DataKeyShredded):
            rt.data_keys.unwrap(letter.sealed_under, letter.value, sealed_context(letter.source))
        now = datetime.now(UTC)
        assert await replay([letter], rt.publisher, lambda: SqlUnitOfWork(rt.sessions), now,
                            rt.data_keys) == [
            Replayed.SHREDDED]  # fmt: skip
        [entry] = await audit_entries(rt, "household_shredded")
        assert entry.actor == "cli"
        assert json.loads(entry.details)["unmatched_keys"] >= 1


async def age_notices(rt: Runtime, event_id: str, days: int) -> str:
    """Time passing: the event's notices were made ``days`` ago. Answers their key's name."""
    async with rt.sessions.begin() as session:
        records = (await session.scalars(
            select(db.NoticeRecord).where(db.NoticeRecord.event_id == event_id)
        )).all()  # fmt: skip
        for record in records:
            record.created_at -= timedelta(days=days)
    [name] = {record.household for record in records}
    return name


async def sgb_sweep(settings: Settings) -> Result:
    env = {"SGB_DATABASE_URL": settings.database_url, "SGB_KEYS_DIR": str(settings.keys_dir)}
    return await asyncio.to_thread(CliRunner().invoke, cli, ["sweep-unknown-people"], env=env)


class TestUnknownPeoplesKeys:
    async def test_07_unknown_peoples_keys_are_swept_after_retention(
        self,
        gateway: httpx.AsyncClient,
        inbox: httpx.AsyncClient,
        running_broker: Runtime,
        producer_keys: dict[str, Ed25519PrivateKey],
        settings: Settings,
    ) -> None:
        """Attack: read, years later, what the broker kept about someone the directory never
        came to know (the front door's notice of a crisis of a person known only by a record
        number): with no household to shred, its key would be kept for ever. ``sgb
        sweep-unknown-people`` shreds each such key whose last notice is older than the
        retention period (90 days): the old notice answers 410, the sweep is audited once
        per key (its pseudonym, never the identifier), a second sweep finds nothing more,
        and someone unknown but recently notified keeps theirs."""
        rt = running_broker
        old, recent = crisis_of_someone_unknown(), crisis() | {"subject": {"local_id": "mh-5"}}
        for event in (old, recent):
            assert (await post_signed(gateway, event, producer_keys)).status_code == 202
        stale = await until(lambda: unmatched_notice(inbox, rt, old["event_id"]))
        fresh = await until(lambda: unmatched_notice(inbox, rt, recent["event_id"]))
        name = await age_notices(rt, old["event_id"], days=91)

        swept = await sgb_sweep(settings)
        assert swept.exit_code == 0, swept.output
        assert "1 unknown people's data keys shredded" in swept.output
        gone = await inbox.get(f"/v1/recipients/{FRONT_DOOR}/notices/{stale['notice_id']}")
        kept = await inbox.get(f"/v1/recipients/{FRONT_DOOR}/notices/{fresh['notice_id']}")
        assert (gone.status_code, kept.status_code) == (410, 200)
        [entry] = await audit_entries(rt, "unknown_person_key_swept")
        assert (entry.actor, entry.subject_ref) == ("retention-sweep", name)
        assert json.loads(entry.details)["retention_days"] == 90
        assert "mh-record-4471" not in f"{entry.subject_ref} {entry.details}"

        again = await sgb_sweep(settings)
        assert "0 unknown people's data keys shredded" in again.output
        assert len(await audit_entries(rt, "unknown_person_key_swept")) == 1
