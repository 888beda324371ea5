"""The administrators' web pages through the real app and a real database: an administrator
is a contact of an organisation named in ``settings.administrators`` (here the ICB), signed
in with a link like anyone. It sees the organisations, a contact's alert channels (audited),
issues a sign-in link that works, suspends a contact's sessions, and reads a household's
members by id (audited); anyone else gets 404."""

import json
import re
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from broker.adapters import audit
from broker.bootstrap import Runtime
from broker.config import Settings
from broker.services import alert_channels
from schemas.alerts import AlertChannelsSpec
from tests.web.conftest import follow_link, form_token, new_browser, sign_in

pytestmark = pytest.mark.e2e
ADMIN = "icb-demo:designated_safeguarding"
SCHOOL = "school-oakfield:key_adult"
OAKFIELD = "/inbox/admin/organisations/school-oakfield"
EMAIL = "dsl@oakfield.sch.uk"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"administrators": ["icb-demo"]})


@pytest.fixture
async def administrator(web_app: FastAPI, browser: httpx.AsyncClient) -> httpx.AsyncClient:
    await sign_in(web_app, browser, ADMIN)
    return browser


@pytest.fixture
async def school(web_app: FastAPI) -> httpx.AsyncClient:
    browser = new_browser(web_app)
    await sign_in(web_app, browser, SCHOOL)
    return browser


async def audited(app: FastAPI, action: str) -> list[tuple[str, str, dict[str, Any]]]:
    rt: Runtime = app.state.rt
    async with rt.sessions() as session:
        rows = (await session.scalars(select(audit.AuditEntry)
                                      .where(audit.AuditEntry.action == action))).all()  # fmt: skip
    return [(r.actor, r.subject_ref, json.loads(r.details)) for r in rows]


class TestOrganisations:
    async def test_lists_the_partnership(self, administrator: httpx.AsyncClient) -> None:
        """Every organisation, each linked to its contacts."""
        page = await administrator.get("/inbox/admin")
        assert page.status_code == 200
        assert "Oakfield Primary School" in page.text
        assert f'href="{OAKFIELD}"' in page.text

    async def test_a_contacts_channels_are_shown_and_audited(
        self, web_app: FastAPI, administrator: httpx.AsyncClient
    ) -> None:
        """The key adult's email address is shown; the view is a directory_read of it."""
        rt: Runtime = web_app.state.rt
        async with rt.unit_of_work() as uow:
            await alert_channels.set_many(uow, {SCHOOL: AlertChannelsSpec(emails=(EMAIL,))},
                                          "test", datetime.now(UTC))  # fmt: skip
        page = await administrator.get(OAKFIELD)
        assert page.status_code == 200
        assert EMAIL in page.text
        reads = await audited(web_app, "directory_read")
        assert (ADMIN, SCHOOL, {"what": "alert_channels"}) in reads

    async def test_an_unknown_organisation_is_404(self, administrator: httpx.AsyncClient) -> None:
        """No such code: 404."""
        assert (await administrator.get("/inbox/admin/organisations/nowhere")).status_code == 404

    async def test_not_for_anyone_else(self, web_app: FastAPI, school: httpx.AsyncClient) -> None:
        """A school's key adult gets 404 for every administration page, each refusal audited."""
        for path in ("/inbox/admin", OAKFIELD, "/inbox/admin/households?household=h-carter"):
            assert (await school.get(path)).status_code == 404
        refusals = await audited(web_app, "access_refused")
        assert any(actor == SCHOOL and d["status"] == 404 for actor, _, d in refusals)
        assert await audited(web_app, "directory_read") == []


class TestSignInLink:
    async def test_issued_link_signs_its_person_in(
        self, web_app: FastAPI, administrator: httpx.AsyncClient
    ) -> None:
        """The link is shown once (not cached), works in another browser, and its issue is
        audited under the administrator."""
        form = {"csrf_token": form_token(await administrator.get(OAKFIELD))}
        page = await administrator.post(f"/inbox/admin/contacts/{SCHOOL}/sign-in-link", data=form)
        assert page.status_code == 200
        assert page.headers["cache-control"] == "no-store"
        found = re.search(r"/inbox/sign-in/([A-Za-z0-9_-]+)", page.text)
        assert found
        answer = await follow_link(new_browser(web_app), found.group(1))
        assert answer.status_code == 303
        issued = await audited(web_app, "sign_in_link_issued")
        assert (ADMIN, SCHOOL) in [(actor, subject) for actor, subject, _ in issued]

    async def test_not_issued_by_anyone_else(
        self, web_app: FastAPI, school: httpx.AsyncClient
    ) -> None:
        """A school's key adult, with its own form token, gets 404 and no link is issued."""
        form = {"csrf_token": form_token(await school.get("/inbox"))}
        answer = await school.post(f"/inbox/admin/contacts/{SCHOOL}/sign-in-link", data=form)
        assert answer.status_code == 404
        issued = await audited(web_app, "sign_in_link_issued")
        assert [actor for actor, *_ in issued if actor == SCHOOL] == []


class TestSuspend:
    async def test_signs_the_contact_out_and_is_audited(
        self, web_app: FastAPI, administrator: httpx.AsyncClient, school: httpx.AsyncClient
    ) -> None:
        """The key adult's session ends at once; the suspension is audited."""
        form = {"csrf_token": form_token(await administrator.get(OAKFIELD))}
        answer = await administrator.post(f"/inbox/admin/contacts/{SCHOOL}/suspend", data=form)
        assert answer.status_code == 303
        assert "Suspended:" in (await administrator.get(answer.headers["location"])).text
        assert (await school.get("/inbox")).status_code == 401
        suspended = await audited(web_app, "web_sessions_suspended")
        assert suspended == [(ADMIN, SCHOOL, {"sessions_ended": 1})]

    async def test_needs_the_csrf_token(
        self, administrator: httpx.AsyncClient, school: httpx.AsyncClient
    ) -> None:
        """Without it: 403, and the key adult is still signed in."""
        answer = await administrator.post(f"/inbox/admin/contacts/{SCHOOL}/suspend")
        assert answer.status_code == 403
        assert (await school.get("/inbox")).status_code == 200


class TestHousehold:
    async def test_members_by_id_audited(
        self, web_app: FastAPI, administrator: httpx.AsyncClient
    ) -> None:
        """The Carters' members by person id and role; the read is audited."""
        page = await administrator.get("/inbox/admin/households", params={"household": "h-carter"})
        assert page.status_code == 200
        assert "p-mother" in page.text
        assert "Carter" not in page.text.replace("h-carter", "")  # ids, not names
        reads = await audited(web_app, "directory_read")
        assert (ADMIN, "h-carter", {"what": "household_members"}) in reads


class TestNavigation:
    async def test_the_administrators_inbox_links_to_it(
        self, administrator: httpx.AsyncClient, school: httpx.AsyncClient
    ) -> None:
        """The administrator's menu has Administration; a school's does not."""
        assert 'href="/inbox/admin"' in (await administrator.get("/inbox")).text
        assert 'href="/inbox/admin"' not in (await school.get("/inbox")).text
