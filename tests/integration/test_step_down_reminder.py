"""A step-down plan reaches its owners, and its lead professional is reminded at the review
date, through the real Kafka broker and database.

The step-down goes in through the gateway and out through the router and delivery to the
inboxes; the router's timer is then driven at the review date (``tick(rt, now)``), as in
production, and its reminder travels the same way.
"""

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import select
from support import open_listed, post_signed, wait_for_notices

from broker.adapters import db
from broker.bootstrap import Runtime
from broker.demo import family
from broker.rules.step_down import reminder_at
from consumers.follow_up_timer import tick
from schemas.notices import FollowUp, NoticeBody, NoticeHeader

pytestmark = pytest.mark.integration

LEAD = "hv-demo:safeguarding_lead"  # involved with the family, so linked to it
OWNER = "school-oakfield:key_adult"


def step_down(review_by: date) -> dict[str, Any]:
    """The family's front door steps Child B down, the health visiting team leading."""
    now = datetime.now(UTC)
    return {
        "event_type": "service_withdrawal", "event_id": str(uuid.uuid4()),
        "source_org": "la-front-door", "occurred_at": now.isoformat(),
        "subject": {"nhs_number": family.CHILD_B}, "service": "Children's social care",
        "reason": "stepped_down", "withdrawn_on": now.date().isoformat(),
        "step_down": {
            "from_level": "child_protection", "to_level": "child_in_need",
            "lead_professional": {"name": "Priya Shah", "role": "Lead professional",
                                  "org_id": "hv-demo", "phone": "01632 960301"},
            "action_owners": [{"name": "Tom Reed", "role": "DSL", "org_id": "school-oakfield",
                               "action": "Weekly check-in with the child."}],
            "if_concerns_return": "Call the lead professional the same day.",
            "review_by": review_by.isoformat(),
        },
    }  # fmt: skip


async def opened_all(
    inbox: httpx.AsyncClient, recipient: str, count: int,
    keys: dict[str, X25519PrivateKey], rt: Runtime,
) -> list[tuple[NoticeHeader, NoticeBody]]:  # fmt: skip
    listed = await wait_for_notices(inbox, recipient, count)
    return [await open_listed(inbox, recipient, item, keys, rt.keys.public) for item in listed]


async def reminders_of(rt: Runtime) -> list[db.NoticeRecord]:
    async with rt.sessions() as session:
        return list((await session.scalars(
            select(db.NoticeRecord).where(db.NoticeRecord.rule_id == "step_down.review_reminder")
        )).all())  # fmt: skip


class TestStepDownPlanAndReminder:
    async def test_owners_get_the_plan_and_the_lead_is_reminded_once_at_review(
        self,
        gateway: httpx.AsyncClient,
        inbox: httpx.AsyncClient,
        producer_keys: dict[str, Ed25519PrivateKey],
        recipient_keys: dict[str, X25519PrivateKey],
        running_broker: Runtime,
    ) -> None:
        """The lead and the action owner each read the plan; at the review date the timer
        reminds the lead, once, with the plan; not before."""
        review_by = datetime.now(UTC).date() + timedelta(days=40)
        answer = await post_signed(gateway, step_down(review_by), producer_keys)
        assert answer.status_code == 202, answer.text
        # The health visitors also hear of the withdrawal as an involved agency.
        lead_notices = await opened_all(inbox, LEAD, 2, recipient_keys, running_broker)
        [plan] = [body.step_down for _, body in lead_notices if body.step_down]
        assert (plan.your_role, plan.review_by) == ("lead_professional", review_by)
        [(_, owners)] = await opened_all(inbox, OWNER, 1, recipient_keys, running_broker)
        assert owners.step_down is not None
        assert owners.step_down.lead_professional is not None
        assert owners.step_down.lead_professional.phone == "01632 960301"

        await self.assert_directory_keeps_no_person(running_broker)

        due = reminder_at(review_by)
        await tick(running_broker, due - timedelta(minutes=1))
        assert await reminders_of(running_broker) == []
        await tick(running_broker, due + timedelta(minutes=1))
        await tick(running_broker, due + timedelta(minutes=2))
        [record] = await reminders_of(running_broker)
        assert record.recipient_id == LEAD

        found = [
            (header, body)
            for header, body in await opened_all(inbox, LEAD, 3, recipient_keys, running_broker)
            if header.follow_up is FollowUp.REMINDER
        ]
        [(header, body)] = found
        assert body.step_down == plan
        assert "step_down.review_due" in body.wording
        assert str(header.notice_id) == record.notice_id

    @staticmethod
    async def assert_directory_keeps_no_person(rt: Runtime) -> None:
        """The directory keeps the step-down's organisations, never its people's names or
        numbers nor the plan's text: those stay sealed in the notices."""
        async with rt.sessions() as session:
            owners = (await session.scalars(
                select(db.PlanOwner).where(db.PlanOwner.plan_id.like("step-down:%"))
            )).all()  # fmt: skip
            plans = (await session.scalars(
                select(db.Plan).where(db.Plan.id.like("step-down:%"))
            )).all()  # fmt: skip
        assert {o.org_id for o in owners} == {"hv-demo", "school-oakfield"}
        kept = " ".join(f"{o.name} {o.role} {o.phone} {o.email}" for o in owners)
        assert "Priya" not in kept
        assert "01632 960301" not in kept
        assert {p.if_concerns_return for p in plans} == {None}
