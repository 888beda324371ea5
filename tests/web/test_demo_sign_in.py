"""The demo's one-time sign-in links (issue 17): a link as ``sgb demo`` prints it signs its
contact in at the real web inbox app."""

import io
import re

import httpx
import pytest
from fastapi import FastAPI
from rich.console import Console

from broker.config import Settings
from broker.demo.run import print_web_inbox, sign_in_links
from broker.keys import audit_key
from tests.web.conftest import BASE_URL, follow_link

pytestmark = pytest.mark.integration


class TestPrintedSignInLink:
    async def test_a_printed_link_signs_its_contact_in(
        self, settings: Settings, web_app: FastAPI, browser: httpx.AsyncClient
    ) -> None:
        """A link as the demo prints it opens the sign-in page of the real inbox app, and its
        button signs the contact in (303 to the inbox, a session cookie set)."""
        links = await sign_in_links(settings.database_url, audit_key(settings.keys_dir),
                                    BASE_URL)  # fmt: skip
        screen = io.StringIO()
        print_web_inbox(Console(file=screen, width=300), BASE_URL, links)
        found = re.search(rf"school-oakfield:key_adult\s+{BASE_URL}/inbox/sign-in/(\S+)",
                          screen.getvalue())  # fmt: skip
        assert found, screen.getvalue()
        answer = await follow_link(browser, found.group(1))
        assert answer.status_code == 303, answer.text
        assert browser.cookies
