"""The web inbox's pages through the real inbox app, Kafka, the router and a real database:
an event published at the gateway reaches the school's inbox, and its key adult reads the
list, opens the notice page (the sealed notice, for the browser to open), acknowledges or
rejects it; nobody sees another recipient's notice (404, not 403)."""

import asyncio
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from conftest import Routed, every_notice_in_its_inbox
from fastapi import FastAPI
from sqlalchemy import select

from broker.adapters import audit, db
from broker.bootstrap import Runtime
from broker.demo import family
from producers.receiver import NoticeReceiver
from schemas.notices import SealedNotice
from tests.web.conftest import form_token, sign_in

pytestmark = pytest.mark.e2e
SCHOOL = "school-oakfield:key_adult"
MOTHERS_GP = "gp-riverside:safeguarding_lead"
REASON = "Leo Carter left Oakfield Primary School in October"


def crisis() -> dict[str, Any]:
    return {"event_type": "parent_mental_health_crisis", "event_id": str(uuid.uuid4()),
            "source_org": "mh-demo", "occurred_at": datetime.now(UTC).isoformat(),
            "subject": {"nhs_number": family.MOTHER}, "suicidal_ideation": True}  # fmt: skip


async def notice_of(app: FastAPI, recipient: str, timeout: float = 60) -> db.InboxNotice:
    """The recipient's notice, once the router has delivered it to the inbox."""
    rt: Runtime = app.state.rt
    async with asyncio.timeout(timeout):
        while True:
            async with rt.sessions() as session:
                query = select(db.InboxNotice).where(db.InboxNotice.recipient_id == recipient)
                found = (await session.scalars(query)).first()
            if found is not None:
                return found
            await asyncio.sleep(0.2)


async def record_of(app: FastAPI, notice_id: str) -> db.NoticeRecord:
    rt: Runtime = app.state.rt
    async with rt.sessions() as session:
        record = await session.get(db.NoticeRecord, notice_id)
    assert record is not None
    return record


# Published at the gateway, routed and delivered once a session; each test gets a copy.
CRISIS_ROUTED = Routed("mothers-crisis", lambda: [crisis()], every_notice_in_its_inbox)


@pytest.fixture
def already_routed() -> Routed:
    return CRISIS_ROUTED


@pytest.fixture
async def notices(web_app: FastAPI, already_routed: Routed) -> dict[str, db.InboxNotice]:
    """A mother's crisis, published, routed and delivered (``already_routed``): the school's notice
    and her GP's, in their inboxes."""
    return {who: await notice_of(web_app, who) for who in (SCHOOL, MOTHERS_GP)}


@pytest.fixture
async def key_adult(web_app: FastAPI, browser: httpx.AsyncClient) -> httpx.AsyncClient:
    """The school's key adult, signed in."""
    await sign_in(web_app, browser, SCHOOL)
    return browser


def london(at: datetime) -> str:
    local = at.astimezone(ZoneInfo("Europe/London"))
    return f"{local:%A} {local.day} {local:%B %Y} at {local:%H:%M}"


class TestInboxPage:
    async def test_lists_the_recipients_own_notices(
        self, key_adult: httpx.AsyncClient, notices: dict[str, db.InboxNotice]
    ) -> None:
        """The school's notice, its due time in London time, severity and status; not the
        GP's."""
        page = await key_adult.get("/inbox")
        assert page.status_code == 200
        school = notices[SCHOOL]
        assert f'href="/inbox/notices/{school.notice_id}"' in page.text
        assert london(school.deadline) in page.text
        assert ">High<" in page.text
        assert ">New<" in page.text
        assert notices[MOTHERS_GP].notice_id not in page.text

    async def test_loads_nothing_from_elsewhere(self, key_adult: httpx.AsyncClient) -> None:
        """Every script, stylesheet and image is this site's, as the CSP also says; the
        GOV.UK assets are served."""
        page = await key_adult.get("/inbox")
        urls = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert urls
        assert all(url.startswith(("/", "#")) for url in urls), urls
        assert "default-src 'self'" in page.headers["content-security-policy"]
        for asset in ("/inbox/static/govuk/govuk-frontend.min.css",
                      "/assets/fonts/bold-b542beb274-v2.woff2"):  # fmt: skip
            assert (await key_adult.get(asset)).status_code == 200, asset

    async def test_scripts_are_served_as_javascript(self, key_adult: httpx.AsyncClient) -> None:
        """Each script the pages load answers as JavaScript: a browser runs no module
        served under another type."""
        page = await key_adult.get("/inbox")
        scripts = re.findall(r'<script[^>]* src="([^"]+)"', page.text)
        scripts += ["/inbox/static/govuk/govuk-frontend.min.js", "/inbox/static/js/notice-page.js"]
        for script in scripts:
            answer = await key_adult.get(script)
            assert answer.status_code == 200, script
            assert "javascript" in answer.headers["content-type"], script


class TestNoticePage:
    async def test_embeds_the_sealed_notice_only_its_recipient_opens(
        self, web_app: FastAPI, key_adult: httpx.AsyncClient,
        notices: dict[str, db.InboxNotice], recipient_keys: dict[str, Any],
    ) -> None:  # fmt: skip
        """The page carries the notice sealed, as the broker signed it, and "Opening...": the
        school's own key opens what it embeds; the page itself names nobody."""
        page = await key_adult.get(f"/inbox/notices/{notices[SCHOOL].notice_id}")
        assert page.status_code == 200
        assert "Opening..." in page.text
        embedded = re.search(r'<script type="application/json" id="sealed-notice">(.*?)</script>',
                             page.text, re.S)  # fmt: skip
        assert embedded
        sealed = SealedNotice.model_validate(json.loads(embedded.group(1)))
        broker = web_app.state.rt.keys.public  # the keys the notice was routed with
        _, body = NoticeReceiver(recipient_keys[SCHOOL], broker).open(sealed)
        assert [p.given_name for p in body.about] == ["Leo"]
        # Outside the embedded ciphertext and keys (base64, where any three letters may turn
        # up by chance: "GsLeou" failed a CI run), the page names nobody.
        readable = re.sub(r'<script type="application/json"[^>]*>.*?</script>', "", page.text,
                          flags=re.S)  # fmt: skip
        assert "Leo" not in readable
        assert "Carter" not in readable

    async def test_each_view_is_audited(
        self, web_app: FastAPI, key_adult: httpx.AsyncClient, notices: dict[str, db.InboxNotice]
    ) -> None:
        """Two views, two ``notice_read`` entries under the key adult; the first delivers."""
        notice_id = notices[SCHOOL].notice_id
        for _ in range(2):
            assert (await key_adult.get(f"/inbox/notices/{notice_id}")).status_code == 200
        rt: Runtime = web_app.state.rt
        async with rt.sessions() as session:
            entry = audit.AuditEntry
            query = select(entry).where(entry.subject_ref == notice_id,
                                        entry.action == "notice_read")  # fmt: skip
            reads = (await session.scalars(query)).all()
        assert [r.actor for r in reads] == [SCHOOL, SCHOOL]
        assert (await record_of(web_app, notice_id)).delivered_via == "web"

    async def test_another_recipients_notice_is_not_found(
        self, web_app: FastAPI, key_adult: httpx.AsyncClient, notices: dict[str, db.InboxNotice]
    ) -> None:
        """The GP's notice answers as a notice that does not exist: 404 both, and the
        refusal counted."""
        other = await key_adult.get(f"/inbox/notices/{notices[MOTHERS_GP].notice_id}")
        nowhere = await key_adult.get(f"/inbox/notices/{uuid.uuid4()}")
        assert other.status_code == nowhere.status_code == 404
        assert other.text == nowhere.text
        rt: Runtime = web_app.state.rt
        async with rt.sessions() as session:
            refused = (await session.scalars(select(db.RefusalCount))).all()
        assert any(r.status == 404 and r.caller == SCHOOL for r in refused)

    async def test_another_recipients_notice_cannot_be_acknowledged(
        self, web_app: FastAPI, key_adult: httpx.AsyncClient, notices: dict[str, db.InboxNotice]
    ) -> None:
        """With a good CSRF token, acknowledging the GP's notice is a 404 and changes nothing."""
        token = form_token(await key_adult.get("/inbox"))
        gp_notice = notices[MOTHERS_GP].notice_id
        answer = await key_adult.post(f"/inbox/notices/{gp_notice}/acknowledge",
                                      data={"csrf_token": token})  # fmt: skip
        assert answer.status_code == 404
        assert (await record_of(web_app, gp_notice)).acknowledged_at is None

    async def test_another_recipients_notice_has_no_reject_form(
        self, key_adult: httpx.AsyncClient, notices: dict[str, db.InboxNotice]
    ) -> None:
        """The reject form of the GP's notice is a 404 too."""
        gp_notice = notices[MOTHERS_GP].notice_id
        assert (await key_adult.get(f"/inbox/notices/{gp_notice}/reject")).status_code == 404


class TestAcknowledge:
    async def test_acknowledged_and_shown(
        self, web_app: FastAPI, key_adult: httpx.AsyncClient, notices: dict[str, db.InboxNotice]
    ) -> None:
        """The form acknowledges it: recorded, and the page shows the receipt with no form."""
        notice_id = notices[SCHOOL].notice_id
        page = await key_adult.get(f"/inbox/notices/{notice_id}")
        answer = await key_adult.post(f"/inbox/notices/{notice_id}/acknowledge",
                                      data={"csrf_token": form_token(page)})  # fmt: skip
        assert answer.status_code == 303
        assert (await record_of(web_app, notice_id)).acknowledged_at is not None
        shown = await key_adult.get(answer.headers["location"])
        assert "You acknowledged this notice." in shown.text
        assert "Acknowledged</dt>" in shown.text
        assert "/acknowledge" not in shown.text

    async def test_needs_the_csrf_token(
        self, web_app: FastAPI, key_adult: httpx.AsyncClient, notices: dict[str, db.InboxNotice]
    ) -> None:
        """Without the session's token (a cross-site form): 403, nothing recorded."""
        notice_id = notices[SCHOOL].notice_id
        answer = await key_adult.post(f"/inbox/notices/{notice_id}/acknowledge",
                                      data={"csrf_token": "guessed"})  # fmt: skip
        assert answer.status_code == 403
        assert (await record_of(web_app, notice_id)).acknowledged_at is None

    async def test_a_rejected_notice_cannot_be_acknowledged(
        self, web_app: FastAPI, key_adult: httpx.AsyncClient, notices: dict[str, db.InboxNotice]
    ) -> None:
        """Once rejected, acknowledging it is refused (409) in the service's words."""
        notice_id = notices[SCHOOL].notice_id
        form = {"csrf_token": form_token(await key_adult.get("/inbox"))}
        rejected = await key_adult.post(f"/inbox/notices/{notice_id}/reject",
                                        data=form | {"reason": REASON})  # fmt: skip
        assert rejected.status_code == 303
        answer = await key_adult.post(f"/inbox/notices/{notice_id}/acknowledge", data=form)
        assert answer.status_code == 409
        assert "cannot also be acknowledged" in answer.text
        assert (await record_of(web_app, notice_id)).acknowledged_at is None


class TestReject:
    async def test_needs_a_reason(
        self, web_app: FastAPI, key_adult: httpx.AsyncClient, notices: dict[str, db.InboxNotice]
    ) -> None:
        """No reason: 400, the GOV.UK error summary linking to the field; nothing recorded."""
        notice_id = notices[SCHOOL].notice_id
        form = {"csrf_token": form_token(await key_adult.get(f"/inbox/notices/{notice_id}/reject"))}
        answer = await key_adult.post(f"/inbox/notices/{notice_id}/reject",
                                      data=form | {"reason": "  "})  # fmt: skip
        assert answer.status_code == 400
        assert 'class="govuk-error-summary"' in answer.text
        assert 'href="#reason"' in answer.text
        assert (await record_of(web_app, notice_id)).rejected_at is None

    async def test_rejected_with_its_reason_sealed(
        self, web_app: FastAPI, key_adult: httpx.AsyncClient, notices: dict[str, db.InboxNotice]
    ) -> None:
        """The reason is recorded sealed (not in plaintext) and the rejection shown."""
        notice_id = notices[SCHOOL].notice_id
        form = {"csrf_token": form_token(await key_adult.get(f"/inbox/notices/{notice_id}/reject"))}
        answer = await key_adult.post(f"/inbox/notices/{notice_id}/reject",
                                      data=form | {"reason": REASON})  # fmt: skip
        assert answer.status_code == 303
        record = await record_of(web_app, notice_id)
        assert record.rejected_at is not None
        assert record.rejection_reason
        assert "Oakfield" not in record.rejection_reason
        shown = await key_adult.get(answer.headers["location"])
        assert "You rejected this notice" in shown.text


class TestViewed:
    async def test_recorded_when_the_browser_opened_it(
        self, web_app: FastAPI, key_adult: httpx.AsyncClient, notices: dict[str, db.InboxNotice]
    ) -> None:
        """The page's script posts it with the CSRF token in a header: 204, recorded."""
        notice_id = notices[SCHOOL].notice_id
        page = await key_adult.get(f"/inbox/notices/{notice_id}")
        token = re.search(r'data-csrf-token="([^"]+)"', page.text)
        assert token
        answer = await key_adult.post(f"/inbox/notices/{notice_id}/viewed",
                                      headers={"x-csrf-token": token.group(1)})  # fmt: skip
        assert answer.status_code == 204
        assert (await record_of(web_app, notice_id)).viewed_at is not None

    async def test_needs_the_csrf_token(
        self, web_app: FastAPI, key_adult: httpx.AsyncClient, notices: dict[str, db.InboxNotice]
    ) -> None:
        """Without the header: 403, not recorded."""
        notice_id = notices[SCHOOL].notice_id
        answer = await key_adult.post(f"/inbox/notices/{notice_id}/viewed")
        assert answer.status_code == 403
        assert (await record_of(web_app, notice_id)).viewed_at is None
