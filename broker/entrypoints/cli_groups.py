"""``sgb``'s command groups (``sgb contact ...``, ``sgb org ...``), each imported only when
it is the one run.

Every ``sgb`` command an operator types, and every ``sgb router`` a test starts, used to
import all of them (FastAPI, SQLAlchemy, fhir.resources: about two seconds of CPU) before
doing anything. The top-level help lists a group from the one line in ``GROUPS``; naming
the group on the command line imports its module and runs the real thing.
"""

from collections.abc import Iterator, Mapping, MutableMapping
from importlib import import_module
from typing import TYPE_CHECKING, Any, NamedTuple

import typer
from typer.core import TyperGroup

if TYPE_CHECKING:
    from typer._click.core import Command, Context  # the click typer carries


class Group(NamedTuple):
    module: str
    attribute: str
    help: str  # as the group's own Typer says it (a test holds the two equal)


GROUPS = {
    "dead-letters": Group("broker.entrypoints.dead_letters_cli", "app",
                          "List, inspect and replay dead letters."),
    "report": Group("broker.entrypoints.report_cli", "app",
                    "Reports on the directory and the notices it shapes."),
    "authorities": Group("broker.entrypoints.authorities_cli", "app",
                         "The local authorities of England and Wales, by ONS code."),
    "contact": Group("broker.entrypoints.contact_cli", "app",
                     "Alert channels and web inbox sign-in links."),
    "peer": Group("broker.entrypoints.peers_cli", "app",
                  "Peer brokers: other partnerships' brokers."),
    "org": Group("broker.entrypoints.org_cli", "app", "Organisations and their signing keys."),
    "key-changes": Group("broker.entrypoints.org_cli", "changes_app",
                         "Key changes awaiting a second operator's approval."),
}  # fmt: skip


def loaded(name: str) -> TyperGroup:
    """The group's real commands, built from its module (the import that costs)."""
    group = GROUPS[name]
    app: typer.Typer = getattr(import_module(group.module), group.attribute)
    command = typer.main.get_group(app)  # a group even with one command (``report``)
    command.name = name
    return command


class LazyCommands(MutableMapping[str, "Command"]):
    """A group's commands, where a command group in ``GROUPS`` is imported when first looked
    up by name (``commands["contact"]``), and never just for being listed."""

    def __init__(self, commands: Mapping[str, "Command"]) -> None:
        self._loaded = dict(commands)

    def is_loaded(self, name: str) -> bool:
        return name in self._loaded

    def __getitem__(self, name: str) -> "Command":
        if name not in self._loaded and name in GROUPS:
            self._loaded[name] = loaded(name)
        return self._loaded[name]

    def __contains__(self, name: object) -> bool:
        return name in self._loaded or name in GROUPS

    def __setitem__(self, name: str, command: "Command") -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        yield from self._loaded
        yield from (name for name in GROUPS if name not in self._loaded)

    def __len__(self) -> int:
        return len(self._loaded.keys() | GROUPS.keys())


class LazyGroups(TyperGroup):
    """A Typer group whose command groups stay unimported until named."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = self.lazy = LazyCommands(self.commands)

    def list_commands(self, ctx: "Context") -> list[str]:
        return list(self.lazy)  # the names alone: listing imports nothing

    def get_command(self, ctx: "Context", cmd_name: str) -> "Command | None":
        """For the help's list: a stand-in with the group's one line, imported nothing."""
        if cmd_name in GROUPS and not self.lazy.is_loaded(cmd_name):
            return TyperGroup(name=cmd_name, help=GROUPS[cmd_name].help)
        return super().get_command(ctx, cmd_name)

    def resolve_command(self, ctx: "Context", args: list[str]) -> Any:
        """The group named on the command line is imported and run for real."""
        if args and args[0] in GROUPS:
            self.lazy[args[0]]
        return super().resolve_command(ctx, args)
