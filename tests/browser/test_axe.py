"""assert_no_axe_violations, proven on a small GOV.UK-styled page and on a broken one."""

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page

from browser.axe import assert_no_axe_violations, axe_violations

Screenshot = Callable[[Page, str], Path]


class TestAxeHelper:
    def test_govuk_styled_page_has_no_violations(
        self, page: Page, site: str, screenshot: Screenshot
    ) -> None:
        """A GOV.UK-styled inbox page passes WCAG 2.2 AA as axe-core checks it."""
        page.goto(f"{site}/pages/govuk-sample.html")
        screenshot(page, "govuk-sample")
        assert_no_axe_violations(page)

    def test_broken_page_fails_naming_each_rule(self, page: Page, site: str) -> None:
        """A page without a language, alt text, link text or contrast fails, each rule named."""
        page.goto(f"{site}/pages/inaccessible.html")
        found = {rule["id"] for rule in axe_violations(page)}
        assert found >= {"html-has-lang", "image-alt", "link-name", "color-contrast"}
        with pytest.raises(AssertionError, match="image-alt"):
            assert_no_axe_violations(page)

    def test_works_under_a_strict_content_security_policy(self, page: Page, site: str) -> None:
        """axe still runs where the page's CSP refuses inline and injected scripts."""
        page.route(
            "**/pages/govuk-sample.html",
            lambda route: route.fulfill(
                response=route.fetch(),
                headers={"Content-Security-Policy": "default-src 'self'; script-src 'self'"},
            ),
        )
        page.goto(f"{site}/pages/govuk-sample.html")
        assert_no_axe_violations(page)
