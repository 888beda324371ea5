"""Loading a whole directory in bulk: the same records, rules and end state as
``directory_admin.load_directory``, in a few statements per kind of record instead of six or
seven per record.

Every record is still judged one at a time, in the order given, against the directory as the
records before it left it (``bulk_rows``): a reference the directory lacks, a duplicate NHS
number or UPN, a webhook into a network the broker may not reach, a key nothing can be sealed
to and a second contact in one role are refused as the per-record path refuses them, and a
household still makes its parents and carers parents of its children. Key changes are held
before this runs (``key_changes.hold_import``, ``check_import``).

The change log keeps one entry per changed record (its readers, the admin API's change list
and the directory caches, name the record), written in one statement per batch; the audit log
gets one entry per import naming the kinds of record and the counts, never an id or a value.
All of it goes through the unit of work's ``directory_rows`` and ``audit`` (broker/ports.py),
in its one transaction.
"""

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from broker.delivery.webhook_targets import Network, refused_host
from broker.ports import AuditRecord, DirectoryChangeEntry, DirectoryRows, UnitOfWork
from broker.services import directory_admin as admin
from broker.services.bulk_rows import Children, Rows, chunks, existing_ids
from broker.services.directory_changes import Delta, DuplicateValue, MissingReference, Outcome
from producers import recipient_keys
from schemas.directory import (
    ContactSpec,
    DirectorySpec,
    HouseholdSpec,
    InvolvementSpec,
    OrganisationSpec,
    PersonSpec,
    PlanSpec,
    RegistrationSpec,
    RelationshipSpec,
)

BATCH = 5000  # records read, judged and written together
Progress = Callable[[int, int], None]  # told (records done, records in all) after each batch


@dataclass
class Batch:
    """What one import has done so far: counts, change-log rows, the fields it changed."""

    actor: str
    at: datetime
    summary: admin.ImportSummary = field(default_factory=dict)
    changes: list[DirectoryChangeEntry] = field(default_factory=list)
    fields: set[str] = field(default_factory=set)

    def count(self, kind: str, entity: str, entity_id: str, delta: Delta) -> None:
        outcome: Outcome = "created" if delta.created else "updated" if delta.fields else (
            "unchanged")  # fmt: skip
        self.summary.setdefault(kind, Counter())[outcome] += 1
        if outcome != "unchanged":
            self.fields.update(delta.fields)
            self.changes.append(DirectoryChangeEntry(self.at, self.actor, entity, entity_id,
                                                     outcome, tuple(delta.fields)))  # fmt: skip


async def bulk_load_directory(
    uow: UnitOfWork, spec: DirectorySpec, *, actor: str = "import",
    webhook_networks: Sequence[Network] = (), progress: Progress | None = None,
) -> admin.ImportSummary:  # fmt: skip
    """Creates or replaces every record in ``spec``, referenced records first; answers how
    many of each kind were created, updated or unchanged (as ``load_directory``)."""
    batch = Batch(actor, datetime.now(UTC))
    steps: list[tuple[str, Sequence[Any], Any]] = [
        ("organisations", spec.organisations, _organisations),
        ("contacts", spec.contacts, lambda s, b, p: _contacts(s, b, p, webhook_networks)),
        ("people", spec.people, _people),
        ("households", spec.households, _households),
        ("relationships", spec.relationships, _relationships),
        ("registrations", spec.registrations, _registrations),
        ("involvements", spec.involvements, _involvements),
        ("plans", spec.plans, _plans),
    ]
    done, total = 0, sum(len(records) for _, records, _ in steps)
    for kind, records, step in steps:
        batch.summary.setdefault(kind, Counter())
        for part in chunks(records, BATCH):
            await step(uow.directory_rows, batch, part)
            done += len(part)
            if progress:
                progress(done, total)
    await _record(uow, batch)
    return batch.summary


async def _record(uow: UnitOfWork, batch: Batch) -> None:
    """The change log's rows in one statement, and one audit entry for the import."""
    if not batch.changes:
        return
    await uow.directory_rows.log_changes(batch.changes)
    details: dict[str, str | int | bool | None] = {
        f"{kind}_{outcome}": n
        for kind, counts in batch.summary.items()
        for outcome, n in counts.items()
        if n and outcome != "unchanged"
    }
    details["fields"] = ",".join(sorted(batch.fields))
    record = AuditRecord("directory_changed", batch.actor, "directory:import", details)
    await uow.audit.append(record, batch.at)


def _require(found: set[str], kind: str, record_id: str) -> None:
    if record_id not in found:
        raise MissingReference(kind, record_id)


async def _organisations(
    store: DirectoryRows, batch: Batch, specs: Sequence[OrganisationSpec]
) -> None:
    rows, terms = Rows.of(store, "organisations"), Children.of(store, "school_terms", "org_id")
    keys = Children.of(store, "org_signing_keys", "org_id")
    ids = [s.id for s in specs]
    await rows.load(store, [(i,) for i in ids])
    await terms.load(store, ids)
    await keys.load(store, ids)
    for spec in specs:
        delta = rows.put((spec.id,), _organisation_values(spec))
        if terms.replace(spec.id, [{"org_id": spec.id, **t.model_dump()} for t in spec.terms]):
            delta.fields.append("terms")
        # Only a record that states its signing keys replaces them (see _replace_signing_keys).
        stated = "signing_keys" in spec.model_fields_set
        if stated and keys.replace(spec.id, admin.signing_key_rows(spec)):
            delta.fields.append("signing_keys")
        batch.count("organisations", "organisation", spec.id, delta)
    for table in (rows, terms, keys):
        await table.write(store)


def _organisation_values(spec: OrganisationSpec) -> dict[str, Any]:
    clock = admin.clock_text
    return {"name": spec.name, "kind": spec.kind, "area": spec.area, "phone": spec.phone,
            "session_start": clock(spec.session_start), "opens_at": clock(spec.opens_at),
            "closes_at": clock(spec.closes_at), "ods_code": spec.ods_code}  # fmt: skip


async def _contacts(
    store: DirectoryRows, batch: Batch, specs: Sequence[ContactSpec],
    networks: Sequence[Network],
) -> None:  # fmt: skip
    rows = Rows.of(store, "contacts")
    await rows.load(store, [(s.id,) for s in specs])
    orgs = await existing_ids(store, "organisations", (s.org_id for s in specs))
    roles = {(c["org_id"], c["role"]): c["id"]
             for c in await store.select_in("contacts", "org_id", orgs)}  # fmt: skip
    for spec in specs:
        _check_contact(spec, orgs, roles, networks)
        before = rows.get((spec.id,))
        if before is not None and roles.get((before["org_id"], before["role"])) == spec.id:
            del roles[(before["org_id"], before["role"])]
        roles[(spec.org_id, spec.role)] = spec.id
        values = spec.model_dump(exclude={"id"}) | {
            "key_id": recipient_keys.key_id(spec.hpke_public_key)}  # fmt: skip
        batch.count("contacts", "contact", spec.id, rows.put((spec.id,), values))
    await rows.write(store)


def _check_contact(
    spec: ContactSpec, orgs: set[str], roles: dict[tuple[str, str], str],
    networks: Sequence[Network],
) -> None:  # fmt: skip
    """``directory_admin.check_contact``, against the import's picture of the directory."""
    _require(orgs, "organisation", spec.org_id)
    host = urlsplit(spec.webhook_url).hostname if spec.webhook_url else None
    if host and refused_host(host, networks):
        raise admin.UnsafeWebhook(spec.id)
    if not recipient_keys.can_seal_to(spec.hpke_public_key):
        raise admin.UnsealableKey(spec.id)
    if roles.get((spec.org_id, spec.role), spec.id) != spec.id:
        raise DuplicateValue("contact at this organisation", "role")


UNIQUE_PERSON_FIELDS = ("nhs_number", "upn")


async def _people(store: DirectoryRows, batch: Batch, specs: Sequence[PersonSpec]) -> None:
    rows = Rows.of(store, "people")
    await rows.load(store, [(s.id,) for s in specs])
    holders: dict[tuple[str, Any], str] = {}
    for name in UNIQUE_PERSON_FIELDS:
        values = {getattr(s, name) for s in specs} - {None}
        for row in await store.select_in("people", name, values):
            holders[(name, row[name])] = row["id"]
    for spec in specs:
        for name in UNIQUE_PERSON_FIELDS:
            value = getattr(spec, name)
            if value is not None and holders.get((name, value), spec.id) != spec.id:
                raise DuplicateValue("person", name)
        before = dict(rows.get((spec.id,)) or {})
        record = admin.person_values(spec, was=before)
        delta = rows.put((spec.id,), record)
        for name in UNIQUE_PERSON_FIELDS:
            if holders.get((name, before.get(name))) == spec.id:
                del holders[(name, before.get(name))]
            holders[(name, getattr(spec, name))] = spec.id
        batch.count("people", "person", spec.id, delta)
    await rows.write(store)


async def _households(store: DirectoryRows, batch: Batch, specs: Sequence[HouseholdSpec]) -> None:
    rows, members = (
        Rows.of(store, "households"),
        Children.of(store, "household_members", "household_id"),
    )
    areas, ties = Rows.of(store, "household_areas"), Rows.of(store, "relationships")
    ids = [s.id for s in specs]
    people = await existing_ids(store, "people", (m.person_id for s in specs for m in s.members))
    await rows.load(store, [(i,) for i in ids])
    await members.load(store, ids)
    await areas.load(store, [(s.id, s.area) for s in specs])
    await ties.load(store, [tie for s in specs for tie in _parent_ties(s)])
    for spec in specs:
        for member in spec.members:
            _require(people, "person", member.person_id)
        delta = rows.put((spec.id,), {"area": spec.area})
        listed = [{"household_id": spec.id, **m.model_dump()} for m in spec.members]
        if members.replace(spec.id, listed):
            delta.fields.append("members")
        if areas.get((spec.id, spec.area)) is None:
            areas.put((spec.id, spec.area), {})
        for tie in _parent_ties(spec):  # a tie already stated is left as it is
            if ties.get(tie) is None:
                ties.put(tie, {"derived": True})
        batch.count("households", "household", spec.id, delta)
    for table in (rows, members, areas, ties):
        await table.write(store)


def _parent_ties(spec: HouseholdSpec) -> list[tuple[str, str, str]]:
    """Each parent or carer living with a child is that child's parent (see
    ``directory_admin._derive_parent_links``)."""
    adults = [m.person_id for m in spec.members if m.role == "parent_or_carer"]
    children = [m.person_id for m in spec.members if m.role == "child"]
    return [(a, "parent_of", c) for a in adults for c in children if a != c]


async def _relationships(
    store: DirectoryRows, batch: Batch, specs: Sequence[RelationshipSpec]
) -> None:
    rows = Rows.of(store, "relationships")
    named = {i for s in specs for i in (s.person_id, s.related_person_id)}
    people = await existing_ids(store, "people", named)
    await rows.load(store, [(s.person_id, s.kind, s.related_person_id) for s in specs])
    for spec in specs:
        _require(people, "person", spec.person_id)
        _require(people, "person", spec.related_person_id)
        key = (spec.person_id, spec.kind, spec.related_person_id)
        values = {"parental_responsibility": spec.parental_responsibility, "derived": False}
        batch.count("relationships", "relationship", admin.relationship_id(*key),
                    rows.put(key, values))  # fmt: skip
    await rows.write(store)


async def _registrations(
    store: DirectoryRows, batch: Batch, specs: Sequence[RegistrationSpec]
) -> None:
    rows = Rows.of(store, "registrations")
    people = await existing_ids(store, "people", (s.person_id for s in specs))
    orgs = await existing_ids(store, "organisations", (s.org_id for s in specs))
    await rows.load(store, [(s.person_id, s.kind) for s in specs])
    for spec in specs:
        _require(people, "person", spec.person_id)
        _require(orgs, "organisation", spec.org_id)
        delta = rows.put((spec.person_id, spec.kind), {"org_id": spec.org_id})
        batch.count("registrations", "registration",
                    admin.registration_id(spec.person_id, spec.kind), delta)  # fmt: skip
    await rows.write(store)


async def _involvements(
    store: DirectoryRows, batch: Batch, specs: Sequence[InvolvementSpec]
) -> None:
    rows = Rows.of(store, "involvements")
    people = await existing_ids(store, "people", (s.person_id for s in specs))
    orgs = await existing_ids(store, "organisations", (s.org_id for s in specs))
    await rows.load(store, [(s.person_id, s.org_id, s.opened_on) for s in specs])
    for spec in specs:
        _require(people, "person", spec.person_id)
        _require(orgs, "organisation", spec.org_id)
        delta = rows.put((spec.person_id, spec.org_id, spec.opened_on),
                         {"closed_on": spec.closed_on})  # fmt: skip
        record_id = f"{spec.person_id}/{spec.org_id}/{spec.opened_on.isoformat()}"
        batch.count("involvements", "involvement", record_id, delta)
    await rows.write(store)


async def _plans(store: DirectoryRows, batch: Batch, specs: Sequence[PlanSpec]) -> None:
    rows, owners = Rows.of(store, "plans"), Children.of(store, "plan_owners", "plan_id")
    people = await existing_ids(store, "people", (s.person_id for s in specs))
    listed = [(spec, admin.plan_owners(spec)) for spec in specs]
    orgs = await existing_ids(store, "organisations",
                              (o["org_id"] for _, os in listed for o in os))  # fmt: skip
    await rows.load(store, [(s.id,) for s in specs])
    await owners.load(store, [s.id for s in specs])
    for spec, named in listed:
        _require(people, "person", spec.person_id)
        for owner in named:
            _require(orgs, "organisation", owner["org_id"])
        values = spec.model_dump(exclude={"id", "lead_professional", "action_owners"})
        delta = rows.put((spec.id,), values)
        if owners.replace(spec.id, named):
            delta.fields.append("owners")
        batch.count("plans", "plan", spec.id, delta)
    await rows.write(store)
    await owners.write(store)
