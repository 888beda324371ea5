"""The front door's web pages through the real app, Kafka, the router and a real database:
the matching queue (each entry shown audited) with its match action, and a household's
chronology; a school's contact gets 404 for them."""

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from conftest import Routed
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from support import post_signed

from broker.adapters import audit, db
from broker.bootstrap import Runtime
from broker.demo import family
from tests.web.conftest import form_token, new_browser, sign_in

pytestmark = pytest.mark.e2e
FRONT_DOOR = "la-front-door:duty_manager"
SCHOOL = "school-oakfield:key_adult"
QUEUE = "/inbox/front-door/matching-queue"


def crisis(subject: dict[str, str]) -> dict[str, Any]:
    return {"event_type": "parent_mental_health_crisis", "event_id": str(uuid.uuid4()),
            "source_org": "mh-demo", "occurred_at": datetime.now(UTC).isoformat(),
            "subject": subject}  # fmt: skip


async def queued(app: FastAPI, event_id: str, timeout: float = 60) -> db.MatchingQueueEntry:
    rt: Runtime = app.state.rt
    async with asyncio.timeout(timeout):
        while True:
            async with rt.sessions() as session:
                entry = await session.get(db.MatchingQueueEntry, event_id)
            if entry is not None:
                return entry
            await asyncio.sleep(0.2)


async def actions(app: FastAPI) -> list[str]:
    rt: Runtime = app.state.rt
    async with rt.sessions() as session:
        return list((await session.scalars(select(audit.AuditEntry.action))).all())


async def one_queued(sessions: async_sessionmaker[AsyncSession]) -> bool:
    async with sessions() as session:
        return (await session.scalars(select(db.MatchingQueueEntry))).first() is not None


# Published at the gateway and routed once a session; each test gets a copy.
UNKNOWN_QUEUED = Routed(
    "unknown-queued",
    lambda: [crisis({"local_id": "mh-4471", "given_name": "Jessica", "family_name": "Carter"})],
    one_queued,
)


@pytest.fixture
def already_routed() -> Routed:
    return UNKNOWN_QUEUED


@pytest.fixture
async def unknown_event(web_app: FastAPI, already_routed: Routed) -> str:
    """A crisis about someone the directory does not know (``already_routed``), waiting in the front
    door's queue."""
    rt: Runtime = web_app.state.rt
    async with rt.sessions() as session:
        [entry] = (await session.scalars(select(db.MatchingQueueEntry))).all()
    assert entry.status == "waiting"
    return str(entry.event_id)


@pytest.fixture
async def duty_manager(web_app: FastAPI, browser: httpx.AsyncClient) -> httpx.AsyncClient:
    await sign_in(web_app, browser, FRONT_DOOR)
    return browser


class TestMatchingQueue:
    async def test_shows_who_is_unknown_and_audits_it(
        self, web_app: FastAPI, duty_manager: httpx.AsyncClient, unknown_event: str
    ) -> None:
        """The entry with the person's name and a match form; the read is audited."""
        page = await duty_manager.get(QUEUE)
        assert page.status_code == 200
        assert "Jessica Carter" in page.text
        assert f"{QUEUE}/{unknown_event}/match" in page.text
        assert "matching_queue_read" in await actions(web_app)

    async def test_match_is_recorded(
        self, web_app: FastAPI, duty_manager: httpx.AsyncClient, unknown_event: str
    ) -> None:
        """Matched to the mother: 303 back to the queue, the entry accepted for the router."""
        form = {"csrf_token": form_token(await duty_manager.get(QUEUE)), "person_0": "p-mother"}
        answer = await duty_manager.post(f"{QUEUE}/{unknown_event}/match", data=form)
        assert answer.status_code == 303
        entry = await queued(web_app, unknown_event)
        assert entry.status != "waiting"

    async def test_match_needs_the_csrf_token(
        self, web_app: FastAPI, duty_manager: httpx.AsyncClient, unknown_event: str
    ) -> None:
        """Without it: 403, still waiting."""
        answer = await duty_manager.post(f"{QUEUE}/{unknown_event}/match",
                                         data={"person_0": "p-mother"})  # fmt: skip
        assert answer.status_code == 403
        assert (await queued(web_app, unknown_event)).status == "waiting"

    async def test_the_front_doors_inbox_links_to_it(
        self, web_app: FastAPI, duty_manager: httpx.AsyncClient
    ) -> None:
        """The duty manager's inbox shows the front door's pages in its menu; a school's does
        not."""
        assert f'href="{QUEUE}"' in (await duty_manager.get("/inbox")).text
        school = new_browser(web_app)
        await sign_in(web_app, school, SCHOOL)
        assert f'href="{QUEUE}"' not in (await school.get("/inbox")).text

    async def test_not_for_a_school(self, web_app: FastAPI) -> None:
        """A school's key adult gets 404 for the front door's pages."""
        school = new_browser(web_app)
        await sign_in(web_app, school, SCHOOL)
        assert (await school.get(QUEUE)).status_code == 404
        assert (await school.get("/inbox/front-door/chronology")).status_code == 404


class TestChronology:
    async def test_a_household_of_its_area_is_shown_and_audited(
        self, web_app: FastAPI, duty_manager: httpx.AsyncClient, gateway: httpx.AsyncClient,
        running_broker: Runtime, producer_keys: dict[str, Ed25519PrivateKey],
    ) -> None:  # fmt: skip
        """The Carters' chronology lists the crisis; reading it is audited."""
        event = crisis({"nhs_number": family.MOTHER})
        assert (await post_signed(gateway, event, producer_keys)).status_code == 202
        async with asyncio.timeout(60):
            while (
                "parent mental health crisis"
                not in (
                    page := await duty_manager.get(
                        "/inbox/front-door/chronology", params={"household": "h-carter"}
                    )
                ).text
            ):
                await asyncio.sleep(0.3)  # fmt: skip
        assert page.status_code == 200
        assert "chronology_accessed" in await actions(web_app)
