"""The front door's moves to confirm, next steps and data-quality pages through the real app,
Kafka, the router and a real database: the duty manager confirms or rejects (with a reason)
what an organisation linked to the family proposed, records a referral's decision and a
transfer's step; each action takes effect and is audited; a school's contact gets 404."""

import asyncio
import json
import uuid
from datetime import UTC, date, datetime
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
PROPOSALS = "/inbox/front-door/proposals"
NEXT_STEPS = "/inbox/front-door/next-steps"
ELSEWHERE = "E09000098"  # an area no front door of the partnership covers
CARTERS = [{"nhs_number": n} for n in (family.MOTHER, family.FATHER, family.CHILD_B,
                                       family.TWIN_1, family.TWIN_2)]  # fmt: skip


def event(event_type: str, source: str, **fields: Any) -> dict[str, Any]:
    return {"event_type": event_type, "event_id": str(uuid.uuid4()), "source_org": source,
            "occurred_at": datetime.now(UTC).isoformat(), **fields}  # fmt: skip


def move(source: str) -> dict[str, Any]:
    return event("family_moving_area", source, members=CARTERS, from_authority=family.AREA,
                 to_authority=ELSEWHERE, moved_on=date.today().isoformat())  # fmt: skip


async def published(gateway: httpx.AsyncClient, keys: dict[str, Ed25519PrivateKey],
                    payload: dict[str, Any]) -> str:  # fmt: skip
    assert (await post_signed(gateway, payload, keys)).status_code == 202
    return str(payload["event_id"])


async def proposal(app: FastAPI, event_id: str, timeout: float = 60) -> db.DirectoryProposal:
    rt: Runtime = app.state.rt
    async with asyncio.timeout(timeout):
        while True:
            async with rt.sessions() as session:
                found = await session.get(db.DirectoryProposal, event_id)
            if found is not None:
                return found
            await asyncio.sleep(0.2)


async def inbox_notice_of(app: FastAPI, recipient: str, timeout: float = 60) -> str:
    rt: Runtime = app.state.rt
    query = select(db.InboxNotice.notice_id).where(db.InboxNotice.recipient_id == recipient)
    async with asyncio.timeout(timeout):
        while True:
            async with rt.sessions() as session:
                found = (await session.scalars(query)).first()
            if found is not None:
                return str(found)
            await asyncio.sleep(0.2)


async def audited(app: FastAPI, action: str) -> list[tuple[str, str, dict[str, Any]]]:
    rt: Runtime = app.state.rt
    async with rt.sessions() as session:
        rows = (await session.scalars(select(audit.AuditEntry)
                                      .where(audit.AuditEntry.action == action))).all()  # fmt: skip
    return [(r.actor, r.subject_ref, json.loads(r.details)) for r in rows]


async def page_showing(browser: httpx.AsyncClient, path: str, text: str) -> httpx.Response:
    """The page, once the router has done what makes it show ``text``."""
    async with asyncio.timeout(60):
        while text not in (page := await browser.get(path)).text:
            await asyncio.sleep(0.3)
    return page


@pytest.fixture
async def duty_manager(web_app: FastAPI, browser: httpx.AsyncClient) -> httpx.AsyncClient:
    await sign_in(web_app, browser, FRONT_DOOR)
    return browser


@pytest.fixture
async def school(web_app: FastAPI) -> httpx.AsyncClient:
    browser = new_browser(web_app)
    await sign_in(web_app, browser, SCHOOL)
    return browser


async def a_proposal_held(sessions: async_sessionmaker[AsyncSession]) -> bool:
    async with sessions() as session:
        return (await session.scalars(select(db.DirectoryProposal))).first() is not None


# Published at the gateway and routed once a session; each test gets a copy.
GP_MOVE_HELD = Routed("gp-move-held", lambda: [move("gp-riverside")], a_proposal_held)


@pytest.fixture
def already_routed() -> Routed:
    return GP_MOVE_HELD


@pytest.fixture
async def held_move(web_app: FastAPI, already_routed: Routed) -> str:
    """The mother's GP says the Carters are moving (``already_routed``): held for their front door
    to confirm."""
    rt: Runtime = web_app.state.rt
    async with rt.sessions() as session:
        [held] = (await session.scalars(select(db.DirectoryProposal))).all()
    assert (held.source_org, held.status) == ("gp-riverside", "pending")
    return held.event_id


class TestProposals:
    async def test_lists_the_move_waiting(
        self, duty_manager: httpx.AsyncClient, held_move: str
    ) -> None:
        """The move, who proposed it, where to, with a confirm form and a reject link."""
        page = await duty_manager.get(PROPOSALS)
        assert page.status_code == 200
        assert "Riverside Medical Centre (gp-riverside)" in page.text
        assert ELSEWHERE in page.text
        assert f"{PROPOSALS}/{held_move}/confirm" in page.text
        assert f"{PROPOSALS}/{held_move}/reject" in page.text

    async def test_confirm_is_recorded_for_the_router(
        self, web_app: FastAPI, duty_manager: httpx.AsyncClient, held_move: str
    ) -> None:
        """Confirmed: 303 back with a banner; the proposal waits for the router's timer."""
        form = {"csrf_token": form_token(await duty_manager.get(PROPOSALS))}
        answer = await duty_manager.post(f"{PROPOSALS}/{held_move}/confirm", data=form)
        assert answer.status_code == 303
        assert (await proposal(web_app, held_move)).status == "confirming"
        assert "Confirmed:" in (await duty_manager.get(answer.headers["location"])).text

    async def test_reject_records_the_reason_in_the_audit_log(
        self, web_app: FastAPI, duty_manager: httpx.AsyncClient, held_move: str
    ) -> None:
        """Rejected with a reason from the list: nothing changes, and the code is audited."""
        page = await duty_manager.get(f"{PROPOSALS}/{held_move}/reject")
        form = {"csrf_token": form_token(page), "reason": "not_moving"}
        answer = await duty_manager.post(f"{PROPOSALS}/{held_move}/reject", data=form)
        assert answer.status_code == 303
        assert (await proposal(web_app, held_move)).status == "rejected"
        reasons = [d.get("reason") for _, subject, d in await audited(web_app, "directory_proposal")
                   if subject == f"event:{held_move}"]  # fmt: skip
        assert "not_moving" in reasons

    async def test_reject_needs_a_reason(
        self, web_app: FastAPI, duty_manager: httpx.AsyncClient, held_move: str
    ) -> None:
        """No reason chosen: 400 with the error summary, and the proposal still waits."""
        page = await duty_manager.get(f"{PROPOSALS}/{held_move}/reject")
        answer = await duty_manager.post(f"{PROPOSALS}/{held_move}/reject",
                                         data={"csrf_token": form_token(page)})  # fmt: skip
        assert answer.status_code == 400
        assert "govuk-error-summary" in answer.text
        assert (await proposal(web_app, held_move)).status == "pending"

    async def test_confirm_needs_the_csrf_token(
        self, web_app: FastAPI, duty_manager: httpx.AsyncClient, held_move: str
    ) -> None:
        """Without it: 403, still pending."""
        assert (await duty_manager.post(f"{PROPOSALS}/{held_move}/confirm")).status_code == 403
        assert (await proposal(web_app, held_move)).status == "pending"

    async def test_not_for_a_school(
        self, web_app: FastAPI, school: httpx.AsyncClient, held_move: str
    ) -> None:
        """A school's key adult gets 404 for the list and for a confirmation, refusals
        audited; the proposal still waits."""
        assert (await school.get(PROPOSALS)).status_code == 404
        form = {"csrf_token": form_token(await school.get("/inbox"))}
        answer = await school.post(f"{PROPOSALS}/{held_move}/confirm", data=form)
        assert answer.status_code == 404
        assert (await proposal(web_app, held_move)).status == "pending"
        refusals = await audited(web_app, "access_refused")
        assert any(actor == SCHOOL and d["status"] == 404 for actor, _, d in refusals)


class TestNextSteps:
    async def test_a_referrals_decision_is_recorded(
        self, web_app: FastAPI, duty_manager: httpx.AsyncClient, gateway: httpx.AsyncClient,
        running_broker: Runtime, producer_keys: dict[str, Ed25519PrivateKey],
    ) -> None:  # fmt: skip
        """A crisis referral owes the front door's decision: chosen on its form, it is shown
        as done and audited as a next step recorded."""
        crisis = event("parent_mental_health_crisis", "mh-demo",
                       subject={"nhs_number": family.MOTHER}, suicidal_ideation=True)  # fmt: skip
        await published(gateway, producer_keys, crisis)
        page = await page_showing(duty_manager, NEXT_STEPS, "Record the decision")
        [form_path] = {p for p in page.text.split('"') if p.endswith("/outcome")}
        form = {"csrf_token": form_token(await duty_manager.get(form_path)),
                "outcome": "early_help"}  # fmt: skip
        answer = await duty_manager.post(form_path, data=form)
        assert answer.status_code == 303
        shown = (await duty_manager.get(answer.headers["location"])).text
        assert "Done" in shown
        assert "early help" in shown
        steps = [d["step"] for *_, d in await audited(web_app, "next_step_recorded")]
        assert steps == ["decision"]

    async def test_a_decision_needs_an_outcome(
        self, duty_manager: httpx.AsyncClient, gateway: httpx.AsyncClient,
        running_broker: Runtime, producer_keys: dict[str, Ed25519PrivateKey],
    ) -> None:  # fmt: skip
        """None chosen: 400 with the error summary."""
        crisis = event("parent_mental_health_crisis", "mh-demo",
                       subject={"nhs_number": family.MOTHER}, suicidal_ideation=True)  # fmt: skip
        await published(gateway, producer_keys, crisis)
        page = await page_showing(duty_manager, NEXT_STEPS, "Record the decision")
        [form_path] = {p for p in page.text.split('"') if p.endswith("/outcome")}
        form = {"csrf_token": form_token(await duty_manager.get(form_path))}
        answer = await duty_manager.post(form_path, data=form)
        assert answer.status_code == 400
        assert "govuk-error-summary" in answer.text

    async def test_a_transfers_history_sent_is_recorded(
        self, web_app: FastAPI, duty_manager: httpx.AsyncClient, gateway: httpx.AsyncClient,
        running_broker: Runtime, producer_keys: dict[str, Ed25519PrivateKey],
    ) -> None:  # fmt: skip
        """The front door moves the Carters to an area the partnership cannot reach: its
        transfer owes the history sent by hand; recorded as done, it is audited."""
        await published(gateway, producer_keys, move("la-front-door"))
        page = await page_showing(duty_manager, NEXT_STEPS, "/steps/history_sent")
        answer = await duty_manager.post(
            next(p for p in page.text.split('"') if p.endswith("/steps/history_sent")),
            data={"csrf_token": form_token(page)},
        )
        assert answer.status_code == 303
        steps = [d["step"] for *_, d in await audited(web_app, "next_step_recorded")]
        assert steps == ["history_sent"]

    async def test_not_for_a_school(self, school: httpx.AsyncClient) -> None:
        """A school's key adult gets 404 for the next steps, a decision's form and its
        action, and the data-quality report."""
        notice = f"{NEXT_STEPS}/{uuid.uuid4()}"
        form = {"csrf_token": form_token(await school.get("/inbox")), "outcome": "early_help"}
        assert (await school.get(NEXT_STEPS)).status_code == 404
        assert (await school.get(f"{notice}/outcome")).status_code == 404
        assert (await school.post(f"{notice}/outcome", data=form)).status_code == 404
        assert (await school.post(f"{notice}/steps/history_sent", data=form)).status_code == 404
        assert (await school.get("/inbox/front-door/data-quality")).status_code == 404

    async def test_a_notice_of_another_organisation_is_404(
        self, web_app: FastAPI, duty_manager: httpx.AsyncClient, gateway: httpx.AsyncClient,
        running_broker: Runtime, producer_keys: dict[str, Ed25519PrivateKey],
    ) -> None:  # fmt: skip
        """The school's notice of the crisis: the front door records nothing on it (404)."""
        crisis = event("parent_mental_health_crisis", "mh-demo",
                       subject={"nhs_number": family.MOTHER}, suicidal_ideation=True)  # fmt: skip
        await published(gateway, producer_keys, crisis)
        schools = await inbox_notice_of(web_app, SCHOOL)
        form = {"csrf_token": form_token(await duty_manager.get(NEXT_STEPS)),
                "outcome": "early_help"}  # fmt: skip
        answer = await duty_manager.post(f"{NEXT_STEPS}/{schools}/outcome", data=form)
        assert answer.status_code == 404
        assert await audited(web_app, "next_step_recorded") == []


class TestDataQuality:
    async def test_shows_a_gap_of_its_area(
        self, duty_manager: httpx.AsyncClient, gateway: httpx.AsyncClient,
        running_broker: Runtime, producer_keys: dict[str, Ed25519PrivateKey],
    ) -> None:  # fmt: skip
        """A move to an authority code the table does not hold is a gap in the report."""
        await published(gateway, producer_keys, move("la-front-door"))
        page = await page_showing(duty_manager, "/inbox/front-door/data-quality",
                                  "Authority code not in table")  # fmt: skip
        assert page.status_code == 200
        assert "sgb authorities refresh" in page.text


class TestNavigation:
    async def test_the_front_doors_pages_link_to_each_other(
        self, duty_manager: httpx.AsyncClient
    ) -> None:
        """The inbox's menu leads to the proposals page, whose menu leads to the rest."""
        assert f'href="{PROPOSALS}"' in (await duty_manager.get("/inbox")).text
        page = (await duty_manager.get(PROPOSALS)).text
        for path in (
            NEXT_STEPS,
            "/inbox/front-door/data-quality",
            "/inbox/front-door/matching-queue",
            "/inbox/front-door/chronology",
        ):
            assert f'href="{path}"' in page
