"""Every local authority in England and Wales with children's services, by ONS code. A pure
lookup over the data file shipped beside this module (``authorities.csv``, its source and
date in its header), read once on first use.

Upper tier only, because children's services are an upper-tier duty: county councils (E10),
unitary authorities (E06, the Isles of Scilly among them), metropolitan districts (E08),
London boroughs and the City of London (E09), Welsh principal councils (W06). A code not in
the table is not an error (authorities are reorganised, and the table lags): the move is
still routed, and the front door and the data-quality report are told the code is not in it.
``sgb authorities refresh --from FILE`` rebuilds the file from an ONS names-and-codes CSV
(``parse_ons``, ``render``), printing what changed (``changes``).
"""

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal

Nation = Literal["ENG", "WLS"]
DATA_FILE = Path(__file__).with_name("authorities.csv")
# The ONS code's entity prefix says the tier: these are the authorities with children's
# services. Districts (E07), Scottish (S) and Northern Irish (N) codes are left out.
UPPER_TIER: Mapping[str, Nation] = {
    "E06": "ENG",
    "E08": "ENG",
    "E09": "ENG",
    "E10": "ENG",
    "W06": "WLS",
}
COLUMNS = ("code", "name", "nation")
ABOUT = (
    "Every local authority in England and Wales with children's services (upper tier):\n"
    "county councils, unitary authorities, metropolitan districts, London boroughs and the\n"
    "City of London, the Isles of Scilly, Welsh principal councils. Read by\n"
    "broker/rules/authorities.py; refresh with `sgb authorities refresh --from FILE`."
)


class AuthorityTableError(ValueError):
    """A file that is not a table of authorities: the message names the line or column."""


@dataclass(frozen=True)
class Authority:
    code: str
    name: str
    nation: Nation


@dataclass(frozen=True)
class Table:
    """The authorities by code, and where the list came from and how recent it is."""

    authorities: Mapping[str, Authority]
    source: str = ""
    dated: str = ""


@dataclass(frozen=True)
class Changes:
    added: tuple[Authority, ...] = ()
    removed: tuple[Authority, ...] = ()
    renamed: tuple[tuple[Authority, Authority], ...] = field(default=())

    def lines(self) -> list[str]:
        return (
            [f"added {a.code} {a.name}" for a in self.added]
            + [f"removed {a.code} {a.name}" for a in self.removed]
            + [f"renamed {a.code} {a.name} -> {b.name}" for a, b in self.renamed]
        )


def authority(code: str | None) -> Authority | None:
    """The authority with this ONS code, or None (no code, or one not in the table)."""
    return table().authorities.get(code or "")


def name_of(code: str | None) -> str | None:
    found = authority(code)
    return found.name if found else None


@cache
def table() -> Table:
    """The shipped table, read once: a rule asks for a name many times per event."""
    return parse_table(DATA_FILE.read_text(encoding="utf-8"))


def parse_table(text: str) -> Table:
    """The repository's data file: ``# source:`` and ``# date:`` comment lines, then a CSV of
    code, name and nation."""
    notes = dict(_note(line) for line in text.splitlines() if line.startswith("# "))
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    if tuple(rows.fieldnames or ()) != COLUMNS:
        raise AuthorityTableError(f"expected the columns {', '.join(COLUMNS)}")
    found = [_row(row, rows.line_num) for row in rows]
    return Table({a.code: a for a in found}, notes.get("source", ""), notes.get("date", ""))


def _note(line: str) -> tuple[str, str]:
    key, _, value = line[2:].partition(":")
    return key.strip(), value.strip()


NATIONS: Mapping[str, Nation] = {"ENG": "ENG", "WLS": "WLS"}


def _row(row: Mapping[str, str], line: int) -> Authority:
    nation = NATIONS.get(row.get("nation") or "")
    if nation is None or not row.get("code") or not row.get("name"):
        raise AuthorityTableError(f"line {line}: a code, a name and a nation (ENG or WLS)")
    return Authority(row["code"], row["name"], nation)


def parse_ons(text: str) -> dict[str, Authority]:
    """The upper-tier authorities of England and Wales in an ONS names-and-codes CSV (any
    year's ``CTYUA23CD``/``CTYUA23NM``, ``UTLA24CD``/``UTLA24NM``... columns; a Welsh name
    column is ignored). Rows of other tiers and nations are left out."""
    rows = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    code_column = _column(rows.fieldnames, "CD")
    name_column = _column(rows.fieldnames, "NM")
    found: dict[str, Authority] = {}
    for row in rows:
        code, name = row[code_column].strip(), row[name_column].strip()
        if (nation := UPPER_TIER.get(code[:3])) and name:
            found[code] = Authority(code, name, nation)
    return found


def _column(names: Iterable[str] | None, suffix: str) -> str:
    """The one column whose name ends in ``suffix`` (CD: code, NM: name; not NMW, Welsh)."""
    matching = [n for n in names or () if n.strip().upper().endswith(suffix)]
    if len(matching) != 1:
        raise AuthorityTableError(
            f"expected one ONS column ending in {suffix}, found "
            f"{len(matching)}: is this an ONS names-and-codes CSV?"
        )
    return matching[0]


def render(authorities: Mapping[str, Authority], source: str, dated: str) -> str:
    """The data file's text: what it is, its source and date, then the table by code."""
    out = io.StringIO()
    out.writelines(f"# {line}\n" for line in ABOUT.splitlines())
    out.write(f"# source: {source}\n# date: {dated}\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows((a.code, a.name, a.nation) for _, a in sorted(authorities.items()))
    return out.getvalue()


def changes(old: Mapping[str, Authority], new: Mapping[str, Authority]) -> Changes:
    """What a refresh changes: authorities added, removed (merged away) and renamed."""
    return Changes(
        added=tuple(new[c] for c in sorted(new.keys() - old.keys())),
        removed=tuple(old[c] for c in sorted(old.keys() - new.keys())),
        renamed=tuple(
            (old[c], new[c]) for c in sorted(old.keys() & new.keys()) if old[c] != new[c]
        ),
    )
