"""Prints a scenario run: each event, the notices it produced, and what was expected."""

import asyncio
from pathlib import Path

from rich.console import Console
from rich.table import Table

from broker.rules.deadlines import LONDON
from broker.services.scenario import Scenario, StepResult, Told, Verdict, run_scenario


def run_files(paths: list[Path], console: Console) -> bool:
    passed = True
    for path in paths:
        scenario = Scenario.load(path)
        results = asyncio.run(run_scenario(scenario))
        console.rule(f"[bold]{scenario.name}[/]  {scenario.description}")
        for result in results:
            console.print(_table(result))
            for failure in result.verdict.failures():
                console.print(f"  [red]{failure}[/]", highlight=False)
        ok = all(r.passed for r in results)
        console.print("[green]passed" if ok else "[red]FAILED")
        passed &= ok
    return passed


def _table(result: StepResult) -> Table:
    table = Table(title=f"step {result.index}: {result.event_type}", title_justify="left")
    for column in ("recipient", "type", "severity", "rule", "deadline (London)", "check"):
        table.add_column(column)
    for told in result.notices:
        header = told.header
        deadline = header.deadline.astimezone(LONDON).strftime("%a %d %b %H:%M")
        table.add_row(header.recipient_id, header.notice_type.value, header.severity.value,
                      told.rule, deadline, _check(told, result.verdict))  # fmt: skip
    return table


def _check(told: Told, verdict: Verdict) -> str:
    """How the step's expectations judged this notice."""
    if told in verdict.forbidden:
        return "[red]must not[/]"
    if told in verdict.unexpected:
        return "[red]unexpected[/]"
    if told in verdict.allowed:
        return "may"
    if told in verdict.unchecked:
        return "not checked"
    return "expected"
