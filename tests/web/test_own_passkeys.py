"""A person's own passkeys at the web inbox, through the real app and database: the list shows
the passkeys of the person whose passkey opened the session (never another person's at the
same contact), the one in use marked; another of theirs is removed after a confirmation page,
by a form with the session's CSRF token, audited, and only the sessions it opened end; the one
in use is kept; another person's is a 404 that says no more than an unknown one's."""

from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI

from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.bootstrap import Runtime
from broker.ports import Passkey
from broker.rules.authenticators import passkey_reference
from broker.rules.passkeys import b64url
from tests.web.conftest import form_token, new_browser, sign_in
from tests.web.soft_authenticator import SoftPasskey
from tests.web.test_admin_pages import audited
from tests.web.test_admin_passkeys import forget_which_passkey
from tests.web.test_passkeys import KEY_ADULT, Enrolled, enrol, passkey_sign_in, soft_passkey

pytestmark = pytest.mark.e2e
OWN = "/inbox/passkeys"


def reference(passkey: SoftPasskey) -> str:
    return passkey_reference(b64url(passkey.credential_id))


async def person_of(app: FastAPI, passkey: SoftPasskey) -> str:
    rt: Runtime = app.state.rt
    async with SqlUnitOfWork(rt.sessions) as uow:
        stored = await uow.passkeys.passkey(b64url(passkey.credential_id))
    assert stored is not None
    return stored.person_id


async def another_of_theirs(app: FastAPI, enrolled: Enrolled) -> SoftPasskey:
    """A second passkey of the enrolled person. No page makes one yet (a recovery replaces
    the person's passkeys), so it is stored as an enrolment stores one: its public key, the
    person as its user handle, the contact's key wrapped (a stand-in: nothing unwraps it)."""
    person_id = await person_of(app, enrolled.passkey)
    second = soft_passkey()
    second.user_handle = person_id.encode()
    rt: Runtime = app.state.rt
    async with SqlUnitOfWork(rt.sessions) as uow:
        await uow.passkeys.add_passkey(Passkey(
            b64url(second.credential_id), person_id, KEY_ADULT, b64url(second.public_key()),
            0, '{"version": 1}', datetime.now(UTC)))  # fmt: skip
    return second


async def signed_in_with(app: FastAPI, passkey: SoftPasskey) -> httpx.AsyncClient:
    browser = new_browser(app)
    answer, _ = await passkey_sign_in(browser, passkey)
    assert answer.status_code == 200, answer.text
    return browser


async def another_person(app: FastAPI) -> Enrolled:
    """A second person at the same contact, enrolled after a sign-in link of their own."""
    return await enrol(app)


async def remove(browser: httpx.AsyncClient, passkey: SoftPasskey,
                 token: str | None = None) -> httpx.Response:  # fmt: skip
    token = token or form_token(await browser.get(OWN))
    return await browser.post(f"{OWN}/{reference(passkey)}/remove", data={"csrf_token": token})


class TestTheList:
    async def test_shows_the_persons_passkeys_only(self, web_app: FastAPI) -> None:
        """Both of the person's passkeys, the one in use marked "This device" with no Remove;
        another person's passkey at the same contact is not in the page, nor any credential
        id."""
        enrolled = await enrol(web_app)
        second = await another_of_theirs(web_app, enrolled)
        other = await another_person(web_app)
        page = await enrolled.browser.get(OWN)
        assert page.status_code == 200, page.text
        assert reference(enrolled.passkey) in page.text
        assert reference(second) in page.text
        assert reference(other.passkey) not in page.text
        assert page.text.count("This device") == 1
        assert f'href="{OWN}/{reference(second)}/remove"' in page.text
        assert f'href="{OWN}/{reference(enrolled.passkey)}/remove"' not in page.text
        assert b64url(enrolled.passkey.credential_id) not in page.text

    async def test_this_device_is_the_passkey_signed_in_with(self, web_app: FastAPI) -> None:
        """Signed in with the second passkey, the mark and the Remove link change places."""
        enrolled = await enrol(web_app)
        second = await another_of_theirs(web_app, enrolled)
        page = await (await signed_in_with(web_app, second)).get(OWN)
        assert f'href="{OWN}/{reference(enrolled.passkey)}/remove"' in page.text
        assert f'href="{OWN}/{reference(second)}/remove"' not in page.text

    async def test_the_menu_links_to_it_and_the_read_is_audited(self, web_app: FastAPI) -> None:
        """The inbox's menu has "Your passkeys"; reading the list is audited by the person."""
        enrolled = await enrol(web_app)
        inbox = await enrolled.browser.get("/inbox")
        assert f'href="{OWN}"' in inbox.text
        await enrolled.browser.get(OWN)
        person_id = await person_of(web_app, enrolled.passkey)
        assert await audited(web_app, "passkeys_listed") == [(person_id, KEY_ADULT,
                                                              {"passkeys": 1})]  # fmt: skip

    async def test_a_link_session_is_told_to_sign_in_with_a_passkey(
        self, web_app: FastAPI, browser: httpx.AsyncClient
    ) -> None:
        """A session a sign-in link opened has no passkey: no list, no menu link, and the
        page says how to see them."""
        await sign_in(web_app, browser, KEY_ADULT)
        assert f'href="{OWN}"' not in (await browser.get("/inbox")).text
        page = await browser.get(OWN)
        assert page.status_code == 200
        assert "sign in with your passkey" in page.text
        assert "<table" not in page.text


class TestRemoving:
    async def test_confirmed_then_removed_audited_and_its_sessions_end(
        self, web_app: FastAPI
    ) -> None:
        """The confirmation page's form removes the passkey (audited with the person as the
        actor); the session it opened ends; the session in use and another person's, opened
        by their passkey, run on; the removed passkey signs in no more."""
        enrolled = await enrol(web_app)
        second = await another_of_theirs(web_app, enrolled)
        lost_device = await signed_in_with(web_app, second)
        other = await another_person(web_app)
        other_device = await signed_in_with(web_app, other.passkey)
        confirm = await enrolled.browser.get(f"{OWN}/{reference(second)}/remove")
        assert confirm.status_code == 200
        assert "Remove this passkey?" in confirm.text
        done = await remove(enrolled.browser, second, form_token(confirm))
        assert (done.status_code, done.headers["location"]) == (303, f"{OWN}?removed=1")
        statuses = [(await b.get("/inbox")).status_code
                    for b in (lost_device, enrolled.browser, other_device)]  # fmt: skip
        assert statuses == [401, 200, 200]
        [(actor, subject, details)] = await audited(web_app, "passkey_revoked")
        assert (actor, subject) == (await person_of(web_app, enrolled.passkey), KEY_ADULT)
        assert (details["credential"], details["sessions_ended"]) == (
            b64url(second.credential_id)[:16], 1)  # fmt: skip
        answer, _ = await passkey_sign_in(new_browser(web_app), second)
        assert answer.status_code == 400
        assert "no longer" in (await enrolled.browser.get(f"{OWN}?removed=1")).text

    async def test_the_confirmation_alone_removes_nothing(self, web_app: FastAPI) -> None:
        """Opening the confirmation page leaves the passkey working."""
        enrolled = await enrol(web_app)
        second = await another_of_theirs(web_app, enrolled)
        await enrolled.browser.get(f"{OWN}/{reference(second)}/remove")
        await signed_in_with(web_app, second)

    async def test_the_passkey_in_use_is_kept(self, web_app: FastAPI) -> None:
        """Its confirmation page and a post naming it are refused (409, saying why); it
        still signs in."""
        enrolled = await enrol(web_app)
        page = await enrolled.browser.get(f"{OWN}/{reference(enrolled.passkey)}/remove")
        posted = await remove(enrolled.browser, enrolled.passkey)
        assert (page.status_code, posted.status_code) == (409, 409)
        assert "You signed in with this passkey" in posted.text
        assert (await enrolled.browser.get("/inbox")).status_code == 200
        await signed_in_with(web_app, enrolled.passkey)

    async def test_another_persons_passkey_is_not_found(self, web_app: FastAPI) -> None:
        """Another person's passkey at the same contact: 404 for the page and the form, in
        the very words an unknown reference gets; it still signs in."""
        enrolled = await enrol(web_app)
        other = await another_person(web_app)
        page = await enrolled.browser.get(f"{OWN}/{reference(other.passkey)}/remove")
        posted = await remove(enrolled.browser, other.passkey)
        unknown = await enrolled.browser.post(f"{OWN}/{'0' * 12}/remove",
                                              data={"csrf_token": form_token(page)})  # fmt: skip
        assert (page.status_code, posted.status_code, unknown.status_code) == (404, 404, 404)
        assert posted.text == unknown.text
        await signed_in_with(web_app, other.passkey)

    async def test_without_the_csrf_token_nothing_is_removed(self, web_app: FastAPI) -> None:
        """A post without the session's token is refused (403) and the passkey still works."""
        enrolled = await enrol(web_app)
        second = await another_of_theirs(web_app, enrolled)
        refused = await remove(enrolled.browser, second, token="forged")
        assert refused.status_code == 403
        await signed_in_with(web_app, second)


class TestSessionsFromBefore:
    async def test_no_list_and_their_removal_signs_them_out(self, web_app: FastAPI) -> None:
        """A passkey session that records no passkey (opened before sessions recorded it)
        cannot tell whose list to show; removing any passkey at the contact ends it, as
        removing did before."""
        enrolled = await enrol(web_app)
        second = await another_of_theirs(web_app, enrolled)
        from_before = await signed_in_with(web_app, second)
        await forget_which_passkey(web_app, second)
        assert "<table" not in (await from_before.get(OWN)).text
        other = await another_person(web_app)
        await remove(other.browser, other.passkey)  # the one in use: refused, nothing ends
        assert (await from_before.get("/inbox")).status_code == 200
        third = await another_of_theirs(web_app, other)
        assert (await remove(other.browser, third)).status_code == 303
        assert (await from_before.get("/inbox")).status_code == 401
        assert (await enrolled.browser.get("/inbox")).status_code == 200
