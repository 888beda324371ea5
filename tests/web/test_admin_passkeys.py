"""An administrator's pages for a contact's passkeys, through the real app and database: the
list names each passkey's authenticator and times, never its id or keys, and is audited; a
passkey is removed only after a confirmation page, by a form with the session's CSRF token,
audited, and then signs in no more; anyone else gets 404."""

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from broker.adapters import db
from broker.bootstrap import Runtime
from broker.config import Settings
from broker.rules.authenticators import passkey_reference
from broker.rules.passkeys import b64url
from tests.web.conftest import form_token, new_browser, sign_in
from tests.web.soft_authenticator import SoftPasskey
from tests.web.test_admin_pages import ADMIN, audited
from tests.web.test_passkeys import KEY_ADULT, Enrolled, enrol, passkey_sign_in

pytestmark = pytest.mark.e2e
PASSKEYS = f"/inbox/admin/contacts/{KEY_ADULT}/passkeys"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"administrators": ["icb-demo"]})


@pytest.fixture
async def administrator(web_app: FastAPI) -> httpx.AsyncClient:
    browser = new_browser(web_app)
    await sign_in(web_app, browser, ADMIN)
    return browser


def reference(enrolled: Enrolled) -> str:
    return passkey_reference(b64url(enrolled.passkey.credential_id))


async def forget_which_passkey(app: FastAPI, passkey: SoftPasskey) -> None:
    """The passkey's sessions as the migration left those opened before it: none recorded."""
    rt: Runtime = app.state.rt
    async with rt.sessions() as session, session.begin():
        await session.execute(update(db.WebSession)
                              .where(db.WebSession.credential_id == b64url(passkey.credential_id))
                              .values(credential_id=None))  # fmt: skip


class TestPasskeyList:
    async def test_names_the_authenticator_and_times_never_the_passkey(
        self, web_app: FastAPI, administrator: httpx.AsyncClient
    ) -> None:
        """The passkey shows by its authenticator's name, reference and when it was set up;
        its credential id is nowhere in the page."""
        enrolled = await enrol(web_app)
        page = await administrator.get(PASSKEYS)
        assert page.status_code == 200, page.text
        assert "Passkey" in page.text
        assert reference(enrolled) in page.text
        assert "Not yet" in page.text  # enrolled, never used to sign in since
        assert b64url(enrolled.passkey.credential_id) not in page.text

    async def test_reading_the_list_is_audited(
        self, web_app: FastAPI, administrator: httpx.AsyncClient
    ) -> None:
        """Who read whose passkeys, and how many there were."""
        await enrol(web_app)
        await administrator.get(PASSKEYS)
        assert await audited(web_app, "passkeys_listed") == [(ADMIN, KEY_ADULT, {"passkeys": 1})]

    async def test_the_organisation_page_links_to_it(
        self, administrator: httpx.AsyncClient
    ) -> None:
        """Each contact on its organisation's page links to its passkeys."""
        page = await administrator.get("/inbox/admin/organisations/school-oakfield")
        assert f'href="{PASSKEYS}"' in page.text


class TestRevoking:
    async def test_confirmed_then_removed_audited_and_signs_in_no_more(
        self, web_app: FastAPI, administrator: httpx.AsyncClient
    ) -> None:
        """The confirmation page's form removes the passkey; the removal is audited; the
        passkey's next sign-in is refused."""
        enrolled = await enrol(web_app)
        confirm = await administrator.get(f"{PASSKEYS}/{reference(enrolled)}/revoke")
        assert confirm.status_code == 200
        assert "Remove this passkey?" in confirm.text
        done = await administrator.post(f"{PASSKEYS}/{reference(enrolled)}/revoke",
                                        data={"csrf_token": form_token(confirm)})  # fmt: skip
        assert (done.status_code, done.headers["location"]) == (303, f"{PASSKEYS}?revoked=1")
        [(actor, subject, details)] = await audited(web_app, "passkey_revoked")
        assert (actor, subject) == (ADMIN, KEY_ADULT)
        assert details["credential"] == b64url(enrolled.passkey.credential_id)[:16]
        answer, _ = await passkey_sign_in(new_browser(web_app), enrolled.passkey)
        assert answer.status_code == 400
        assert "no longer" in (await administrator.get(f"{PASSKEYS}?revoked=1")).text

    async def test_a_session_signed_in_with_a_passkey_ends_with_it(
        self, web_app: FastAPI, administrator: httpx.AsyncClient
    ) -> None:
        """Someone signed in with the passkey (a lost device, still open) is signed out by
        its removal: their next page asks them to sign in."""
        enrolled = await enrol(web_app)
        holder = new_browser(web_app)
        signed_in, _ = await passkey_sign_in(holder, enrolled.passkey)
        assert signed_in.status_code == 200
        assert (await holder.get("/inbox")).status_code == 200
        confirm = await administrator.get(f"{PASSKEYS}/{reference(enrolled)}/revoke")
        await administrator.post(f"{PASSKEYS}/{reference(enrolled)}/revoke",
                                 data={"csrf_token": form_token(confirm)})  # fmt: skip
        assert (await holder.get("/inbox")).status_code == 401
        assert (await administrator.get(PASSKEYS)).status_code == 200  # the admin's, by link

    async def test_only_the_sessions_it_opened_end(
        self, web_app: FastAPI, administrator: httpx.AsyncClient
    ) -> None:
        """Another person's session at the contact, opened by their own passkey, runs on;
        one that records no passkey (opened before sessions recorded it) ends, as before."""
        enrolled, other, third = await enrol(web_app), await enrol(web_app), await enrol(web_app)
        holders = [new_browser(web_app) for _ in range(3)]
        for holder, person in zip(holders, (enrolled, other, third), strict=True):
            assert (await passkey_sign_in(holder, person.passkey))[0].status_code == 200
        await forget_which_passkey(web_app, third.passkey)
        confirm = await administrator.get(f"{PASSKEYS}/{reference(enrolled)}/revoke")
        await administrator.post(f"{PASSKEYS}/{reference(enrolled)}/revoke",
                                 data={"csrf_token": form_token(confirm)})  # fmt: skip
        statuses = [(await holder.get("/inbox")).status_code for holder in holders]
        assert statuses == [401, 200, 401]
        [(_, _, details)] = await audited(web_app, "passkey_revoked")
        assert details["sessions_ended"] == 4  # each passkey's two: its enrolment's, its holder's

    async def test_the_confirmation_alone_removes_nothing(
        self, web_app: FastAPI, administrator: httpx.AsyncClient
    ) -> None:
        """Opening the confirmation page leaves the passkey working."""
        enrolled = await enrol(web_app)
        await administrator.get(f"{PASSKEYS}/{reference(enrolled)}/revoke")
        answer, _ = await passkey_sign_in(new_browser(web_app), enrolled.passkey)
        assert answer.status_code == 200

    async def test_without_the_csrf_token_nothing_is_removed(
        self, web_app: FastAPI, administrator: httpx.AsyncClient
    ) -> None:
        """A post without the session's token is refused (403) and the passkey still works."""
        enrolled = await enrol(web_app)
        refused = await administrator.post(f"{PASSKEYS}/{reference(enrolled)}/revoke",
                                           data={"csrf_token": "forged"})  # fmt: skip
        assert refused.status_code == 403
        answer, _ = await passkey_sign_in(new_browser(web_app), enrolled.passkey)
        assert answer.status_code == 200

    async def test_an_unknown_passkey_is_not_found(
        self, web_app: FastAPI, administrator: httpx.AsyncClient
    ) -> None:
        """A reference no passkey of the contact has: 404 for the page and the form."""
        page = await administrator.get(f"{PASSKEYS}/{'0' * 12}/revoke")
        assert page.status_code == 404
        token = form_token(await administrator.get("/inbox/admin/organisations/school-oakfield"))
        posted = await administrator.post(f"{PASSKEYS}/{'0' * 12}/revoke",
                                          data={"csrf_token": token})  # fmt: skip
        assert posted.status_code == 404

    async def test_a_malformed_reference_is_refused(self, administrator: httpx.AsyncClient) -> None:
        """A reference that is not 12 lower-case hex characters: 422, before any query."""
        assert (await administrator.get(f"{PASSKEYS}/NOT-A-REF/revoke")).status_code == 422


class TestNotAnAdministrator:
    async def test_the_list_and_the_removal_are_not_found(self, web_app: FastAPI) -> None:
        """The key adult is no administrator: 404 for the list and for a removal, and its
        passkey stays."""
        enrolled = await enrol(web_app)
        school = enrolled.browser
        assert (await school.get(PASSKEYS)).status_code == 404
        inbox = await school.get("/inbox")
        posted = await school.post(f"{PASSKEYS}/{reference(enrolled)}/revoke",
                                   data={"csrf_token": form_token(inbox)})  # fmt: skip
        assert posted.status_code == 404
        answer, _ = await passkey_sign_in(new_browser(web_app), enrolled.passkey)
        assert answer.status_code == 200
