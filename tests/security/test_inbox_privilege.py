"""Attacks on what the inbox process holds and on what the matching queue keeps (issue 12,
items 16 and 7), through the real apps, Kafka, database and the router's timer: each asserts
the refusal, its audit record, and that nothing else changed."""

import asyncio
import json
import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from support import OrgTokens, inbox_owner, post_signed, wait_for_notices

from broker.adapters import audit, db
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.bootstrap import Runtime
from broker.config import Settings
from broker.entrypoints.inbox_api import create_inbox_api
from broker.errors import DataKeyShredded, KeyFileError, KeyNotHeld
from broker.keys import (
    AUDIT_KEY_FILE,
    HPKE_FILE,
    PROCESS_KEYS,
    PSEUDONYM_FILE,
    PUBLIC_FILE,
    SIGNING_FILE,
    TOKEN_FILE,
    KeyStore,
    Purpose,
)
from broker.rules.admission import Arrival
from broker.services import matching
from consumers.follow_up_timer import run_follow_up_timer, tick
from producers import crypto
from producers.envelopes import seal_event, sign_event
from schemas.events import EventAdapter
from schemas.notices import FollowUp
from schemas.transport import EventHeader

pytestmark = pytest.mark.e2e

Keys = dict[str, Ed25519PrivateKey]
QUEUE = "/v1/front-doors/la-front-door/matching-queue"
KEY_ADULT, DUTY_MANAGER = "school-oakfield:key_adult", "la-front-door:duty_manager"
# The files the inbox process is given: the public keys, its own two purposes' keys and the
# audit chain's key. The households' data keys are the shared data-key store (a volume).
INBOX_FILES = (PUBLIC_FILE, TOKEN_FILE, PSEUDONYM_FILE, AUDIT_KEY_FILE)


def crisis(subject: dict[str, str], **fields: Any) -> dict[str, Any]:
    return {"event_type": "parent_mental_health_crisis", "event_id": str(uuid.uuid4()),
            "source_org": "mh-demo", "occurred_at": datetime.now(UTC).isoformat(),
            "subject": subject, **fields}  # fmt: skip


def unknown_person(local_id: str) -> dict[str, str]:
    return {"local_id": local_id, "given_name": "Jessica", "family_name": "Carter"}


@pytest.fixture
def inbox_keys(settings: Settings, running_broker: Runtime, tmp_path: Path) -> Path:
    """A keys folder as a deployment gives the inbox process: its own keys only (copied
    from the one ``sgb keys-init`` made), the data-key store shared with the router."""
    folder = tmp_path / "inbox-keys"
    folder.mkdir(mode=0o700)
    for name in INBOX_FILES:
        shutil.copy2(settings.keys_dir / name, folder / name)
    (folder / "households").symlink_to(settings.keys_dir / "households")
    return folder


@pytest.fixture
async def least_inbox(
    settings: Settings, inbox_keys: Path, producer_keys: Keys
) -> AsyncIterator[tuple[httpx.AsyncClient, Runtime]]:
    """The inbox and front-door API started on that folder, each request authenticated as
    the inbox's owner; with the runtime it started, to look at the keys it holds."""
    app = create_inbox_api(settings.model_copy(update={"keys_dir": inbox_keys}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        tokens = OrgTokens(producer_keys, inbox_owner)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", auth=tokens
        ) as client:
            yield client, app.state.rt


async def queued(inbox: httpx.AsyncClient, event_id: str) -> dict[str, Any]:
    async with asyncio.timeout(60):
        while True:
            for entry in (await inbox.get(QUEUE)).json():
                if entry["event_id"] == event_id:
                    return dict(entry)
            await asyncio.sleep(0.2)


async def audited(rt: Runtime, action: str, subject: str) -> list[audit.AuditEntry]:
    async with rt.sessions() as session:
        return list((await session.scalars(
            select(audit.AuditEntry)
            .where(audit.AuditEntry.action == action, audit.AuditEntry.subject_ref == subject)
        )).all())  # fmt: skip


class TestTheInboxHoldsOnlyItsOwnKeys:
    async def test_16_the_inbox_process_holds_no_key_to_open_events_or_sign_notices(
        self,
        gateway: httpx.AsyncClient,
        running_broker: Runtime,
        least_inbox: tuple[httpx.AsyncClient, Runtime],
        inbox_keys: Path,
        producer_keys: Keys,
    ) -> None:
        """Attack: whoever takes over the internet-facing inbox process (a front door's and
        every recipient's API) reads its memory and key folder for the broker's event key,
        to open every event on Kafka, and its signing key, to forge notices. It holds
        neither: asking for them is refused (KeyNotHeld), and a process given its folder
        but the router's purposes refuses to start (KeyFileError) rather than make keys.
        Yet it does its whole job: a front door lists its queue (names read with the
        entry's data key) and matches, a recipient rejects a notice; both are audited and
        recorded, and the router's timer routes the matched event to the family and sends
        the rejected notice on to the front door. The folder holds no more keys after."""
        inbox, inbox_rt = least_inbox
        rt = running_broker
        with pytest.raises(KeyNotHeld):
            _ = inbox_rt.keys.hpke
        with pytest.raises(KeyNotHeld):
            _ = inbox_rt.keys.signing
        assert inbox_rt.keys.retired_hpke == ()
        assert Purpose.OPEN_EVENTS not in PROCESS_KEYS["inbox"]
        assert Purpose.SIGN_NOTICES not in PROCESS_KEYS["inbox"]
        with pytest.raises(KeyFileError):
            KeyStore.for_process(inbox_keys, PROCESS_KEYS["router"], env={})

        unknown = crisis(unknown_person("MH-16"), suicidal_ideation=True)
        assert (await post_signed(gateway, unknown, producer_keys)).status_code == 202
        entry = await queued(inbox, unknown["event_id"])
        assert entry["people"][0]["local_id"] == "MH-16"
        assert await audited(rt, "matching_queue_read", unknown["event_id"])
        match = {"links": [{"position": 0, "person_id": "p-mother"}]}
        answer = await inbox.post(f"{QUEUE}/{unknown['event_id']}/match", json=match)
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "accepted"
        [learnt] = await audited(rt, "directory_changed", "p-mother")
        assert learnt.actor == "la-front-door"

        await tick(rt, datetime.now(UTC))  # the router's timer: published again, then routed
        school = await wait_for_notices(inbox, KEY_ADULT, 1)
        notice = next(n for n in school if n["header"]["event_id"] == unknown["event_id"])
        async with asyncio.timeout(60):
            while (await matched_entry(rt, unknown["event_id"])).status != "matched":
                await asyncio.sleep(0.2)
        routed = await matched_entry(rt, unknown["event_id"])
        assert (routed.sealed_event, routed.people) == ("", None)  # nothing readable kept

        url = f"/v1/recipients/{KEY_ADULT}/notices/{notice['notice_id']}/receipts"
        rejected = await inbox.post(url, json={"receipt": "rejected", "reason": "Not ours"})
        assert rejected.status_code == 200, rejected.text
        onward = rejected.json()["rerouted_as"]
        [receipt] = await audited(rt, "notice_rejected", notice["notice_id"])
        assert json.loads(receipt.details)["rerouted_as"] == onward
        await tick(rt, datetime.now(UTC))
        async with asyncio.timeout(60):
            while not [n for n in await wait_for_notices(inbox, DUTY_MANAGER, 1)
                       if n["notice_id"] == onward]:  # fmt: skip
                await asyncio.sleep(0.2)
        [to_door] = [n for n in await wait_for_notices(inbox, DUTY_MANAGER, 1)
                     if n["notice_id"] == onward]  # fmt: skip
        assert to_door["header"]["follow_up"] == FollowUp.REROUTE.value
        assert to_door["header"]["follows"] == notice["notice_id"]

        held = names_in(inbox_keys)
        assert held == {*INBOX_FILES, "households"}
        assert not {HPKE_FILE, SIGNING_FILE} & held


class TestAMatchIsNeverStranded:
    async def test_04_a_match_claimed_by_a_router_that_stopped_is_published_after_restart(
        self,
        gateway: httpx.AsyncClient,
        running_broker: Runtime,
        least_inbox: tuple[httpx.AsyncClient, Runtime],
        producer_keys: Keys,
    ) -> None:
        """Fault (a late match lost): a router's timer claims a matched event
        (``publishing``) and stops before Kafka has it. Rounds of a live timer leave the
        claim alone (another router may be publishing it), and the family would never be
        told; a router's timer starting releases the claim and publishes the event, which is
        routed to the family and its entry marked ``matched``."""
        inbox, _ = least_inbox
        rt = running_broker
        unknown = crisis(unknown_person("MH-04"), suicidal_ideation=True)
        assert (await post_signed(gateway, unknown, producer_keys)).status_code == 202
        await queued(inbox, unknown["event_id"])
        match = {"links": [{"position": 0, "person_id": "p-mother"}]}
        answer = await inbox.post(f"{QUEUE}/{unknown['event_id']}/match", json=match)
        assert answer.json()["status"] == "accepted"
        async with rt.sessions.begin() as session:  # what the stopped router left behind
            entry = await session.get(db.MatchingQueueEntry, unknown["event_id"])
            assert entry is not None
            entry.status = matching.PUBLISHING
        await tick(rt, datetime.now(UTC))
        assert (await matched_entry(rt, unknown["event_id"])).status == matching.PUBLISHING

        stop = asyncio.Event()
        timer = asyncio.create_task(run_follow_up_timer(rt, stop))
        try:
            async with asyncio.timeout(60):
                while (await matched_entry(rt, unknown["event_id"])).status != "matched":
                    await asyncio.sleep(0.2)
        finally:
            stop.set()
            await timer
        school = await wait_for_notices(inbox, KEY_ADULT, 1)
        assert [n for n in school if n["header"]["event_id"] == unknown["event_id"]]


def names_in(folder: Path) -> set[str]:
    return {path.name for path in folder.iterdir()}


async def matched_entry(rt: Runtime, event_id: str) -> db.MatchingQueueEntry:
    async with rt.sessions() as session:
        entry = await session.get(db.MatchingQueueEntry, event_id)
    assert entry is not None
    return entry


async def park_aged(rt: Runtime, keys: Keys, days: int, local_id: str) -> str:
    """A crisis about someone nobody knows, queued ``days`` ago as the router queued it."""
    received = datetime.now(UTC) - timedelta(days=days)
    event = EventAdapter.validate_python(crisis(
        unknown_person(local_id), occurred_at=(received - timedelta(hours=1)).isoformat()
    ))  # fmt: skip
    header = EventHeader(event_id=event.event_id, source_org=event.source_org,
                         broker_key_id=rt.keys.public.hpke_key_id)  # fmt: skip
    sealed = seal_event(sign_event(event, keys["mh-demo"]), header, rt.keys.public.hpke)
    async with SqlUnitOfWork(rt.sessions) as uow:
        await matching.park(uow, sealed, Arrival.of(event, received), event, "la-front-door",
                            rt.data_keys)  # fmt: skip
    return str(event.event_id)


class TestTheQueueForgets:
    async def test_07_an_unmatched_queue_entry_is_purged_after_its_retention(
        self,
        inbox: httpx.AsyncClient,
        running_broker: Runtime,
        producer_keys: Keys,
        settings: Settings,
    ) -> None:
        """Attack: an operator, or anyone with a database backup and the data-key store,
        reads the names of people nobody ever matched, kept in the matching queue for
        ever. After the retention period (90 days by default) the router's timer purges
        the entry: the row and its sealed event are deleted, its people's data key is
        shredded (the copy an attacker kept answers DataKeyShredded), the front door can
        neither list nor match it (404), and the audit log records the purge by event id
        and type only. A younger entry stays, still readable."""
        rt = running_broker
        assert settings.matching_queue_retention_days == 90
        # Two days short of their retention and of a fortnight more (the router's own timer
        # runs beside this test on the real clock, and must not purge them yet).
        old = await park_aged(rt, producer_keys, days=88, local_id="MH-OLD")
        young = await park_aged(rt, producer_keys, days=76, local_id="MH-YOUNG")
        await queued(inbox, old)
        kept = await matched_entry(rt, old)
        assert kept.people is not None

        # A round of the router's timer three days on: the retention sweep.
        await tick(rt, datetime.now(UTC) + timedelta(days=3))

        async with rt.sessions() as session:
            assert await session.get(db.MatchingQueueEntry, old) is None
        with pytest.raises(DataKeyShredded):
            rt.data_keys.unwrap(matching.people_key(old), crypto.b64decode(kept.people),
                                f"sgb/matching-queue/v1/{old}/people".encode())  # fmt: skip
        with pytest.raises(DataKeyShredded):
            matching.people_of(kept, rt.data_keys)
        listed = {e["event_id"]: e for e in (await inbox.get(QUEUE)).json()}
        assert old not in listed
        assert listed[young]["people"][0]["local_id"] == "MH-YOUNG"
        match = {"links": [{"position": 0, "person_id": "p-mother"}]}
        assert (await inbox.post(f"{QUEUE}/{old}/match", json=match)).status_code == 404
        [purged] = await audited(rt, "queue_entry_purged", old)
        assert purged.actor == "retention"
        details = json.loads(purged.details)
        assert details == {"event_type": "parent_mental_health_crisis",
                           "front_door": "la-front-door", "retention_days": 90}  # fmt: skip
        assert "MH-OLD" not in purged.details
        assert await audited(rt, "queue_entry_purged", young) == []
        async with rt.sessions() as session:
            assert await session.get(db.PersonAlias, ("mh-demo", "MH-OLD")) is None
