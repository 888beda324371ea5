"""Receipts, escalation and rejection through the real Kafka broker and database.

The router's timer is driven here with explicit times (``tick(rt, now)``), as a clock that has
passed a deadline; everything else runs as in production: gateway, router, delivery, inbox.
The router runs without its own timer: on the real clock, in the hour before a school day
starts, that would escalate the school's notice before a test's own times could.
"""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from conftest import Routed, every_notice_in_its_inbox
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import select, update
from support import front_door_closed, open_listed, wait_for_notices

from broker.adapters import audit, db
from broker.bootstrap import Runtime, runtime
from broker.config import Settings
from broker.demo import family
from consumers.follow_up_timer import tick
from schemas.notices import FollowUp

pytestmark = pytest.mark.integration

KEY_ADULT = "school-oakfield:key_adult"
DEPUTY = "school-oakfield:deputy_key_adult"
LA_LEAD = "la-front-door:safeguarding_lead"
DUTY_MANAGER = "la-front-door:duty_manager"
EDT = "la-front-door:emergency_duty_team"


def crisis() -> dict[str, Any]:
    return {"event_type": "parent_mental_health_crisis", "event_id": str(uuid.uuid4()),
            "source_org": "mh-demo", "occurred_at": datetime.now(UTC).isoformat(),
            "subject": {"nhs_number": family.MOTHER}}  # fmt: skip


# Published at the gateway, routed and delivered once a session; each test gets a copy.
CRISIS = Routed("school-crisis", lambda: [crisis()], every_notice_in_its_inbox)


@pytest.fixture
def already_routed() -> Routed:
    return CRISIS


@pytest.fixture
def running_broker(untimed_broker: Runtime) -> Runtime:
    return untimed_broker  # ``tick`` drives the timer


@pytest.fixture
async def school_notice(
    already_routed: Routed, inbox: httpx.AsyncClient, running_broker: Runtime
) -> dict[str, Any]:
    """The demo mother in crisis (``already_routed``): the school's key adult is told about Child B;
    the router and delivery run on for the test."""
    [listed] = await wait_for_notices(inbox, KEY_ADULT, 1)
    return listed


def after(listed: dict[str, Any], minutes: int = 1) -> datetime:
    return datetime.fromisoformat(listed["header"]["deadline"]) + timedelta(minutes=minutes)


async def listed_notice(inbox: httpx.AsyncClient, recipient: str, notice_id: str) -> Any:
    """The notice as the recipient's inbox lists it, once it is there."""
    async with asyncio.timeout(30):
        while True:
            listed = (await inbox.get(f"/v1/recipients/{recipient}/notices")).json()
            if found := [n for n in listed if n["notice_id"] == notice_id]:
                return found[0]
            await asyncio.sleep(0.05)


async def follow_ups_of(rt: Runtime, notice_id: str) -> list[db.NoticeRecord]:
    """The notices following this one (the other notices of the event escalate too)."""
    async with rt.sessions() as session:
        return list((await session.scalars(
            select(db.NoticeRecord).where(db.NoticeRecord.follows == notice_id)
        )).all())  # fmt: skip


async def receipt(
    inbox: httpx.AsyncClient, recipient: str, notice_id: str, **body: str
) -> httpx.Response:
    return await inbox.post(f"/v1/recipients/{recipient}/notices/{notice_id}/receipts", json=body)


class TestReceipts:
    async def test_each_receipt_is_recorded_apart_and_fetching_is_only_delivery(
        self, inbox: httpx.AsyncClient, school_notice: dict[str, Any]
    ) -> None:
        notice_id = school_notice["notice_id"]
        assert school_notice["delivered_at"] is None  # listed, not yet fetched
        fetched = (await inbox.get(f"/v1/recipients/{KEY_ADULT}/notices/{notice_id}")).json()
        assert fetched["delivered_at"] is not None
        assert fetched["viewed_at"] is None
        assert fetched["acknowledged_at"] is None

        viewed = await receipt(inbox, KEY_ADULT, notice_id, receipt="viewed")
        [listed] = (await inbox.get(f"/v1/recipients/{KEY_ADULT}/notices")).json()
        assert viewed.json()["first"] is True
        assert listed["viewed_at"] is not None
        assert listed["acknowledged_at"] is None

        acked = await receipt(inbox, KEY_ADULT, notice_id, receipt="acknowledged")
        again = await receipt(inbox, KEY_ADULT, notice_id, receipt="acknowledged")
        assert acked.json()["first"] is True
        assert again.json()["first"] is False
        refused = await receipt(inbox, KEY_ADULT, notice_id, receipt="rejected", reason="late")
        assert refused.status_code == 409

    async def test_a_recipient_cannot_claim_delivery_nor_send_receipts_for_others(
        self, inbox: httpx.AsyncClient, school_notice: dict[str, Any]
    ) -> None:
        notice_id = school_notice["notice_id"]
        claimed = await receipt(inbox, KEY_ADULT, notice_id, receipt="delivered")
        assert claimed.status_code == 422
        elsewhere = await receipt(inbox, DEPUTY, notice_id, receipt="acknowledged")
        assert elsewhere.status_code == 404


class TestEscalation:
    async def test_a_high_school_notice_reaches_key_adult_and_deputy_together(
        self, inbox: httpx.AsyncClient, school_notice: dict[str, Any], running_broker: Runtime
    ) -> None:
        """The twins are under one, so the notice is high: the deputy has it from the start,
        in the key adult's chain (issue 13 section 5)."""
        [deputy] = await wait_for_notices(inbox, DEPUTY, 1)
        assert deputy["header"]["severity"] == "high"
        assert deputy["header"]["deadline"] == school_notice["header"]["deadline"]
        async with running_broker.sessions() as session:
            copy = await session.get(db.NoticeRecord, deputy["notice_id"])
        assert copy is not None
        assert copy.chain_id == school_notice["notice_id"]

    async def test_a_missed_deadline_escalates_before_the_session_then_to_the_local_authority(
        self,
        inbox: httpx.AsyncClient,
        school_notice: dict[str, Any],
        running_broker: Runtime,
        recipient_keys: dict[str, X25519PrivateKey],
    ) -> None:
        """Escalated 60 minutes before the school's session starts (its deadline), not at it;
        the deputy already has it, so it goes on to the local authority's safeguarding lead."""
        rt, notice_id = running_broker, school_notice["notice_id"]
        await wait_for_notices(inbox, DEPUTY, 1)
        await tick(rt, after(school_notice, minutes=-62))
        assert await follow_ups_of(rt, notice_id) == []  # not due yet

        await tick(rt, after(school_notice, minutes=-59))
        [first] = await follow_ups_of(rt, notice_id)
        to_la = await listed_notice(inbox, LA_LEAD, first.notice_id)
        header, body = await open_listed(inbox, LA_LEAD, to_la, recipient_keys, rt.keys.public)
        assert str(header.notice_id) == first.notice_id
        assert str(header.follows) == notice_id
        assert header.follow_up is FollowUp.ESCALATION
        assert header.escalation_level == 1
        assert header.deadline > datetime.fromisoformat(school_notice["header"]["deadline"])
        assert body.facts["not_acknowledged_by"] == "school-oakfield"
        # The local authority reads it as a front door does, not as the school's copy.
        assert body.source_org == "mh-demo"

        assert first.notice_id not in await tick(rt, after(school_notice))  # not again
        # Nobody is left in the chain: it never ends silently. The authority's safeguarding
        # lead is alerted that nobody is acting on it, or its emergency duty team while the
        # front door is closed.
        at = after(to_la, minutes=600)
        await tick(rt, at)
        [alert] = await follow_ups_of(rt, first.notice_id)
        assert alert.rule_id.endswith(".exhausted")
        assert alert.recipient_id == (EDT if front_door_closed(at) else LA_LEAD)
        async with rt.sessions() as session:
            gaps = (await session.scalars(select(db.DataQualityIssue.notice_id).where(
                db.DataQualityIssue.kind == "escalation_exhausted"))).all()  # fmt: skip
        assert first.notice_id in gaps  # (beside the alerts and escalations of other notices)
        # The alert is the last word: when it lapses too, it is reported, not alerted again.
        await tick(rt, datetime.fromisoformat(alert.deadline.isoformat()) + timedelta(hours=12))
        assert await follow_ups_of(rt, alert.notice_id) == []

        listed = (await inbox.get(f"/v1/recipients/{KEY_ADULT}/notices")).json()
        assert listed[0]["escalated_at"] is not None
        async with rt.sessions() as session:
            escalated = (await session.scalars(
                select(audit.AuditEntry.subject_ref)
                .where(audit.AuditEntry.action == "notice_escalated")
            )).all()  # fmt: skip
        chain = [notice_id, first.notice_id]
        # To the local authority, then the end of the chain, each once.
        assert sorted(e for e in escalated if e in chain) == sorted(chain)

    async def test_an_acknowledgement_anywhere_in_the_chain_stops_it(
        self, inbox: httpx.AsyncClient, school_notice: dict[str, Any], running_broker: Runtime
    ) -> None:
        """The deputy acknowledging its copy stops the key adult's notice escalating."""
        [deputy] = await wait_for_notices(inbox, DEPUTY, 1)
        acked = await receipt(inbox, DEPUTY, deputy["notice_id"], receipt="acknowledged")
        assert acked.status_code == 200
        await tick(running_broker, after(school_notice, minutes=24 * 60))
        assert await follow_ups_of(running_broker, school_notice["notice_id"]) == []
        assert await follow_ups_of(running_broker, deputy["notice_id"]) == []

    async def test_a_restarted_broker_neither_misses_nor_repeats_an_escalation(
        self, settings: Settings, inbox: httpx.AsyncClient, school_notice: dict[str, Any],
        running_broker: Runtime,
    ) -> None:  # fmt: skip
        """Two router processes wake long after the deadline, at once: one escalation."""
        late = after(school_notice, minutes=3 * 24 * 60)
        async with runtime(settings, configure_logs=False) as restarted:
            both = await asyncio.gather(tick(running_broker, late), tick(restarted, late))
        [escalation] = await follow_ups_of(running_broker, school_notice["notice_id"])
        assert [e for found in both for e in found].count(escalation.notice_id) == 1
        await wait_for_notices(inbox, DEPUTY, 1)


class TestRejection:
    async def test_a_rejection_goes_on_to_the_front_door_with_its_reason(
        self,
        inbox: httpx.AsyncClient,
        school_notice: dict[str, Any],
        running_broker: Runtime,
        recipient_keys: dict[str, X25519PrivateKey],
    ) -> None:
        notice_id = school_notice["notice_id"]
        before = len((await inbox.get(f"/v1/recipients/{DUTY_MANAGER}/notices")).json())
        rejected = await receipt(inbox, KEY_ADULT, notice_id, receipt="rejected",
                                 reason="This child is not on our roll")  # fmt: skip
        assert rejected.status_code == 200, rejected.text
        rerouted = rejected.json()["rerouted_as"]
        await tick(running_broker, datetime.now(UTC))  # the router's timer sends it on

        listed = await wait_for_notices(inbox, DUTY_MANAGER, before + 1, including=rerouted)
        [item] = [n for n in listed if n["notice_id"] == rerouted]
        header, body = await open_listed(inbox, DUTY_MANAGER, item, recipient_keys,
                                         running_broker.keys.public)  # fmt: skip
        assert header.follow_up is FollowUp.REROUTE
        assert str(header.follows) == notice_id
        assert body.facts["rejection_reason"] == "This child is not on our roll"
        assert body.facts["rejected_by"] == "school-oakfield"

        acked = await receipt(inbox, KEY_ADULT, notice_id, receipt="acknowledged")
        assert acked.status_code == 409  # a rejected notice is not then acknowledged
        # The rejected notice no longer escalates; the re-routed one has its own deadline.
        await tick(running_broker, after(school_notice))
        assert [r.notice_id for r in await follow_ups_of(running_broker, notice_id)] == [rerouted]

    async def test_a_rejection_needs_a_reason(
        self, inbox: httpx.AsyncClient, school_notice: dict[str, Any]
    ) -> None:
        notice_id = school_notice["notice_id"]
        blank = await receipt(inbox, KEY_ADULT, notice_id, receipt="rejected", reason="  ")
        missing = await receipt(inbox, KEY_ADULT, notice_id, receipt="rejected")
        assert blank.status_code == 409
        assert missing.status_code == 409
        assert "reason" in blank.json()["detail"]

    async def test_a_reason_too_long_is_refused_without_being_quoted(
        self, inbox: httpx.AsyncClient, school_notice: dict[str, Any]
    ) -> None:
        reason = "Jo Bloggs, born 1 May 2019, " * 40
        answer = await receipt(inbox, KEY_ADULT, school_notice["notice_id"],
                               receipt="rejected", reason=reason)  # fmt: skip
        assert answer.status_code == 422
        assert "Bloggs" not in answer.text


class TestRaces:
    async def test_an_acknowledgement_stops_a_chain_whose_rows_it_did_not_close(
        self, inbox: httpx.AsyncClient, school_notice: dict[str, Any], running_broker: Runtime
    ) -> None:
        """On PostgreSQL an acknowledgement cannot see an escalation inserted by a transaction
        still open beside it, so it leaves that row unclosed: the chain still stops."""
        rt, notice_id = running_broker, school_notice["notice_id"]
        await tick(rt, after(school_notice))
        [escalation] = await follow_ups_of(rt, notice_id)
        assert (await receipt(inbox, KEY_ADULT, notice_id, receipt="acknowledged")).is_success
        async with rt.sessions.begin() as session:  # as if the acknowledgement had not seen it
            await session.execute(
                update(db.NoticeRecord)
                .where(db.NoticeRecord.notice_id == escalation.notice_id)
                .values(closed_at=None)
            )
        await tick(rt, escalation.deadline + timedelta(minutes=1))
        assert await follow_ups_of(rt, escalation.notice_id) == []


class TestNowhereLeft:
    async def test_a_rejection_with_nobody_left_is_refused_and_the_notice_stays_open(
        self, inbox: httpx.AsyncClient, school_notice: dict[str, Any], running_broker: Runtime
    ) -> None:
        """School -> front door duty manager -> its safeguarding lead -> nobody: refused."""
        notice_id, holder = school_notice["notice_id"], KEY_ADULT
        for next_holder in (DUTY_MANAGER, LA_LEAD):
            rejected = await receipt(inbox, holder, notice_id, receipt="rejected",
                                     reason="Not ours")  # fmt: skip
            assert rejected.status_code == 200, rejected.text
            notice_id, holder = rejected.json()["rerouted_as"], next_holder
            await tick(running_broker, datetime.now(UTC))  # the router sends it on
            await listed_notice(inbox, holder, notice_id)
        last = await receipt(inbox, LA_LEAD, notice_id, receipt="rejected", reason="Not ours")
        assert last.status_code == 409
        assert "acknowledge" in last.json()["detail"]
        async with running_broker.sessions() as session:
            record = await session.get(db.NoticeRecord, notice_id)
        assert record is not None
        assert record.rejected_at is None  # still open: it escalates if nobody acts
