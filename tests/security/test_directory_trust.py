"""Security review, issue 12, items 1 and 2: what a publisher says never redirects a family's
data. Each attack goes through the real interfaces: events posted to the HTTP gateway, routed
through Kafka by the router, read back through the inbox and front-door API.

The demo partnership's Brookside Academy has no pupil, patient or involvement in the Carter
family: it is the outsider. The mother's GP (Riverside) and the mental health service are
linked to the family; the front door (la-front-door) is the family's own.
"""

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select
from support import post_signed, recorded_rules, token_request

from broker.adapters import db
from broker.adapters.audit import AuditEntry
from broker.bootstrap import Runtime
from broker.demo import family
from consumers.follow_up_timer import tick

pytestmark = pytest.mark.e2e

FRONT_DOOR = "la-front-door"
FRONT_DOOR_INBOX = "la-front-door:duty_manager"
OUTSIDER = "school-brookside"
OUTSIDER_INBOX = "school-brookside:key_adult"
ELSEWHERE = "E09000098"
CARTERS = [{"nhs_number": n} for n in (family.MOTHER, family.FATHER, family.CHILD_B,
                                       family.TWIN_1, family.TWIN_2)]  # fmt: skip

Post = Callable[[dict[str, Any]], Awaitable[str]]


def event(event_type: str, source: str, **fields: Any) -> dict[str, Any]:
    return {"event_type": event_type, "event_id": str(uuid.uuid4()), "source_org": source,
            "occurred_at": datetime.now(UTC).isoformat(), **fields}  # fmt: skip


def move(source: str, **fields: Any) -> dict[str, Any]:
    return event("family_moving_area", source, members=CARTERS, from_authority=family.AREA,
                 moved_on=date.today().isoformat(), **fields)  # fmt: skip


def step_down(source: str, owner: str) -> dict[str, Any]:
    professional = {"name": "Sam Hill", "role": "Lead professional", "org_id": owner}
    plan = {"from_level": "child_in_need", "to_level": "early_help",
            "lead_professional": professional, "action_owners": [professional],
            "if_concerns_return": "Call them.", "review_by": "2030-01-01"}  # fmt: skip
    return event("service_withdrawal", source, subject={"nhs_number": family.MOTHER},
                 service="Community mental health", reason="stepped_down",
                 withdrawn_on=date.today().isoformat(), step_down=plan)  # fmt: skip


@pytest.fixture
def post(gateway: httpx.AsyncClient, producer_keys: dict[str, Ed25519PrivateKey]) -> Post:
    async def signed(payload: dict[str, Any]) -> str:
        answer = await post_signed(gateway, payload, producer_keys)
        assert answer.status_code == 202, answer.text
        return str(payload["event_id"])

    return signed


async def routed(rt: Runtime, *event_ids: str) -> None:
    """Waits until the router has finished with these events."""
    async with asyncio.timeout(60):
        while True:
            async with rt.sessions() as session:
                done = await session.scalar(select(func.count()).where(
                    db.RoutedEvent.event_id.in_(event_ids)))  # fmt: skip
            if done == len(event_ids):
                return
            await asyncio.sleep(0.2)


async def rules_in(inbox: httpx.AsyncClient, rt: Runtime, recipient: str) -> list[str]:
    """The rules of the notices in the recipient's inbox listing, as the broker recorded them."""
    answer = await inbox.get(f"/v1/recipients/{recipient}/notices")
    assert answer.status_code == 200, answer.text
    return await recorded_rules(rt.sessions, answer.json())


async def wait_for_rule(inbox: httpx.AsyncClient, rt: Runtime, recipient: str, rule: str) -> None:
    async with asyncio.timeout(60):
        while rule not in await rules_in(inbox, rt, recipient):
            await asyncio.sleep(0.2)


async def audit_entries(rt: Runtime, action: str) -> list[tuple[str, str, dict[str, Any]]]:
    async with rt.sessions() as session:
        rows = (await session.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)
        )).all()  # fmt: skip
    return [(r.actor, r.subject_ref, json.loads(r.details)) for r in rows]


async def directory_state(rt: Runtime) -> dict[str, object]:
    """What an event could change: the household's area and its history, the plans and their
    owners, and the directory's change log."""
    async with rt.sessions() as session:
        home = await session.get(db.Household, "h-carter")
        return {
            "area": home.area if home else None,
            "areas": (await session.scalars(select(db.HouseholdArea.area))).all(),
            "plans": (await session.scalars(select(db.Plan.id))).all(),
            "owners": (await session.scalars(select(db.PlanOwner.org_id))).all(),
            "changes": await session.scalar(select(func.count(db.DirectoryChange.id))),
        }


async def token_for(inbox: httpx.AsyncClient, org: str, key: Ed25519PrivateKey) -> str:
    answer = await inbox.send(token_request(inbox.base_url.join("/v1/oauth/token"), org, key))
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


class TestDirectoryTrust:
    async def test_01_unlinked_organisation_cannot_move_a_family(
        self, post: Post, inbox: httpx.AsyncClient, running_broker: Runtime
    ) -> None:
        """Attack: a school with no link to the Carters (no pupil, no involvement) publishes,
        with its own valid signature, that the whole family has moved to another area, naming
        itself the new school. Refused: the household stays where it is (its next crisis still
        reaches its front door), nothing is written to the directory, the school is told
        nothing, the family's front door hears of the refused claim, and the audit log
        records the refusal and the notice withheld."""
        before = await directory_state(running_broker)
        claim = await post(move(OUTSIDER, to_authority=ELSEWHERE, new_school=OUTSIDER))

        await wait_for_rule(inbox, running_broker, FRONT_DOOR_INBOX, "proposal.unlinked_source")
        await routed(running_broker, claim)

        assert await directory_state(running_broker) == before
        assert await rules_in(inbox, running_broker, OUTSIDER_INBOX) == []
        async with running_broker.sessions() as session:
            assert await session.get(db.DirectoryProposal, claim) is None
        [(actor, subject, details)] = await audit_entries(running_broker, "directory_proposal")
        assert (actor, subject) == (OUTSIDER, f"event:{claim}")
        assert details["outcome"] == "refused"
        assert details["kind"] == "move"
        withheld = await audit_entries(running_broker, "notice_withheld")
        assert [(d["org_id"], d["rule_id"]) for _, s, d in withheld if s == f"event:{claim}"] == [
            (OUTSIDER, "move.new_school")
        ]

        crisis = await post(event("parent_mental_health_crisis", "mh-demo",
                                  subject={"nhs_number": family.MOTHER},
                                  suicidal_ideation=True))  # fmt: skip
        await wait_for_rule(inbox, running_broker, FRONT_DOOR_INBOX, "crisis.front_door")
        await routed(running_broker, crisis)
        assert await rules_in(inbox, running_broker, OUTSIDER_INBOX) == []

    async def test_02_publisher_cannot_choose_recipients(
        self,
        post: Post,
        inbox: httpx.AsyncClient,
        running_broker: Runtime,
        producer_keys: dict[str, Ed25519PrivateKey],
    ) -> None:
        """Attack: organisations linked to the family name an outsider as recipient: the
        mother's GP reports a move naming Brookside the new school, and the mental health
        service a step-down naming Brookside its lead professional and action owner (who would
        hear of every new concern). Brookside is told nothing, not even of the mother's crisis
        that follows; the GP cannot confirm its own proposal (403, audited); the directory is
        unchanged until the family's front door answers. Once the front door confirms the move
        the new school is told and the area changes (an audited directory change by the front
        door); once it rejects the step-down, no plan names Brookside."""
        before = await directory_state(running_broker)
        moved = await post(move("gp-riverside", to_authority=ELSEWHERE, new_school=OUTSIDER))
        stepped = await post(step_down("mh-demo", OUTSIDER))
        await routed(running_broker, moved, stepped)
        crisis = await post(event("parent_mental_health_crisis", "mh-demo",
                                  subject={"nhs_number": family.MOTHER},
                                  suicidal_ideation=True))  # fmt: skip
        await wait_for_rule(inbox, running_broker, FRONT_DOOR_INBOX, "crisis.front_door")
        await routed(running_broker, crisis)

        assert await rules_in(inbox, running_broker, OUTSIDER_INBOX) == []
        assert await directory_state(running_broker) == before
        withheld = await audit_entries(running_broker, "notice_withheld")
        assert (OUTSIDER, "move.new_school") in [(d["org_id"], d["rule_id"]) for *_, d in withheld]
        pending = (await inbox.get(f"/v1/front-doors/{FRONT_DOOR}/proposals")).json()
        listed = {(p["event_id"], p["kind"]) for p in pending}
        assert listed == {(moved, "move"), (stepped, "step_down")}

        gp = await token_for(inbox, "gp-riverside", producer_keys["gp-riverside"])
        refused = await inbox.post(f"/v1/front-doors/{FRONT_DOOR}/proposals/{moved}/confirm",
                                   headers={"authorization": f"Bearer {gp}"})  # fmt: skip
        assert refused.status_code == 403
        refusals = await audit_entries(running_broker, "access_refused")
        assert any(actor == "gp-riverside" and s.endswith("/proposals/{event_id}/confirm")
                   and d["status"] == 403 for actor, s, d in refusals)  # fmt: skip
        assert await directory_state(running_broker) == before

        rejected = await inbox.post(f"/v1/front-doors/{FRONT_DOOR}/proposals/{stepped}/reject")
        assert rejected.json()["status"] == "rejected"
        confirmed = await inbox.post(f"/v1/front-doors/{FRONT_DOOR}/proposals/{moved}/confirm")
        # Recorded; a round of the router's timer applies it and sends what it held back.
        assert confirmed.json() == {"event_id": moved, "status": "accepted", "notices": 0}
        await tick(running_broker, datetime.now(UTC))
        await wait_for_rule(inbox, running_broker, OUTSIDER_INBOX, "move.new_school")
        again = await inbox.post(f"/v1/front-doors/{FRONT_DOOR}/proposals/{moved}/confirm")
        assert again.status_code == 404  # answered once: a replayed confirmation does nothing

        after = await directory_state(running_broker)
        assert after["area"] == ELSEWHERE
        assert after["plans"] == before["plans"]
        assert OUTSIDER not in after["owners"]
        changes = await audit_entries(running_broker, "directory_changed")
        assert (FRONT_DOOR, "household:h-carter") in [(a, s) for a, s, _ in changes]
        answers = await audit_entries(running_broker, "directory_proposal")
        outcomes = {(s, d["outcome"]) for a, s, d in answers if a == FRONT_DOOR}
        assert outcomes == {(f"event:{moved}", "confirmed"), (f"event:{stepped}", "rejected")}
        [released] = [d["notices"] for a, _, d in answers
                      if a == FRONT_DOOR and d["outcome"] == "confirmed"]  # fmt: skip
        assert released == 1  # the new school, told once the front door confirmed
