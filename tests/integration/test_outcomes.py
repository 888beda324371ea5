"""A referral's outcome and next steps through the real inbox API, router timer, Kafka and
database (issue 13 section 5): the front door records its decision, the referring agency is
told, an overdue decision escalates, and a rejected school notice reaches the front door as
the front door may read it.

The router's timer is driven with explicit times (``tick(rt, now)``), as in test_escalation.
"""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from conftest import Routed, every_notice_in_its_inbox
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import select
from support import open_listed, post_signed, wait_for_notices

from broker.adapters import audit, db
from broker.bootstrap import Runtime
from broker.demo import family
from consumers.follow_up_timer import tick
from schemas.notices import FollowUp, NoticeType

pytestmark = pytest.mark.integration

DUTY_MANAGER = "la-front-door:duty_manager"
LA_LEAD = "la-front-door:safeguarding_lead"
KEY_ADULT = "school-oakfield:key_adult"
REFERRER = "mh-demo:safeguarding_lead"
FRONT_DOOR = "la-front-door"


def crisis() -> dict[str, Any]:
    return {"event_type": "parent_mental_health_crisis", "event_id": str(uuid.uuid4()),
            "source_org": "mh-demo", "occurred_at": datetime.now(UTC).isoformat(),
            "subject": {"nhs_number": family.MOTHER}, "suicidal_ideation": True,
            "clinical_summary": "Disclosed suicidal thoughts at home visit."}  # fmt: skip


# Published at the gateway, routed and delivered once a session; each test gets a copy.
REFERRED = Routed("referral", lambda: [crisis()], every_notice_in_its_inbox)


@pytest.fixture
def already_routed() -> Routed:
    return REFERRED


@pytest.fixture
async def referral(
    already_routed: Routed, inbox: httpx.AsyncClient, running_broker: Runtime
) -> dict[str, Any]:
    """The demo mother in crisis, suicidal ideation disclosed (``already_routed``): the front
    door is referred; the router and delivery run on for the test."""
    [listed] = await wait_for_notices(inbox, DUTY_MANAGER, 1)
    await wait_for_notices(inbox, KEY_ADULT, 1)
    return listed


async def outcome(inbox: httpx.AsyncClient, notice_id: str, decided: str) -> httpx.Response:
    path = f"/v1/front-doors/{FRONT_DOOR}/notices/{notice_id}/outcome"
    return await inbox.post(path, json={"outcome": decided})


async def follow_ups_of(rt: Runtime, notice_id: str) -> list[db.NoticeRecord]:
    async with rt.sessions() as session:
        return list((await session.scalars(
            select(db.NoticeRecord).where(db.NoticeRecord.follows == notice_id)
        )).all())  # fmt: skip


class TestOutcome:
    async def test_the_referrer_is_told_the_decision_who_acknowledged_and_when(
        self, inbox: httpx.AsyncClient, referral: dict[str, Any], running_broker: Runtime,
        recipient_keys: dict[str, X25519PrivateKey],
    ) -> None:  # fmt: skip
        """The front door's decision acknowledges the referral; within a round of the timer
        the mental health service that referred reads the decision, and nothing else."""
        rt, notice_id = running_broker, referral["notice_id"]
        answer = await outcome(inbox, notice_id, "early_help")
        assert answer.status_code == 200, answer.text
        assert answer.json()["first"] is True
        await tick(rt, datetime.now(UTC))

        [told] = await wait_for_notices(inbox, REFERRER, 1)
        header, body = await open_listed(inbox, REFERRER, told, recipient_keys, rt.keys.public)
        assert header.notice_type is NoticeType.OUTCOME
        assert str(header.follows) == notice_id
        assert body.facts["outcome"] == "early_help"
        assert body.facts["referral_reference"] == referral["header"]["event_id"]
        assert "acknowledged_at" in body.facts
        assert "outcome.early_help" in body.wording
        assert body.about == ()
        assert body.detail == {}
        assert body.digest is None
        assert "UTC" not in body.summary
        assert "early help" in body.summary
        [listed] = [n for n in (await inbox.get(f"/v1/recipients/{DUTY_MANAGER}/notices")).json()
                    if n["notice_id"] == notice_id]  # fmt: skip
        assert listed["acknowledged_at"] is not None

    async def test_the_decision_is_audited_and_in_the_chronology(
        self, inbox: httpx.AsyncClient, referral: dict[str, Any]
    ) -> None:
        notice_id = referral["notice_id"]
        await outcome(inbox, notice_id, "strategy_discussion")
        lines = (await inbox.get("/v1/households/h-carter/chronology")).json()
        [line] = [x for x in lines if x["kind"] == "outcome"]
        assert line["notice_id"] == notice_id
        assert line["facts"]["outcome"] == "strategy_discussion"
        assert line["recipient_id"] == DUTY_MANAGER

    async def test_a_decision_stands_once_recorded(
        self, inbox: httpx.AsyncClient, referral: dict[str, Any], running_broker: Runtime
    ) -> None:
        """The same decision again is answered as before; a different one is refused."""
        notice_id = referral["notice_id"]
        await outcome(inbox, notice_id, "assessment")
        again = await outcome(inbox, notice_id, "assessment")
        other = await outcome(inbox, notice_id, "no_further_action")
        assert again.status_code == 200
        assert again.json()["first"] is False
        assert other.status_code == 409
        async with running_broker.sessions() as session:
            recorded = (await session.scalars(
                select(audit.AuditEntry.subject_ref)
                .where(audit.AuditEntry.action == "next_step_recorded")
            )).all()  # fmt: skip
        assert recorded.count(notice_id) == 1

    async def test_only_a_notice_that_owes_a_decision_takes_one(
        self, inbox: httpx.AsyncClient, referral: dict[str, Any]
    ) -> None:
        """Another organisation's notice is not found; an unknown decision is a 422."""
        [school] = (await inbox.get(f"/v1/recipients/{KEY_ADULT}/notices")).json()
        assert (await outcome(inbox, school["notice_id"], "early_help")).status_code == 404
        assert (await outcome(inbox, referral["notice_id"], "closed")).status_code == 422


class TestOverdueDecision:
    async def test_no_decision_within_a_working_day_escalates_to_the_safeguarding_lead(
        self, inbox: httpx.AsyncClient, referral: dict[str, Any], running_broker: Runtime,
        recipient_keys: dict[str, X25519PrivateKey],
    ) -> None:  # fmt: skip
        """Acknowledged in time but undecided: the decision's own time escalates."""
        rt, notice_id = running_broker, referral["notice_id"]
        ack = f"/v1/recipients/{DUTY_MANAGER}/notices/{notice_id}/acknowledgement"
        assert (await inbox.post(ack)).status_code == 200
        await tick(rt, datetime.now(UTC) + timedelta(days=5))
        [overdue] = [r for r in await follow_ups_of(rt, notice_id)
                     if r.rule_id.endswith(".overdue.decision")]  # fmt: skip
        assert overdue.recipient_id == LA_LEAD
        listed = await wait_for_notices(inbox, LA_LEAD, 1, including=overdue.notice_id)
        [item] = [n for n in listed if n["notice_id"] == overdue.notice_id]
        header, body = await open_listed(inbox, LA_LEAD, item, recipient_keys, rt.keys.public)
        assert header.follow_up is FollowUp.ESCALATION
        assert body.facts["overdue_step"] == "decision"
        assert "Overdue" in body.summary
        await tick(rt, datetime.now(UTC) + timedelta(days=6))
        assert len([r for r in await follow_ups_of(rt, notice_id)
                    if r.rule_id.endswith(".overdue.decision")]) == 1  # fmt: skip


class TestReroutedBody:
    async def test_a_rejected_school_notice_reaches_the_front_door_as_it_may_read_it(
        self, inbox: httpx.AsyncClient, referral: dict[str, Any], running_broker: Runtime,
        recipient_keys: dict[str, X25519PrivateKey],
    ) -> None:  # fmt: skip
        """Not the school's minimised copy naming the front door as who to call: the event,
        its source, its detail and its rule, as the front door reads a referral."""
        [school] = (await inbox.get(f"/v1/recipients/{KEY_ADULT}/notices")).json()
        path = f"/v1/recipients/{KEY_ADULT}/notices/{school['notice_id']}/receipts"
        rejected = await inbox.post(path, json={"receipt": "rejected", "reason": "Not ours"})
        rerouted = rejected.json()["rerouted_as"]
        await tick(running_broker, datetime.now(UTC))
        listed = await wait_for_notices(inbox, DUTY_MANAGER, 2, including=rerouted)
        [item] = [n for n in listed if n["notice_id"] == rerouted]
        _, body = await open_listed(inbox, DUTY_MANAGER, item, recipient_keys,
                                    running_broker.keys.public)  # fmt: skip
        assert body.event_type == "parent_mental_health_crisis"
        assert body.source_org == "mh-demo"
        assert body.detail["clinical_summary"] == "Disclosed suicidal thoughts at home visit."
        assert body.rule_id == "crisis.child.reroute"  # the front door may know the rule
        assert body.facts["rejected_by"] == "school-oakfield"
        assert body.who_to_call
        assert "Front Door" not in body.who_to_call


class TestHealthEscalation:
    async def test_a_gp_notice_nobody_acknowledged_goes_to_the_icb_not_the_front_door(
        self, inbox: httpx.AsyncClient, referral: dict[str, Any], running_broker: Runtime
    ) -> None:
        """The mother's practice lets its deadline pass: the integrated care board's
        designated safeguarding professionals are told."""
        [gp] = await wait_for_notices(inbox, "gp-riverside:safeguarding_lead", 1)
        await tick(running_broker, datetime.now(UTC) + timedelta(days=7))
        [escalation] = await follow_ups_of(running_broker, gp["notice_id"])
        assert escalation.recipient_id == "icb-demo:designated_safeguarding"
        assert escalation.recipient_org != FRONT_DOOR


class TestMaracConsideration:
    async def test_a_high_risk_incident_owes_it_and_the_front_door_records_it_done(
        self, gateway: httpx.AsyncClient, inbox: httpx.AsyncClient,
        producer_keys: dict[str, Ed25519PrivateKey], referral: dict[str, Any],
    ) -> None:  # fmt: skip
        """Police report a high-risk incident: the front door records its MARAC
        consideration through the API, once; a crisis referral owes none and is refused."""
        incident = {"event_type": "police_domestic_abuse_incident", "event_id": str(uuid.uuid4()),
                    "source_org": "police-demo", "occurred_at": datetime.now(UTC).isoformat(),
                    "incident_at": datetime.now(UTC).isoformat(), "police_reference": "DA/T/1",
                    "victim": {"nhs_number": family.MOTHER}, "risk_level": "high",
                    "children": [{"child": {"nhs_number": family.CHILD_B},
                                  "present": True}]}  # fmt: skip
        assert (await post_signed(gateway, incident, producer_keys)).status_code == 202
        listed = await wait_for_notices(inbox, DUTY_MANAGER, 2)
        [marac] = [n for n in listed if n["notice_id"] != referral["notice_id"]]
        step = f"/v1/front-doors/{FRONT_DOOR}/notices/{{}}/steps/marac_referral_considered"
        done = await inbox.post(step.format(marac["notice_id"]))
        again = await inbox.post(step.format(marac["notice_id"]))
        assert done.status_code == 200, done.text
        assert (done.json()["first"], again.json()["first"]) == (True, False)
        assert (await inbox.post(step.format(referral["notice_id"]))).status_code == 409


class TestHistorySent:
    async def test_a_move_nobody_can_receive_owes_it_and_the_front_door_records_it(
        self, gateway: httpx.AsyncClient, inbox: httpx.AsyncClient,
        producer_keys: dict[str, Ed25519PrivateKey], referral: dict[str, Any],
    ) -> None:  # fmt: skip
        """The family moves to Cumberland, whose front door the partnership does not hold:
        the front door records the history sent through the API, once; a referral owes no
        such step and is refused."""
        moving = {"event_type": "family_moving_area", "event_id": str(uuid.uuid4()),
                  "source_org": FRONT_DOOR, "occurred_at": datetime.now(UTC).isoformat(),
                  "members": [{"nhs_number": family.MOTHER}, {"nhs_number": family.CHILD_B}],
                  "from_authority": family.AREA, "to_authority": "E06000063",
                  "moved_on": datetime.now(UTC).date().isoformat()}  # fmt: skip
        assert (await post_signed(gateway, moving, producer_keys)).status_code == 202
        listed = await wait_for_notices(inbox, DUTY_MANAGER, 2)
        [task] = [n for n in listed if n["notice_id"] != referral["notice_id"]]
        step = f"/v1/front-doors/{FRONT_DOOR}/notices/{{}}/steps/history_sent"
        done = await inbox.post(step.format(task["notice_id"]))
        again = await inbox.post(step.format(task["notice_id"]))
        assert done.status_code == 200, done.text
        assert (done.json()["first"], again.json()["first"]) == (True, False)
        assert (await inbox.post(step.format(referral["notice_id"]))).status_code == 409
