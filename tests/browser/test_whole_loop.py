"""Issue 17's whole loop in a real Chromium, through the real components: an event published
through the gateway is routed and delivered over Kafka; the alert worker emails the school's
key adult at a local SMTP server, with nothing of the notice in it; the email's link asks the
key adult to sign in, which they do with a passkey (Chromium's virtual authenticator with PRF);
from the inbox they open the notice in the page (its plaintext never on the wire) and
acknowledge it; the front door's duty manager, signed in in a browser of their own, sees the
receipt in the household chronology.

Then, on the same harness: the duty manager matches an unknown person in the matching queue
and confirms a family's move; the key adult rejects a notice with a reason, and the duty
manager opens the notice it became, sealed with the hybrid ML-KEM-768 + X25519 suite, in the
page. Every page is saved as a screenshot and checked with axe-core.

Each test has a site of its own (the database, the router, the delivery and alert workers,
the inbox app on http://localhost, a name WebAuthn accepts): the broker's fixtures are per
test. Chromium is launched after the site, as in live_site.py, since Playwright's sync API
must not find pytest's event loop running.
"""

import base64
import json
import re
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from playwright.sync_api import Browser, Page, expect, sync_playwright

from broker.alert_settings import AlertSettings, SmtpSettings
from broker.config import Settings
from broker.demo import family
from broker.fixtures.partnership import directory as partnership_directory
from broker.services.follow_ups import reroute_id
from browser.axe import assert_no_axe_violations
from browser.live_site import LiveSite, crisis, live_site, sign_in
from browser.passkeys import (
    Invitation,
    add_authenticator,
    arrives,
    chromium_args,
    chromium_executable,
    enrol,
    write_key_file,
)
from browser.wire import assert_never_on_the_wire, record_wire
from producers import crypto
from schemas.notices import HpkeSuiteName
from tests.alert_content import leaks, personal_data
from tests.alert_servers import SmtpSink, smtp_sink

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
SCHOOL = "school-oakfield:key_adult"
FRONT_DOOR = "la-front-door:duty_manager"
KEY_ADULT_EMAIL = "dsl@oakfield.example.org"
WITHIN_S = 90  # a bound on a hung run only
ONLY_SQLITE = pytest.mark.parametrize("database_backend", ["sqlite"], indirect=True)
Screenshot = Callable[[Page, str], Path]


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with smtp_sink() as sink:
        yield sink


@pytest.fixture
def settings(settings: Settings, smtp: SmtpSink) -> Settings:
    """The local SMTP server as the partnership's mail relay, polled often."""
    relay = SmtpSettings(host="127.0.0.1", port=smtp.port, starttls=False,
                         from_address="alerts@partnership.example.org")  # fmt: skip
    return settings.model_copy(update={"alerts": AlertSettings(smtp=relay, poll_seconds=0.2)})


@pytest.fixture
def site(
    settings: Settings, directory: None, producer_keys: dict[str, Ed25519PrivateKey]
) -> Iterator[LiveSite]:
    with live_site(settings, producer_keys, host="localhost") as running:
        yield running


@pytest.fixture
def browser(site: LiveSite) -> Iterator[Browser]:
    """Chromium, launched after the site; each person gets a context (a browser) of their own."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=chromium_executable(), headless=True, args=chromium_args()
        )
        yield chromium
        chromium.close()


def check(page: Page, screenshot: Screenshot, name: str) -> None:
    """The page as it is now: saved, and with no WCAG 2.2 AA violation found by axe."""
    screenshot(page, name)
    assert_no_axe_violations(page)


def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WITHIN_S
    while not condition():
        assert time.monotonic() < deadline, f"not within {WITHIN_S} s: {what}"
        time.sleep(0.3)


def person_page(browser: Browser) -> Page:
    return browser.new_context().new_page()


def event(event_type: str, source: str, **fields: Any) -> dict[str, Any]:
    return {"event_type": event_type, "event_id": str(uuid.uuid4()), "source_org": source,
            "occurred_at": datetime.now(UTC).isoformat(), **fields}  # fmt: skip


class TestWholeLoop:
    def test_event_alert_passkey_notice_acknowledged_and_seen_at_the_front_door(
        self, site: LiveSite, browser: Browser, smtp: SmtpSink, tmp_path: Path,
        recipient_keys: dict[str, Any], screenshot: Screenshot,
    ) -> None:  # fmt: skip
        """A mother's crisis reaches the school's key adult as an email with no personal
        data whose link leads to the notice; opened with the passkey's key and acknowledged,
        its receipt shows in the Carters' chronology at the front door."""
        site.call(_alert_by_email(site, SCHOOL, KEY_ADULT_EMAIL))
        published = crisis() | {"clinical_summary": "Expressed plans to end her life."}
        site.publish(published)
        until(lambda: bool(smtp.messages), "the alert email at the SMTP server")
        [notice_id] = site.inbox_of(SCHOOL)

        link = _alert_link(smtp, published["event_type"])
        assert link == f"{site.base_url}/inbox/notices/{notice_id}"

        key_adult = person_page(browser)
        wire = record_wire(key_adult)
        add_authenticator(key_adult)
        key_file, key_secret = write_key_file(recipient_keys[SCHOOL], tmp_path)
        token = site.sign_in_link(SCHOOL).rsplit("/", 1)[1]
        invitation = Invitation(token, notice_id, ["Leo"], key_file, key_secret)
        enrol(key_adult, site.base_url, invitation, screenshot)
        # axe only after the ceremonies: injected before one, it left Chromium's get() pending
        # (test_passkeys.py checks the passkey pages themselves).
        _follow_the_link_and_sign_in_with_the_passkey(key_adult, site, link, screenshot)
        key_adult.goto(f"{site.base_url}/inbox")
        check(key_adult, screenshot, "inbox")
        key_adult.locator(f"a[href='/inbox/notices/{notice_id}']").click()
        key_adult.wait_for_url(link)
        expect(key_adult.locator("#notice-status")).to_have_text(
            "Opened in this browser.", timeout=20_000
        )
        fields = key_adult.locator("#notice-fields").inner_text()
        assert "Leo" in fields
        check(key_adult, screenshot, "notice-opened")
        key_adult.get_by_role("button", name="Acknowledge: we will act on it").click()
        key_adult.wait_for_url(f"{link}?done=acknowledged")
        expect(key_adult.get_by_text("You acknowledged this notice.")).to_be_visible()
        check(key_adult, screenshot, "notice-acknowledged")
        # The child's family name and date of birth (long enough not to turn up by chance in
        # base64, as "Leo" alone may), the key and its file.
        secrets = ["Carter", _born("p-child-b"), key_secret.hex(),
                   key_file.read_text().split("-----")[2].strip()]  # fmt: skip
        assert_never_on_the_wire(wire, secrets)

        duty_manager = person_page(browser)
        sign_in(duty_manager, site, FRONT_DOOR)
        chronology = f"{site.base_url}/inbox/front-door/chronology?household={family.HOUSEHOLD}"

        def receipt_shown() -> bool:
            duty_manager.goto(chronology)
            rows = duty_manager.locator("tbody tr").all_inner_texts()
            return any("Acknowledged" in row and SCHOOL in row for row in rows)

        until(receipt_shown, "the school's acknowledgement in the Carters' chronology")
        check(duty_manager, screenshot, "front-door-chronology")

    @ONLY_SQLITE
    def test_front_door_matches_an_unknown_person_in_the_queue(
        self, site: LiveSite, browser: Browser, screenshot: Screenshot
    ) -> None:
        """A crisis about someone the directory does not know waits in the queue; matched
        to the Carters' mother in the browser, it is routed to her family's school."""
        unknown = crisis() | {"subject": {"local_id": "mh-4471", "given_name": "Jessica",
                                          "family_name": "Carter"}}  # fmt: skip
        site.publish(unknown)
        duty_manager = person_page(browser)
        sign_in(duty_manager, site, FRONT_DOOR)
        queue = f"{site.base_url}/inbox/front-door/matching-queue"

        def queued() -> bool:
            duty_manager.goto(queue)
            return duty_manager.locator("main form").count() > 0

        until(queued, "the unknown person's crisis in the matching queue")
        check(duty_manager, screenshot, "matching-queue")
        duty_manager.get_by_label("Jessica Carter", exact=False).fill("p-mother")
        duty_manager.get_by_role("button", name="Match").click()
        duty_manager.wait_for_url(f"{queue}?matched={unknown['event_id']}")
        expect(duty_manager.get_by_text("Match recorded")).to_be_visible()
        check(duty_manager, screenshot, "matched")
        until(lambda: bool(site.inbox_of(SCHOOL)), "the matched crisis at the school")

    @ONLY_SQLITE
    def test_front_door_confirms_a_move(
        self, site: LiveSite, browser: Browser, screenshot: Screenshot
    ) -> None:
        """The mother's GP says the Carters are moving out of the area: the duty manager
        confirms it on the page of moves awaiting confirmation."""
        members = [{"nhs_number": n} for n in (family.MOTHER, family.FATHER, family.CHILD_B,
                                               family.TWIN_1, family.TWIN_2)]  # fmt: skip
        site.publish(event("family_moving_area", "gp-riverside", members=members,
                           from_authority=family.AREA, to_authority=family.NEIGHBOUR_AREA,
                           moved_on=date.today().isoformat()))  # fmt: skip
        duty_manager = person_page(browser)
        sign_in(duty_manager, site, FRONT_DOOR)
        proposals = f"{site.base_url}/inbox/front-door/proposals"
        confirm = duty_manager.get_by_role("button", name=re.compile("^Confirm"))

        def waiting() -> bool:
            duty_manager.goto(proposals)
            return confirm.count() > 0

        until(waiting, "the move awaiting confirmation")
        check(duty_manager, screenshot, "moves-to-confirm")
        confirm.click()
        duty_manager.wait_for_url(f"{proposals}?done=confirmed")
        expect(duty_manager.get_by_text("Confirmed: the directory changes")).to_be_visible()
        check(duty_manager, screenshot, "move-confirmed")

    @ONLY_SQLITE
    def test_rejection_reaches_the_front_door_sealed_with_the_hybrid_suite(
        self, site: LiveSite, browser: Browser, tmp_path: Path,
        recipient_pairs: dict[str, family.RecipientKey], screenshot: Screenshot,
    ) -> None:  # fmt: skip
        """The key adult rejects the crisis notice with a reason; the front door's notice it
        becomes is sealed with ML-KEM-768 + X25519, and opened in the duty manager's page
        with the front door's key file it says why, the reason never on that page's wire."""
        site.publish(crisis())
        until(lambda: bool(site.inbox_of(SCHOOL)), "the crisis at the school")
        [notice_id] = site.inbox_of(SCHOOL)
        reason = f"Not our pupil since the summer term, ref {uuid.uuid4().hex[:8]}"
        key_adult = person_page(browser)
        sign_in(key_adult, site, SCHOOL)
        key_adult.goto(f"{site.base_url}/inbox/notices/{notice_id}/reject")
        key_adult.get_by_label("Why is this notice not for you?").fill(reason)
        check(key_adult, screenshot, "reject")
        key_adult.locator("main form button[type=submit]").click()
        key_adult.wait_for_url("**?done=rejected")
        check(key_adult, screenshot, "rejected")

        rerouted = reroute_id(notice_id)
        until(lambda: rerouted in site.inbox_of(FRONT_DOOR), "the rejected notice rerouted")
        key_file = tmp_path / "front-door.key"
        key_file.write_bytes(recipient_pairs[FRONT_DOOR].secret_file)
        duty_manager = person_page(browser)
        wire = record_wire(duty_manager)
        sign_in(duty_manager, site, FRONT_DOOR)
        duty_manager.goto(f"{site.base_url}/inbox/notices/{rerouted}")
        sealed = json.loads(duty_manager.locator("#sealed-notice").inner_text())
        assert HpkeSuiteName.MLKEM768_X25519_SHA256_AES256GCM.value in json.dumps(sealed)
        expect(duty_manager.locator("#notice-key")).to_be_visible(timeout=20_000)
        duty_manager.set_input_files("#notice-key-file", str(key_file))
        expect(duty_manager.locator("#notice-status")).to_have_text(
            "Opened in this browser.", timeout=20_000
        )
        duty_manager.locator("#notice-technical summary").click()
        assert reason in duty_manager.locator("#notice-body").inner_text()
        check(duty_manager, screenshot, "hybrid-notice-opened")
        # The reason, who the notice is about, and the front door's key file.
        held = key_file.read_bytes()
        secrets = [reason, "Carter", _born("p-child-b"),
                   held.hex(), base64.b64encode(held).decode()]  # fmt: skip
        assert_never_on_the_wire(wire, secrets)


async def _alert_by_email(site: LiveSite, contact_id: str, address: str) -> None:
    assert site.rt is not None
    async with site.rt.unit_of_work() as uow:
        await uow.alert_channels.replace(contact_id, [("email", address)])


def _alert_link(smtp: SmtpSink, event_type: str) -> str:
    """The one alert's link, once its text is shown to say nothing of the notice."""
    [message] = smtp.messages
    assert message["To"] == KEY_ADULT_EMAIL
    text = message.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert text.startswith("A safeguarding notice is waiting for Oakfield Primary School "
                           "(key adult), due ")  # fmt: skip
    personal = [*personal_data(), event_type, "plans to end her life"]
    said = f"{message['Subject']}\n{text}"
    assert leaks(said, "Oakfield Primary School", "key_adult", personal) == []
    whole = message.as_string()  # the headers too
    assert [value for value in personal if value in whole] == []
    [link] = re.findall(r"https?://\S+", text)
    return link


def _born(person_id: str) -> str:
    """A person's date of birth in the demo directory, as a notice's JSON would carry it."""
    key = crypto.b64encode(X25519PrivateKey.generate().public_key().public_bytes_raw())
    people = partnership_directory(defaultdict(lambda: key), date.today()).people
    [born] = [p.date_of_birth for p in people if p.id == person_id]
    assert born is not None
    return born.isoformat()


def _follow_the_link_and_sign_in_with_the_passkey(
    page: Page, site: LiveSite, link: str, screenshot: Screenshot
) -> None:
    """Signed out, the email's link asks the key adult to sign in; the passkey's sign-in
    brings them back to the notice the link named."""
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{site.base_url}/inbox/signed-out")
    page.goto(link)
    expect(page.get_by_role("heading", name="Sign in to continue")).to_be_visible()
    screenshot(page, "link-signed-out")
    page.get_by_role("link", name="Sign in with your passkey").click()
    page.wait_for_url(f"{site.base_url}/inbox/passkeys/sign-in?*")
    screenshot(page, "passkey-sign-in")
    page.get_by_role("button", name="Sign in with a passkey").click()
    arrives(page, link)
