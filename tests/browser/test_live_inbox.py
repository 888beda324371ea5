"""Live updates of the inbox page (issue 17, item 5) through the running broker: uvicorn on
loopback behind the request limits, the gateway, the router and the delivery worker on the
real Kafka, the test's database. A notice published while the page is open appears in it
without a reload; the stream names no one else's notice and stops when the session ends."""

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from browser.live_site import LiveSite, crisis, page, sign_in, site

__all__ = ["page", "site"]  # the fixtures, shared with test_pages_accessible.py
pytestmark = [pytest.mark.browser, pytest.mark.e2e,
              pytest.mark.parametrize("database_backend", ["sqlite"], indirect=True)]  # fmt: skip
SCHOOL = "school-oakfield:key_adult"
FRONT_DOOR = "la-front-door:duty_manager"
ARRIVES_WITHIN_MS = 90_000  # a bound on a hung run only: Kafka, router, delivery, the poll
Screenshot = Callable[[Page, str], Path]


@contextmanager
def signed_in_client(site: LiveSite, contact_id: str) -> Iterator[httpx.Client]:
    """A plain HTTP client with the contact's session cookie (as the browser's), closed
    after use."""
    with httpx.Client(base_url=site.base_url, follow_redirects=False) as client:
        token = site.sign_in_link(contact_id).rsplit("/", 1)[1]
        form = client.get(f"/inbox/sign-in/{token}").text
        csrf = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        answer = client.post("/inbox/sign-in", data={"token": token, "csrf_token": csrf})
        assert answer.status_code == 303, answer.text
        yield client


def events_until(stream: Iterator[str], wanted: str) -> list[dict[str, str]]:
    """The stream's events (as name and data) up to and including the first ``wanted``."""
    events, event = [], {}
    for line in stream:
        if not line:
            if event:
                events.append(event)
                if event.get("event") == wanted:
                    return events
            event = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            event[name] = value.strip()
    raise AssertionError(f"the stream closed before {wanted!r}: {events}")


class TestLiveInboxPage:
    def test_a_new_notice_appears_without_reloading(
        self, page: Page, site: LiveSite, screenshot: Screenshot
    ) -> None:
        """The key adult's open, empty inbox shows the crisis notice once it is delivered:
        the same document (no navigation), its list region refreshed, the status announced."""
        sign_in(page, site, SCHOOL)
        expect(page.get_by_text("There are no notices in this inbox.")).to_be_visible()
        page.evaluate("() => { window.sgbSamePage = true; }")
        screenshot(page, "inbox-empty")
        site.publish(crisis())
        notices = page.locator("#inbox-notices table tbody tr")
        expect(notices).to_have_count(1, timeout=ARRIVES_WITHIN_MS)
        expect(page.locator("#live-status")).to_have_text("A new notice has arrived.")
        assert page.evaluate("() => window.sgbSamePage") is True, "the page was reloaded"
        screenshot(page, "inbox-live-notice")


class TestLiveStream:
    def test_says_only_the_notice_id_and_never_anothers(self, site: LiveSite) -> None:
        """The school's stream names its notice by id alone; the front door's, open at the
        same time, names only notices of the front door's own inbox, never the school's."""
        with (
            signed_in_client(site, SCHOOL) as school,
            signed_in_client(site, FRONT_DOOR) as front_door,
            school.stream("GET", "/inbox/live", timeout=120) as mine,
            front_door.stream("GET", "/inbox/live", timeout=120) as others,
        ):
            assert mine.status_code == 200
            assert mine.headers["content-type"].startswith("text/event-stream")
            assert mine.headers["cache-control"] == "no-store"
            site.publish(crisis())
            [*_, told] = events_until(mine.iter_lines(), "notice")
            assert json.loads(told["data"]).keys() == {"notice_id"}
            assert told["data"] == json.dumps({"notice_id": site.inbox_of(SCHOOL)[0]})
            sign_out(front_door)
            heard = events_until(others.iter_lines(), "ended")
        theirs = {json.loads(e["data"])["notice_id"] for e in heard if e.get("event") == "notice"}
        assert theirs <= set(site.inbox_of(FRONT_DOOR))  # its own notice may come later
        assert not theirs & set(site.inbox_of(SCHOOL))

    def test_ends_when_the_session_is_signed_out(self, site: LiveSite) -> None:
        """Signed out elsewhere (another tab): the open stream says so and closes."""
        with (
            signed_in_client(site, SCHOOL) as school,
            school.stream("GET", "/inbox/live", timeout=120) as stream,
        ):
            sign_out(school)
            lines = stream.iter_lines()
            assert events_until(lines, "ended")[-1] == {"event": "ended", "data": "{}"}
            assert list(lines) == []  # closed by the server

    def test_without_a_session_is_refused(self, site: LiveSite) -> None:
        """No session cookie: 401, no stream."""
        with httpx.Client(base_url=site.base_url) as anonymous:
            answer = anonymous.get("/inbox/live")
        assert answer.status_code == 401
        assert not answer.headers["content-type"].startswith("text/event-stream")


def sign_out(client: httpx.Client) -> None:
    csrf = client.get("/inbox").text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    assert client.post("/inbox/sign-out", data={"csrf_token": csrf}).status_code == 303
