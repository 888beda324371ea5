"""Every page of the web inbox, reached through the running broker as its people reach it
(issue 17, item 6): axe-core finds no WCAG 2.2 AA violation, the keyboard alone reaches every
control (the skip link first, to the main content), each with a visible focus, and each page
is saved as a screenshot in the test's output folder."""

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page
from sqlalchemy import update

from broker.adapters import db
from broker.config import Settings
from broker.ports import Passkey, PasskeyPerson
from browser.axe import assert_no_axe_violations
from browser.live_site import LiveSite, crisis, page, sign_in, site

__all__ = ["page", "site"]
pytestmark = [pytest.mark.browser, pytest.mark.e2e,
              pytest.mark.parametrize("database_backend", ["sqlite"], indirect=True)]  # fmt: skip
SCHOOL = "school-oakfield:key_adult"
FRONT_DOOR = "la-front-door:duty_manager"
ADMIN = "icb-demo:designated_safeguarding"
DELIVERED_WITHIN_S = 90  # a bound on a hung run only
Screenshot = Callable[[Page, str], Path]
# Whatever a keyboard can reach: links, buttons, form fields, and anything made focusable.
CONTROLS = (
    "a[href], button, input:not([type=hidden]), select, textarea, summary, "
    "[tabindex]:not([tabindex='-1'])"
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The ICB administers the directory, as in tests/web/test_admin_pages.py."""
    return settings.model_copy(update={"administrators": ["icb-demo"]})


def check(page: Page, screenshot: Screenshot, name: str) -> None:
    """The page as it is now: saved, axe-checked, and walked through with the Tab key."""
    screenshot(page, name)
    by_keyboard(page)  # first: its first Tab is from the top of the page as loaded
    assert_no_axe_violations(page)


def by_keyboard(page: Page) -> None:
    """Tab from the top reaches the skip link first (visible once focused), then every other
    control of the page, each showing where the focus is; the skip link leads to main."""
    count = page.evaluate(
        """(selector) => {
            const found = [...document.querySelectorAll(selector)].filter(
                (e) => !e.disabled && e.getClientRects().length > 0);
            found.forEach((e, i) => e.setAttribute("data-control", String(i)));
            return found.length;
        }""",
        CONTROLS,
    )
    if page.locator(".govuk-error-summary").count():
        # GOV.UK's error summary takes the focus as the page loads, so that its errors are
        # read first; the skip link is then before it.
        assert page.evaluate("() => document.activeElement.className").startswith(
            "govuk-error-summary"
        ), page.url
        for _ in range(20):  # back past the header's controls, to the skip link
            page.keyboard.press("Shift+Tab")
            if page.evaluate("() => document.activeElement.matches('.govuk-skip-link')"):
                break
    else:
        page.keyboard.press("Tab")  # from a page just loaded
    skip = page.evaluate("() => document.activeElement.textContent.trim()")
    assert skip == "Skip to main content", f"the first Tab reached {skip!r} on {page.url}"
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main-content", page.url
    page.evaluate("() => document.querySelector('.govuk-skip-link').focus()")
    reached = set()
    for _ in range(count + 2):
        focus = page.evaluate(
            """() => {
                const e = document.activeElement, s = getComputedStyle(e);
                const visible = s.boxShadow !== "none" ||
                    (s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0);
                const box = e.getBoundingClientRect();
                return {control: e.getAttribute("data-control"), visible,
                        seen: box.width > 1 && box.height > 1, html: e.outerHTML.slice(0, 120)};
            }"""
        )
        if focus["control"] is not None:
            assert focus["visible"], f"no visible focus on {focus['html']} ({page.url})"
            assert focus["seen"], f"focus on an element not shown: {focus['html']} ({page.url})"
            reached.add(int(focus["control"]))
        page.keyboard.press("Tab")
    missed = sorted(set(range(count)) - reached)
    assert not missed, f"Tab never reached controls {missed} on {page.url}"


def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DELIVERED_WITHIN_S
    while not condition():
        assert time.monotonic() < deadline, f"not within {DELIVERED_WITHIN_S} s: {what}"
        time.sleep(0.3)


class TestRecipientPages:
    def test_sign_in_inbox_notice_reject_and_messages(
        self, page: Page, site: LiveSite, screenshot: Screenshot
    ) -> None:
        """The key adult's pages: sign-in, the inbox empty and with a notice, the notice,
        the reject form with its error, a notice not found, signed out, not signed in."""
        page.goto(site.sign_in_link(SCHOOL))
        check(page, screenshot, "sign-in")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/inbox/passkeys/enrol")  # the invitation to set up a passkey
        check(page, screenshot, "passkey-invitation")
        page.goto(f"{site.base_url}/inbox")
        check(page, screenshot, "inbox-empty")
        site.publish(crisis())
        until(lambda: bool(site.inbox_of(SCHOOL)), "the school's notice delivered")
        page.reload()
        check(page, screenshot, "inbox")
        notice_id = site.inbox_of(SCHOOL)[0]
        page.goto(f"{site.base_url}/inbox/notices/{notice_id}")
        check(page, screenshot, "notice")
        page.goto(f"{site.base_url}/inbox/notices/{notice_id}/reject")
        check(page, screenshot, "reject")
        page.locator("main form button[type=submit]").click()
        page.wait_for_selector(".govuk-error-summary")
        check(page, screenshot, "reject-error")
        page.goto(f"{site.base_url}/inbox/notices/00000000-0000-4000-8000-000000000000")
        check(page, screenshot, "notice-not-found")
        page.goto(f"{site.base_url}/inbox")
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url("**/inbox/signed-out")
        check(page, screenshot, "signed-out")
        page.goto(f"{site.base_url}/inbox")
        check(page, screenshot, "not-signed-in")


class TestFrontDoorPages:
    def test_queue_chronology_proposals_next_steps_and_data_quality(
        self, page: Page, site: LiveSite, screenshot: Screenshot
    ) -> None:
        """The duty manager's pages, with a crisis about someone unknown in the queue and
        the Carters' crisis in the chronology."""
        site.publish(crisis())
        unknown = crisis() | {"subject": {"local_id": "mh-4471", "given_name": "Jessica",
                                          "family_name": "Carter"}}  # fmt: skip
        site.publish(unknown)
        sign_in(page, site, FRONT_DOOR)
        front_door = f"{site.base_url}/inbox/front-door"

        def queued() -> bool:
            page.goto(f"{front_door}/matching-queue")
            return page.locator("main form").count() > 0

        until(queued, "the unknown person's event in the matching queue")
        check(page, screenshot, "matching-queue")
        page.goto(f"{front_door}/chronology?household=h-carter")
        check(page, screenshot, "chronology")
        for name in ("proposals", "next-steps", "data-quality"):
            page.goto(f"{front_door}/{name}")
            check(page, screenshot, name)


class TestAdministratorPages:
    def test_organisations_an_organisation_and_a_household(
        self, page: Page, site: LiveSite, screenshot: Screenshot
    ) -> None:
        """The administrator's read-only directory views and the contact actions."""
        sign_in(page, site, ADMIN)
        admin = f"{site.base_url}/inbox/admin"
        page.goto(admin)
        check(page, screenshot, "organisations")
        page.goto(f"{admin}/organisations/school-oakfield")
        check(page, screenshot, "organisation")
        page.goto(f"{admin}/households?household=h-carter")
        check(page, screenshot, "household")


class TestAdministratorPasskeyPages:
    def test_a_contacts_passkeys_removing_one_and_done(
        self, page: Page, site: LiveSite, screenshot: Screenshot
    ) -> None:
        """The key adult's passkeys as the administrator sees them (none, then one), the
        confirmation before removing it, and the list once it is removed."""
        sign_in(page, site, ADMIN)
        passkeys = f"{site.base_url}/inbox/admin/contacts/{SCHOOL}/passkeys"
        page.goto(passkeys)
        check(page, screenshot, "admin-passkeys-none")
        site.call(_a_passkey_of(site, SCHOOL))
        page.goto(passkeys)
        check(page, screenshot, "admin-passkeys")
        page.get_by_role("link", name="Remove").click()
        page.wait_for_url("**/revoke")
        check(page, screenshot, "admin-passkey-remove")
        page.get_by_role("button", name="Remove the passkey").click()
        page.wait_for_url("**/passkeys?revoked=1")
        check(page, screenshot, "admin-passkey-removed")


class TestOwnPasskeyPages:
    def test_your_passkeys_removing_one_and_done(
        self, page: Page, site: LiveSite, screenshot: Screenshot
    ) -> None:
        """The key adult's own passkeys (signed in by a link: how to see them; by a passkey:
        the list, this device marked), the confirmation before removing the other, and the
        list once it is removed."""
        sign_in(page, site, SCHOOL)
        page.goto(f"{site.base_url}/inbox/passkeys")
        check(page, screenshot, "own-passkeys-by-link")
        site.call(_a_passkey_of(site, SCHOOL))
        site.call(_a_passkey_of(site, SCHOOL, "a11y-other", days=30))
        site.call(_opened_by(site, SCHOOL, "a11y-credential"))
        page.goto(f"{site.base_url}/inbox")
        page.get_by_role("link", name="Your passkeys").click()
        page.wait_for_url("**/inbox/passkeys")
        check(page, screenshot, "own-passkeys")
        page.get_by_role("link", name="Remove").click()
        page.wait_for_url("**/remove")
        check(page, screenshot, "own-passkey-remove")
        page.get_by_role("button", name="Remove the passkey").click()
        page.wait_for_url("**/passkeys?removed=1")
        check(page, screenshot, "own-passkey-removed")


async def _a_passkey_of(site: LiveSite, contact_id: str, credential_id: str = "a11y-credential",
                        days: int = 3) -> None:  # fmt: skip
    """A person and a passkey, as an enrolment stores them (the browser test enrols one for
    real); its authenticator Windows Hello, so that the list names it."""
    now = datetime.now(UTC)
    person = "6f1c7a52-0000-4000-8000-0000000000a1"
    async with site.rt.unit_of_work() as uow:
        if await uow.passkeys.person_by_recovery("a" * 64) is None:
            await uow.passkeys.add_person(PasskeyPerson(person, contact_id, "a" * 64, "{}", now))
        await uow.passkeys.add_passkey(Passkey(credential_id, person, contact_id, "pk", 0,
                                               "{}", now - timedelta(days=days), now,
                                               "08987058-cadc-4b81-b6e1-30de50dcbe96"))  # fmt: skip


async def _opened_by(site: LiveSite, contact_id: str, credential_id: str) -> None:
    """The contact's live session as if that passkey had opened it (the browser test signs
    in with one for real): the page's rendering is what is checked here."""
    live = update(db.WebSession).where(db.WebSession.contact_id == contact_id,
                                       db.WebSession.ended_at.is_(None))  # fmt: skip
    async with site.rt.sessions() as session, session.begin():
        await session.execute(live.values(signed_in_with="passkey", credential_id=credential_id))
