"""Who answers for a change made at the command line: the audit log names them."""

import getpass

import typer


def operator_name(named: str | None) -> str:
    """The operator named, else the OS user; a change nobody answers for is refused."""
    try:
        operator = named or getpass.getuser()
    except (KeyError, OSError):  # no such user in the password database, no LOGNAME
        operator = ""
    if not operator.strip():
        typer.echo("name the operator: --operator <name>", err=True)
        raise typer.Exit(2)
    return operator.strip()[:64]
