"""Whole-family routing through the real Kafka broker and database: the matching queue, the
chronology, history digests and the patterns that need earlier events."""

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from support import open_listed, post_signed, wait_for_notices

from broker.adapters import db
from broker.bootstrap import Runtime
from broker.demo import family
from consumers.follow_up_timer import tick

pytestmark = pytest.mark.integration

FRONT_DOOR = "la-front-door"
FRONT_DOOR_INBOX = "la-front-door:duty_manager"
MOTHERS_GP = "gp-riverside:safeguarding_lead"


def event(event_type: str, source: str, **fields: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "event_type": event_type,
        "event_id": str(uuid.uuid4()),
        "source_org": source,
        "occurred_at": now.isoformat(),
        **fields,
    }


def crisis(**flags: bool) -> dict[str, Any]:
    return event(
        "parent_mental_health_crisis", "mh-demo", subject={"nhs_number": family.MOTHER}, **flags
    )


Post = Callable[[dict[str, Any]], Awaitable[None]]


@pytest.fixture
def post(gateway: httpx.AsyncClient, producer_keys: dict[str, Ed25519PrivateKey]) -> Post:
    """Posts an event to the gateway, signed by its source organisation."""

    async def signed(payload: dict[str, Any]) -> None:
        answer = await post_signed(gateway, payload, producer_keys)
        assert answer.status_code == 202, answer.text

    return signed


class TestMatchingQueue:
    async def test_unknown_person_waits_then_routes_when_matched(
        self,
        post: Post,
        inbox: httpx.AsyncClient,
        running_broker: Runtime,
    ) -> None:
        """An event about an unknown adult is queued at the front door; once matched to the
        mother it reaches her whole family."""
        unknown = crisis(suicidal_ideation=True) | {
            "subject": {"local_id": "MH-77", "given_name": "Jessica", "family_name": "Carter"}
        }
        await post(unknown)
        queue_url = f"/v1/front-doors/{FRONT_DOOR}/matching-queue"
        async with asyncio.timeout(60):
            while not (queue := (await inbox.get(queue_url)).json()):
                await asyncio.sleep(0.05)
        [queued] = queue
        assert queued["event_id"] == unknown["event_id"]
        assert queued["people"][0]["local_id"] == "MH-77"
        assert await inbox.get("/v1/recipients/school-oakfield:key_adult/notices") is not None

        answer = await inbox.post(
            f"{queue_url}/{unknown['event_id']}/match",
            json={"links": [{"position": 0, "person_id": "p-mother"}], "matched_by": "duty-sw-1"},
        )
        assert answer.status_code == 200
        assert answer.json()["status"] == "accepted"  # recorded, for the router to route
        await tick(running_broker, datetime.now(UTC))  # the router's timer publishes it again
        [school] = await wait_for_notices(inbox, "school-oakfield:key_adult", 1)
        assert school["header"]["event_id"] == unknown["event_id"]
        assert (await inbox.get(queue_url)).json() == []

    async def test_matching_an_event_not_in_the_queue_is_404(
        self, inbox: httpx.AsyncClient, running_broker: Runtime
    ) -> None:
        """Only waiting events in the front door's own queue can be matched."""
        answer = await inbox.post(
            f"/v1/front-doors/{FRONT_DOOR}/matching-queue/{uuid.uuid4()}/match",
            json={"links": [{"position": 0, "person_id": "p-mother"}], "matched_by": "x"},
        )
        assert answer.status_code == 404


class TestChronologyAndPatterns:
    async def test_chronology_lists_events_notices_and_receipts_in_order(
        self,
        post: Post,
        inbox: httpx.AsyncClient,
        running_broker: Runtime,
    ) -> None:
        """The household's chronology shows each event, who was told, and the receipts."""
        first = crisis()
        await post(first)
        [listed] = await wait_for_notices(inbox, MOTHERS_GP, 1)
        url = f"/v1/recipients/{MOTHERS_GP}/notices/{listed['notice_id']}"
        (await inbox.get(url)).raise_for_status()
        await inbox.post(f"{url}/receipts", json={"receipt": "viewed"})
        await inbox.post(f"{url}/acknowledgement")
        lines = (await inbox.get("/v1/households/h-carter/chronology")).json()
        kinds = [line["kind"] for line in lines]
        assert kinds[0] == "event"
        assert {"notice", "delivered", "viewed", "acknowledged"} <= set(kinds)
        assert "rejected" not in kinds
        told = {line["recipient_id"] for line in lines if line["kind"] == "notice"}
        assert {MOTHERS_GP, "school-oakfield:key_adult", "hv-demo:safeguarding_lead"} <= told
        times = [line["at"] for line in lines]
        assert times == sorted(times)

    async def test_second_event_carries_the_first_in_its_digest(
        self,
        post: Post,
        inbox: httpx.AsyncClient,
        running_broker: Runtime,
        recipient_keys: dict[str, X25519PrivateKey],
    ) -> None:
        """A notice tells its recipient what the broker already knew about the household."""
        await post(crisis())
        await wait_for_notices(inbox, MOTHERS_GP, 1)
        await post(crisis())
        listed = await wait_for_notices(inbox, MOTHERS_GP, 2)
        _, body = await open_listed(
            inbox, MOTHERS_GP, listed[-1], recipient_keys, running_broker.keys.public
        )
        assert body.digest.events_12_months == {"parent_mental_health_crisis": 1}
        # One earlier incident, however many notices it produced (issue 13).
        assert body.digest.earlier_incidents_12_months == 1

    async def test_toxic_trio_across_events_reaches_the_front_door(
        self,
        post: Post,
        inbox: httpx.AsyncClient,
        running_broker: Runtime,
        recipient_keys: dict[str, X25519PrivateKey],
    ) -> None:
        """Mental ill health, then domestic abuse in a later event: the front door's notice
        names the co-occurrence across the two events."""
        await post(crisis())
        await wait_for_notices(inbox, FRONT_DOOR_INBOX, 1)
        await post(crisis(domestic_abuse=True))
        referral = (await wait_for_notices(inbox, FRONT_DOOR_INBOX, 2))[-1]
        header, body = await open_listed(
            inbox,
            FRONT_DOOR_INBOX,
            referral,
            recipient_keys,
            running_broker.keys.public,
        )
        assert header.severity.value == "high"
        assert "co_occurrence" in (body.rule_id or "")  # the front door reads the rule
        assert body.facts["co_occurring"] == "domestic_abuse,mental_health"

    async def test_family_move_records_the_previous_area(
        self,
        post: Post,
        inbox: httpx.AsyncClient,
        running_broker: Runtime,
        recipient_keys: dict[str, X25519PrivateKey],
    ) -> None:
        """A move to an area the directory has no front door for goes to the originating
        front door, as the task of sending the history there (never "unknown": a code was
        given; issue 16), and the household's area history keeps the area it left."""
        members = [{"nhs_number": n} for n in (family.MOTHER, family.CHILD_B)]
        moved = event(
            "family_moving_area",
            "la-front-door",
            members=members,
            from_authority=family.AREA,
            to_authority="E09000098",
            moved_on=(datetime.now(UTC) - timedelta(days=1)).date().isoformat(),
        )
        await post(moved)
        [transfer] = await wait_for_notices(inbox, FRONT_DOOR_INBOX, 1)
        header, body = await open_listed(
            inbox,
            FRONT_DOOR_INBOX,
            transfer,
            recipient_keys,
            running_broker.keys.public,
        )
        assert header.notice_type.value == "transfer"
        assert "destination_unknown" not in body.facts
        assert body.facts["send_history_to"] == "E09000098"
        async with running_broker.sessions() as session:
            home = await session.get(db.Household, "h-carter")
            left = await session.get(db.HouseholdArea, ("h-carter", family.AREA))
        assert home is not None
        assert home.area == "E09000098"
        assert left is not None
        assert left.moved_out is not None
