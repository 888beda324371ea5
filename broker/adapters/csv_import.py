"""Reads a folder of directory CSV files into a ``DirectorySpec``.

Each file is optional, UTF-8 (a spreadsheet's byte-order mark is fine), with a header row; a
column may be left out when its field is optional, and an empty cell is None:

    organisations.csv      id,name,kind,area,phone,session_start,opens_at,closes_at,ods_code
    school_terms.csv       org_id,starts_on,ends_on
    signing_keys.csv       org_id,public_key,valid_from,valid_until   (Ed25519, base64; an
                           organisation it names has exactly these keys, one not named
                           keeps the keys it has)
    contacts.csv           id,org_id,role,hpke_public_key,webhook_url,mesh_mailbox
    people.csv             id,nhs_number,upn,given_name,family_name,date_of_birth,
                           unborn,expected_on   (an unborn child: unborn true, its expected date)
                           has_send,has_ehcp,learning_disability   (additional needs: true)
                           preferred_language,interpreter_needed   (a language need: cy, true)
    household_members.csv  household_id,area,person_id,role     (one row per member)
    relationships.csv      person_id,kind,related_person_id,parental_responsibility
                           (kind parent_of or sibling_of; parents living with a child
                           need no row: the household says so)
    registrations.csv      person_id,kind,org_id
    involvements.csv       person_id,org_id,opened_on,closed_on
    plans.csv              id,person_id,kind,area,started_on,ended_on,step_down_until,
                           if_concerns_return
    plan_owners.csv        plan_id,is_lead,name,role,org_id,phone,email

Any fault raises ``CsvImportError`` naming the file, the row (the header is row 1, as a
spreadsheet shows it) and the field, never the value: a cell may hold an NHS number or a name.
"""

import csv
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from broker.errors import CsvImportError
from schemas.directory import (
    ContactSpec,
    DirectorySpec,
    HouseholdMemberSpec,
    HouseholdSpec,
    InvolvementSpec,
    OrganisationSpec,
    PersonSpec,
    PlanOwnerSpec,
    PlanSpec,
    RegistrationSpec,
    RelationshipSpec,
    SigningKeySpec,
    Term,
)

COLUMNS: dict[str, tuple[str, ...]] = {
    "organisations.csv": ("id", "name", "kind", "area", "phone", "session_start", "opens_at",
                          "closes_at", "ods_code"),
    "school_terms.csv": ("org_id", "starts_on", "ends_on"),
    "signing_keys.csv": ("org_id", "public_key", "valid_from", "valid_until"),
    "contacts.csv": ("id", "org_id", "role", "hpke_public_key", "webhook_url", "mesh_mailbox"),
    "people.csv": ("id", "nhs_number", "upn", "given_name", "family_name", "date_of_birth",
                   "unborn", "expected_on", "has_send", "has_ehcp", "learning_disability",
                   "preferred_language", "interpreter_needed"),
    "household_members.csv": ("household_id", "area", "person_id", "role"),
    "relationships.csv": ("person_id", "kind", "related_person_id", "parental_responsibility"),
    "registrations.csv": ("person_id", "kind", "org_id"),
    "involvements.csv": ("person_id", "org_id", "opened_on", "closed_on"),
    "plans.csv": ("id", "person_id", "kind", "area", "started_on", "ended_on",
                  "step_down_until", "if_concerns_return"),
    "plan_owners.csv": ("plan_id", "is_lead", "name", "role", "org_id", "phone", "email"),
    # Peer brokers, read by ``sgb peer import`` (broker.adapters.peers_csv), not the folder.
    "peers.csv": ("id", "name", "areas", "gateway_url", "broker_key", "signing_key",
                  "known_there_as", "phone", "api_url"),
}  # fmt: skip
BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
M = TypeVar("M", bound=BaseModel)
Keyed = TypeVar("Keyed", OrganisationSpec, PlanSpec)


@dataclass(frozen=True)
class Row:
    file: str
    number: int
    cells: Mapping[str, str | None]

    def fault(self, field: str | None, problem: str) -> CsvImportError:
        return CsvImportError(self.file, self.number, field, problem)

    def parse(self, model: type[M], fields: Mapping[str, str] | None = None, **fixed: object) -> M:
        """Validates the row as ``model``. ``fields`` maps model fields to columns when the
        names differ or only some columns belong to the model; ``fixed`` adds values."""
        fields = fields or {name: name for name in self.cells}
        data = {f: self.cells[c] for f, c in fields.items() if self.cells.get(c) is not None}
        try:
            return model.model_validate(data | fixed)
        except ValidationError as exc:
            error = exc.errors()[0]
            field = fields.get(str(error["loc"][0]), str(error["loc"][0])) if error["loc"] else None
            raise self.fault(field, error["msg"]) from None  # the error would quote the cell


def read_directory(folder: Path) -> DirectorySpec:
    """The directory described by the CSV files in ``folder``."""
    rows = {name: read_rows(folder / name) for name in COLUMNS}
    return DirectorySpec(
        organisations=_organisations(
            rows["organisations.csv"], rows["school_terms.csv"], rows["signing_keys.csv"]
        ),
        contacts=tuple(row.parse(ContactSpec) for row in rows["contacts.csv"]),
        people=tuple(row.parse(PersonSpec) for row in rows["people.csv"]),
        households=_households(rows["household_members.csv"]),
        relationships=tuple(_relationship(row) for row in rows["relationships.csv"]),
        registrations=tuple(row.parse(RegistrationSpec) for row in rows["registrations.csv"]),
        involvements=tuple(row.parse(InvolvementSpec) for row in rows["involvements.csv"]),
        plans=_plans(rows["plans.csv"], rows["plan_owners.csv"]),
    )


def read_rows(path: Path) -> list[Row]:
    """The data rows of one file, cells stripped and empty ones None; none if it is absent."""
    if not path.exists():
        return []
    try:
        with path.open(encoding="utf-8-sig", newline="") as lines:
            reader = csv.DictReader(lines)
            _check_header(path.name, reader.fieldnames or [])
            return [_row(path.name, reader.line_num, cells) for cells in reader]
    except (UnicodeDecodeError, csv.Error) as exc:
        problem = f"not a UTF-8 CSV file ({type(exc).__name__})"
        raise CsvImportError(path.name, None, None, problem) from None


def _check_header(file: str, header: Sequence[str]) -> None:
    known = COLUMNS[file]
    for column in header:
        if column not in known:
            raise CsvImportError(file, 1, column, f"unknown column; expected {', '.join(known)}")


def _row(file: str, number: int, cells: dict[str | None, str | list[str] | None]) -> Row:
    if None in cells:
        raise CsvImportError(file, number, None, "more cells than the header has columns")
    values = {str(k): (v.strip() or None) if isinstance(v, str) else None for k, v in cells.items()}
    return Row(file, number, values)


def _organisations(
    orgs: list[Row], terms: list[Row], signing_keys: list[Row]
) -> tuple[OrganisationSpec, ...]:
    specs = _unique(orgs, [row.parse(OrganisationSpec) for row in orgs])
    by_org: defaultdict[str, list[Term]] = defaultdict(list)
    for row in terms:
        org_id = _known(row, "org_id", specs, "organisations.csv")
        by_org[org_id].append(row.parse(Term, _same("starts_on", "ends_on")))
    keys: defaultdict[str, list[SigningKeySpec]] = defaultdict(list)
    for row in signing_keys:
        org_id = _known(row, "org_id", specs, "organisations.csv")
        keys[org_id].append(row.parse(SigningKeySpec, _same("public_key", "valid_from",
                                                            "valid_until")))  # fmt: skip
    return tuple(_with(s, tuple(by_org[s.id]), keys.get(s.id)) for s in specs.values())


def _with(
    spec: OrganisationSpec, terms: tuple[Term, ...], keys: list[SigningKeySpec] | None
) -> OrganisationSpec:
    """Terms always; signing keys only when the file names the organisation: a record that
    states no keys leaves those on record as they are (model_fields_set says which)."""
    data = spec.model_dump(exclude_unset=True) | {"terms": terms}
    if keys is not None:
        data["signing_keys"] = tuple(keys)
    return OrganisationSpec.model_validate(data)


def _households(members: list[Row]) -> tuple[HouseholdSpec, ...]:
    households: dict[str, HouseholdSpec] = {}
    for row in members:
        head = row.parse(HouseholdSpec, {"id": "household_id", "area": "area"}, members=())
        member = row.parse(HouseholdMemberSpec, _same("person_id", "role"))
        known = households.get(head.id, head)
        if known.area != head.area:
            raise row.fault("area", "differs from an earlier row of the same household")
        households[head.id] = known.model_copy(update={"members": (*known.members, member)})
    return tuple(households.values())


def _plans(plans: list[Row], owners: list[Row]) -> tuple[PlanSpec, ...]:
    specs = _unique(plans, [row.parse(PlanSpec) for row in plans])
    leads: dict[str, PlanOwnerSpec] = {}
    others: defaultdict[str, list[PlanOwnerSpec]] = defaultdict(list)
    for row in owners:
        plan_id = _known(row, "plan_id", specs, "plans.csv")
        owner = row.parse(PlanOwnerSpec, _same("name", "role", "org_id", "phone", "email"))
        if not _is_lead(row):
            others[plan_id].append(owner)
        elif leads.setdefault(plan_id, owner) is not owner:
            raise row.fault("is_lead", "a plan has one lead professional")
    return tuple(
        s.model_copy(update={"lead_professional": leads.get(s.id),
                             "action_owners": tuple(others[s.id])})
        for s in specs.values()
    )  # fmt: skip


def _relationship(row: Row) -> RelationshipSpec:
    fields = _same("person_id", "kind", "related_person_id")
    if row.cells.get("parental_responsibility") is None:
        return row.parse(RelationshipSpec, fields)
    responsible = _boolean(row, "parental_responsibility")
    return row.parse(RelationshipSpec, fields, parental_responsibility=responsible)


def _is_lead(row: Row) -> bool:
    return _boolean(row, "is_lead", default="false")


def _boolean(row: Row, column: str, default: str | None = None) -> bool:
    cell = (row.cells.get(column) or default or "").lower()
    if cell not in BOOLEANS:
        raise row.fault(column, "should be true or false")
    return BOOLEANS[cell]


def _unique(rows: list[Row], specs: list[Keyed]) -> dict[str, Keyed]:
    """Specs by id, refusing an id given twice in one file."""
    by_id: dict[str, Keyed] = {}
    for row, spec in zip(rows, specs, strict=True):
        if by_id.setdefault(spec.id, spec) is not spec:
            raise row.fault("id", "repeats the id of an earlier row")
    return by_id


def _known(row: Row, column: str, specs: Mapping[str, object], file: str) -> str:
    """The id in ``column``, which must name a record of ``file``."""
    record_id = row.cells.get(column)
    if record_id is None or record_id not in specs:
        raise row.fault(column, f"names no record in {file}")
    return record_id


def _same(*columns: str) -> dict[str, str]:
    """A field-to-column map for columns named as the model's fields."""
    return {column: column for column in columns}
