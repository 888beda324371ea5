"""Who answers for a change made at the command line: the audit log names them."""

import getpass

import typer

from broker.rules import actors


def operator_name(named: str | None) -> str:
    """The operator named, else the OS user; a change nobody answers for is refused, and so
    is a name that could pass for another kind of actor (``admin:la-north``)."""
    return operator_actor(named).name


def operator_actor(named: str | None) -> actors.Actor:
    """The operator as an actor of their own kind, for the two-person rule on key changes."""
    try:
        operator = named or getpass.getuser()
    except (KeyError, OSError):  # no such user in the password database, no LOGNAME
        operator = ""
    if not operator.strip():
        typer.echo("name the operator: --operator <name>", err=True)
        raise typer.Exit(2)
    try:
        return actors.operator(operator.strip())
    except actors.UnfitOperatorName as unfit:
        typer.echo(f"not done: {unfit} (--operator <name>)", err=True)
        raise typer.Exit(2) from None
