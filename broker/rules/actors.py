"""Who changes the directory, by kind: an operator at the command line, named by themselves
(``--operator`` or the OS user), or an administrator organisation through the admin API,
named by its authenticated org id. The two-person rule on key changes compares actors, so
the two kinds must never meet in one namespace: an operator called ``la-north`` is not the
administrator ``la-north``. Spelled ``operator:<name>`` and ``admin:<org id>`` wherever an
actor is recorded (pending key changes, their audit entries), built and read here alone.

Changes recorded before actors had kinds carry a bare name. A bare name cannot say which kind
it was, so it is judged by name alone against an actor of either kind: never looser than the
rule it replaces (such a change lapses with the key-change expiry, 72 hours by default).
"""

from dataclasses import dataclass
from typing import Literal

Kind = Literal["operator", "admin"]
KINDS: tuple[Kind, ...] = ("operator", "admin")
SEPARATOR = ":"
OPERATOR_NAME_LENGTH = 64


class UnfitOperatorName(ValueError):
    """A name that could read as another kind of actor, or as no one."""


@dataclass(frozen=True)
class Actor:
    """``kind`` None: a bare name recorded before actors had kinds."""

    kind: Kind | None
    name: str

    def __str__(self) -> str:
        return self.name if self.kind is None else f"{self.kind}{SEPARATOR}{self.name}"


def operator(name: str) -> Actor:
    """A command-line operator; refuses a name holding the separator (``admin:la-north``
    would read as an administrator), a blank one, or one too long to record."""
    if SEPARATOR in name:
        raise UnfitOperatorName(f"an operator's name cannot contain {SEPARATOR!r}")
    if not name.strip() or name != name.strip():
        raise UnfitOperatorName("an operator's name cannot be blank or padded with spaces")
    if len(name) > OPERATOR_NAME_LENGTH:
        raise UnfitOperatorName(f"an operator's name is {OPERATOR_NAME_LENGTH} characters at most")
    return Actor("operator", name)


def administrator(org_id: str) -> Actor:
    """An administrator organisation, by the org id it authenticated as."""
    return Actor("admin", org_id)


def parse(recorded: str) -> Actor:
    """The actor a recorded spelling names; a bare (pre-kind) name has no kind."""
    kind, separator, name = recorded.partition(SEPARATOR)
    for known in KINDS:
        if separator and kind == known and name:
            return Actor(known, name)
    return Actor(None, recorded)


def same(recorded: Actor, acting: Actor) -> bool:
    """Whether ``acting`` is who recorded the change: same kind and name; a bare recorded
    name matches either kind of that name (the old rule, for changes made before kinds)."""
    if recorded.kind is None:
        return recorded.name == acting.name
    return recorded == acting
