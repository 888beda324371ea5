"""The README's "who is told" table, rendered from the rule table's declared routes.

    python -m broker.rules.who_is_told           # rewrite the table in README.md
    python -m broker.rules.who_is_told --check   # exit 1 if README.md is not current

The table sits between the markers below in the README's Routing section; ``make lint`` runs
the check, as it does for the JSON Schemas, so that a rule changed without its table fails.
Pure apart from ``main``, which reads and writes the README.
"""

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path

from broker.rules.deadlines import describe_deadline
from broker.rules.routing import COMMON_ROUTES, ROUTES
from broker.rules.table import Route

START, END = "<!-- who-is-told:start -->", "<!-- who-is-told:end -->"
README = Path(__file__).resolve().parents[2] / "README.md"
HEADER = (
    "| event type | condition | who is told | notice type | severity | deadline | rule |\n"
    "| --- | --- | --- | --- | --- | --- | --- |"
)
COMMON = "any event"
NOTE = (
    "*Generated from the routes each rule declares (`python -m broker.rules.who_is_told`; "
    "`make lint` checks it is current): edit the rules, not this table. Thresholds and "
    "periods are the defaults; a partnership may set its own.*"
)


def table() -> str:
    """The whole table: each event type's own routes, then what any event may add."""
    groups = [(f"`{event_type.value}`", rule.routes)
              for event_type, rule in ROUTES.items()]  # fmt: skip
    lines = [NOTE, "", HEADER]
    for label, routes in [*groups, (COMMON, COMMON_ROUTES)]:
        lines += _rows(label, routes)
    return "\n".join(lines)


def _rows(label: str, routes: Iterable[Route]) -> list[str]:
    """One row per route; the event type named on its first row only."""
    return [_row(label if i == 0 else "", route) for i, route in enumerate(routes)]


def _row(label: str, route: Route) -> str:
    severity = _either(s.value for s in route.severities)
    deadline = describe_deadline(route.notice_type, route.severities)
    rule = f"`{route.rule_id}`"
    cells = (label, route.condition, route.who, route.notice_type.value, severity, deadline, rule)
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def _either(words: Iterable[str]) -> str:
    *most, last = words
    return f"{', '.join(most)} or {last}" if most else last


def with_table(readme: str) -> str:
    """The README text with the table between its markers replaced by the current one."""
    before, start, rest = readme.partition(START)
    _, end, after = rest.partition(END)
    if not start or not end:
        raise ValueError(f"README.md needs the markers {START} and {END}")
    return f"{before}{START}\n{table()}\n{END}{after}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if README.md is not current")
    args = parser.parse_args(argv)
    current = README.read_text(encoding="utf-8")
    wanted = with_table(current)
    if args.check:
        if wanted != current:
            print("README.md: the who-is-told table is out of date; "
                  "run python -m broker.rules.who_is_told", file=sys.stderr)  # fmt: skip
            return 1
        return 0
    README.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
