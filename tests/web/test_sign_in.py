"""Signing in to the web inbox with a one-time link, through the real app and database: the
session cookie's flags, the link used once and only for 15 minutes, CSRF, signing out."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from broker.adapters import audit, db
from broker.bootstrap import Runtime
from tests.web.conftest import follow_link, form_token, issue_link, new_browser, sign_in

pytestmark = pytest.mark.integration
KEY_ADULT = "school-oakfield:key_adult"


class TestSignInLink:
    async def test_starts_a_session_in_a_strict_http_only_cookie(
        self, web_app: FastAPI, browser: httpx.AsyncClient
    ) -> None:
        """The link's button signs in: 303 to enrol a passkey, the session id in a cookie that
        scripts cannot read and other sites cannot send, with no lifetime of its own."""
        answer = await follow_link(browser, await issue_link(web_app, KEY_ADULT))
        assert (answer.status_code, answer.headers["location"]) == (303, "/inbox/passkeys/enrol")
        cookie = next(
            c for c in answer.headers.get_list("set-cookie") if c.startswith("sgb-session=")
        )
        flags = {f.strip().lower() for f in cookie.split(";")[1:]}
        assert {"httponly", "samesite=strict", "path=/"} <= flags
        assert not any(f.startswith(("max-age", "expires")) for f in flags)
        assert (await browser.get("/inbox")).status_code == 200

    async def test_opening_the_link_does_not_spend_it(
        self, web_app: FastAPI, browser: httpx.AsyncClient
    ) -> None:
        """A mail scanner following the link only gets the page with the button."""
        token = await issue_link(web_app, KEY_ADULT)
        await new_browser(web_app).get(f"/inbox/sign-in/{token}")
        assert (await follow_link(browser, token)).status_code == 303

    async def test_used_once(self, web_app: FastAPI, browser: httpx.AsyncClient) -> None:
        """A second use is refused, with no session, and the refusal audited."""
        token = await issue_link(web_app, KEY_ADULT)
        assert (await follow_link(browser, token)).status_code == 303
        again = new_browser(web_app)
        answer = await follow_link(again, token)
        assert answer.status_code == 400
        assert "cannot be used" in answer.text
        assert (await again.get("/inbox")).status_code == 401
        rt: Runtime = web_app.state.rt
        async with rt.sessions() as session:
            actions = (await session.scalars(select(audit.AuditEntry.action))).all()
        assert {"sign_in_link_issued", "signed_in", "sign_in_refused"} <= set(actions)

    async def test_expires_after_15_minutes(
        self, web_app: FastAPI, browser: httpx.AsyncClient
    ) -> None:
        """A link issued 15 minutes ago signs nobody in."""
        issued_at = datetime.now(UTC) - timedelta(minutes=15, seconds=1)
        answer = await follow_link(browser, await issue_link(web_app, KEY_ADULT, issued_at))
        assert answer.status_code == 400
        assert (await browser.get("/inbox")).status_code == 401

    async def test_only_its_hash_is_stored(self, web_app: FastAPI) -> None:
        """The database holds the token's hash, never the token."""
        token = await issue_link(web_app, KEY_ADULT)
        rt: Runtime = web_app.state.rt
        async with rt.sessions() as session:
            stored = (await session.scalars(select(db.WebSignInLink.token_hash))).all()
        assert len(stored) == 1
        assert token not in stored

    async def test_sign_in_form_needs_its_csrf_token(
        self, web_app: FastAPI, browser: httpx.AsyncClient
    ) -> None:
        """Posted without the page's token (a cross-site form): 403, and the link unspent."""
        token = await issue_link(web_app, KEY_ADULT)
        refused = await browser.post("/inbox/sign-in", data={"token": token, "csrf_token": "x"})
        assert refused.status_code == 403
        assert (await follow_link(browser, token)).status_code == 303


class TestHowToSignInAgain:
    async def test_a_links_person_is_told_to_ask_for_a_new_link(
        self, web_app: FastAPI, browser: httpx.AsyncClient
    ) -> None:
        """Signed out after a link (no passkey yet): ask for a new link, no passkey offered."""
        await sign_in(web_app, browser, KEY_ADULT)
        inbox = await browser.get("/inbox")
        answer = await browser.post("/inbox/sign-out", data={"csrf_token": form_token(inbox)})
        page = await browser.get(answer.headers["location"])
        assert "ask your administrator for a new sign-in link" in page.text
        assert "/inbox/passkeys/sign-in" not in page.text

    async def test_anyone_not_signed_in_is_offered_both_ways(
        self, browser: httpx.AsyncClient
    ) -> None:
        """Not signed in, or a spent link: the passkey sign-in first, a new link for those
        without a passkey, in the same words on both pages."""
        browser.cookies.set("sgb-sign-in-csrf", "t")
        spent = await browser.post("/inbox/sign-in", data={"token": "spent", "csrf_token": "t"})
        assert spent.status_code == 400
        for page in (await browser.get("/inbox"), spent):
            assert 'href="/inbox/passkeys/sign-in"' in page.text
            assert "If you have not set up a passkey yet, ask your administrator" in page.text

    async def test_a_notice_asked_for_signed_out_is_where_the_passkey_sign_in_returns(
        self, browser: httpx.AsyncClient
    ) -> None:
        """An alert's link followed signed out: the passkey sign-in is offered with the way
        back to that notice (the sign-in page's script goes on to it, and only to such a
        page)."""
        notice = "/inbox/notices/0b6e1f4e-3c1a-4d2b-9a55-2f1c7d8e9a10"
        page = await browser.get(notice)
        assert page.status_code == 401
        assert ('href="/inbox/passkeys/sign-in?next=%2Finbox%2Fnotices%2F'
                '0b6e1f4e-3c1a-4d2b-9a55-2f1c7d8e9a10"') in page.text  # fmt: skip

    @pytest.mark.parametrize("path", [
        "/inbox", "/inbox/front-door/matching-queue",
        "/inbox/notices/0b6e1f4e-3c1a-4d2b-9a55-2f1c7d8e9a10/reject",
    ])  # fmt: skip
    async def test_any_other_page_offers_the_plain_sign_in(
        self, browser: httpx.AsyncClient, path: str
    ) -> None:
        """No way back is offered to anything but a notice's own page."""
        page = await browser.get(path)
        assert 'href="/inbox/passkeys/sign-in"' in page.text
        assert "next=" not in page.text


class TestSession:
    async def test_no_cookie_is_not_signed_in(self, browser: httpx.AsyncClient) -> None:
        """Without a session the inbox says so: 401, a page telling how to sign in."""
        answer = await browser.get("/inbox")
        assert answer.status_code == 401
        assert "Sign in to continue" in answer.text

    async def test_a_made_up_session_id_is_not_signed_in(self, browser: httpx.AsyncClient) -> None:
        """A cookie naming no session is no session."""
        browser.cookies.set("sgb-session", "made-up")
        assert (await browser.get("/inbox")).status_code == 401

    async def test_idle_for_30_minutes_ends_it(
        self, web_app: FastAPI, browser: httpx.AsyncClient
    ) -> None:
        """A session last seen 30 minutes ago is over."""
        await sign_in(web_app, browser, KEY_ADULT)
        rt: Runtime = web_app.state.rt
        async with rt.sessions.begin() as session:
            row = (await session.scalars(select(db.WebSession))).one()
            row.last_seen_at = datetime.now(UTC) - timedelta(minutes=30)
        assert (await browser.get("/inbox")).status_code == 401

    async def test_signing_out_ends_it(self, web_app: FastAPI, browser: httpx.AsyncClient) -> None:
        """After signing out the same cookie opens nothing."""
        await sign_in(web_app, browser, KEY_ADULT)
        old = dict(browser.cookies)
        inbox = await browser.get("/inbox")
        answer = await browser.post("/inbox/sign-out", data={"csrf_token": form_token(inbox)})
        assert (answer.status_code, answer.headers["location"]) == (303, "/inbox/signed-out")
        replay = new_browser(web_app)
        replay.cookies.update(old)
        assert (await replay.get("/inbox")).status_code == 401

    async def test_signing_out_needs_the_csrf_token(
        self, web_app: FastAPI, browser: httpx.AsyncClient
    ) -> None:
        """A cross-site form cannot sign anyone out: 403, the session still live."""
        await sign_in(web_app, browser, KEY_ADULT)
        assert (await browser.post("/inbox/sign-out", data={})).status_code == 403
        assert (await browser.get("/inbox")).status_code == 200
