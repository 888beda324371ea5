"""``sgb report``: reports for the people who keep the directory right.

    sgb report data-quality                       # the whole partnership
    sgb report data-quality --front-door la-north --days 7 --json
    sgb report data-quality --no-front-door      # nobody could be told: no front door's report

A line per gap, organisation and role: what went wrong, how often, when last, and what to
do. Ids and fixed wording only: nothing here names a person.
"""

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from broker.adapters import db
from broker.adapters.data_quality import ReportLine
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.config import Settings

app = typer.Typer(
    help="Reports on the directory and the notices it shapes.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.command("data-quality")
def data_quality_report(
    front_door: Annotated[str | None, typer.Option(help="Only this front door's area.")] = None,
    days: Annotated[int | None, typer.Option(min=1, help="Only the last N days.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines, for tools.")] = False,
    no_front_door: Annotated[bool, typer.Option(
        "--no-front-door", help="Only what no front door's report shows: nobody was told.",
    )] = False,
) -> None:  # fmt: skip
    """Where notices could not reach the reader the rules chose, and chains that ran out."""
    since = datetime.now(UTC) - timedelta(days=days) if days else None
    lines = asyncio.run(read_report(Settings(), front_door, since, no_front_door))
    if as_json:
        for line in lines:
            typer.echo(json.dumps(as_dict(line)))
        return
    if not lines:
        typer.echo("no data-quality issues")
        return
    Console(width=160).print(report_table(lines))


async def read_report(
    settings: Settings, front_door: str | None, since: datetime | None,
    no_front_door: bool = False,
) -> list[ReportLine]:  # fmt: skip
    engine = db.make_engine(settings.database_url)
    try:
        async with SqlUnitOfWork(db.sessions(engine)) as uow:
            return await uow.data_quality.report(front_door, since, no_front_door=no_front_door)
    finally:
        await engine.dispose()


def as_dict(line: ReportLine) -> dict[str, str | int | None]:
    return {
        "gap": line.gap.value, "front_door": line.front_door, "org_id": line.org_id,
        "role": line.role, "occurrences": line.occurrences,
        "first_seen": line.first_seen.isoformat(), "last_seen": line.last_seen.isoformat(),
        "what_to_do": line.what_to_do,
    }  # fmt: skip


def report_table(lines: list[ReportLine]) -> Table:
    table = Table("gap", "front door", "organisation", "role", "times", "last seen", "what to do")
    for line in lines:
        table.add_row(line.gap.value, line.front_door or "-", line.org_id or "-",
                      line.role or "-", str(line.occurrences),
                      f"{line.last_seen:%Y-%m-%d %H:%M} UTC", line.what_to_do)  # fmt: skip
    return table
