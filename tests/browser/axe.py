"""axe-core in the page: WCAG 2.2 AA (and the A and 2.0/2.1 rules under it) with no violation.

axe is evaluated over the DevTools protocol rather than added as a script tag, so that a page's
Content-Security-Policy (which rightly refuses inline scripts) does not stop the check, and
axe's source never crosses the page's HTTP traffic.
"""

from typing import Any

from playwright.sync_api import Page

from browser.integrity import STATIC

AXE_SOURCE = STATIC / "vendor" / "axe-core" / "axe.min.js"
WCAG_22_AA = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa")


def axe_violations(page: Page, tags: tuple[str, ...] = WCAG_22_AA) -> list[dict[str, Any]]:
    """axe's violations on the page as it is now (its whole document)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        session = page.context.new_cdp_session(page)
        try:
            result = session.send("Runtime.evaluate", {"expression": _axe_source()})
        finally:
            session.detach()
        if "exceptionDetails" in result:
            raise AssertionError(f"axe-core did not load in the page: {result['exceptionDetails']}")
    options = {"runOnly": {"type": "tag", "values": list(tags)}, "resultTypes": ["violations"]}
    results: dict[str, Any] = page.evaluate(
        "async (options) => await window.axe.run(document, options)", options
    )
    violations: list[dict[str, Any]] = results["violations"]
    return violations


def assert_no_axe_violations(page: Page, tags: tuple[str, ...] = WCAG_22_AA) -> None:
    """Fails with each violated rule, its impact, help link and the elements that break it."""
    violations = axe_violations(page, tags)
    if violations:
        raise AssertionError(f"axe-core found on {page.url}:\n" + describe(violations))


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for rule in violations:
        lines.append(f"- {rule['id']} ({rule['impact']}): {rule['help']} <{rule['helpUrl']}>")
        lines.extend(f"    {' '.join(node['target'])}" for node in rule["nodes"])
    return "\n".join(lines)


_cached: list[str] = []


def _axe_source() -> str:
    if not _cached:
        _cached.append(AXE_SOURCE.read_text())
    return _cached[0]
