"""``sgb authorities``: the table of local authorities a move names by code.

    sgb authorities refresh --from CTYUA_DEC_2024_UK_NC.csv --date 2024-12-01
    sgb authorities show W06000015

``refresh`` reads an ONS names-and-codes CSV (counties and unitary authorities, or upper tier
local authorities), keeps the upper-tier authorities of England and Wales, writes the
repository's data file (broker/rules/authorities.csv) with the file it came from and its
date, and prints what changed: authorities added, removed (merged away) and renamed.
"""

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from broker.rules import authorities
from broker.rules.authorities import AuthorityTableError

app = typer.Typer(
    help="The local authorities of England and Wales, by ONS code.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.command()
def refresh(
    source: Annotated[
        Path,
        typer.Option("--from", exists=True, dir_okay=False, help="An ONS names-and-codes CSV."),
    ],
    dated: Annotated[
        str | None, typer.Option("--date", help="The ONS file's date (default: today).")
    ] = None,
    to: Annotated[Path, typer.Option(help="The data file to write.")] = authorities.DATA_FILE,
) -> None:
    """Rebuilds the table from an ONS file and prints what changed."""
    try:
        new = authorities.parse_ons(source.read_text(encoding="utf-8-sig"))
        old = (
            authorities.parse_table(to.read_text(encoding="utf-8")).authorities
            if to.exists()
            else {}
        )
    except (AuthorityTableError, UnicodeDecodeError) as exc:
        typer.echo(f"sgb authorities refresh: {exc}", err=True)
        raise typer.Exit(2) from None
    if not new:
        typer.echo(
            "sgb authorities refresh: no English or Welsh upper-tier authority in "
            f"{source.name}: the table is left as it was",
            err=True,
        )
        raise typer.Exit(2)
    day = dated or datetime.now(UTC).date().isoformat()
    to.write_text(authorities.render(new, source.name, day), encoding="utf-8")
    changed = authorities.changes(old, new)
    for line in changed.lines() or ["no change"]:
        typer.echo(line)
    nations = [a.nation for a in new.values()]
    typer.echo(
        f"{len(new)} authorities: {nations.count('ENG')} in England, "
        f"{nations.count('WLS')} in Wales"
    )


@app.command()
def show(code: str) -> None:
    """The authority with this ONS code, or why there is none."""
    found = authorities.authority(code)
    if found is None:
        typer.echo(f"{code}: not in the table (dated {authorities.table().dated})", err=True)
        raise typer.Exit(1)
    typer.echo(f"{found.code}\t{found.name}\t{found.nation}")
