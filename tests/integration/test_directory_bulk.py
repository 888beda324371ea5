"""The bulk import against the per-record one, on SQLite and on PostgreSQL: the same directory
loaded both ways, then replaced both ways, leaves the same tables, the same change log and the
same counts; a directory either refuses, it refuses the same way, writing nothing."""

import json
from collections.abc import AsyncIterator, Sequence
from datetime import date
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

import pytest
from conftest import Databases
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.adapters import db
from broker.adapters.audit import AuditEntry
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.errors import DirectoryError
from broker.keys import audit_key
from broker.services.directory_admin import ImportSummary, load_directory
from broker.services.directory_bulk import bulk_load_directory
from producers import crypto
from schemas.directory import DirectorySpec, OrganisationSpec
from tests.faults.population import build

pytestmark = pytest.mark.integration

Sessions = async_sessionmaker[AsyncSession]
LOOPBACK = IPv4Network("127.0.0.0/8")  # the population's webhooks are local
DIRECTORY_TABLES = (db.Organisation, db.SchoolTerm, db.OrgSigningKey, db.Contact, db.Person,
                    db.Household, db.HouseholdMember, db.HouseholdArea, db.Relationship,
                    db.Registration, db.Involvement, db.Plan, db.PlanOwner)  # fmt: skip


GENERATED = build(12, seed=3, today=date(2026, 11, 30)).spec


def with_records(base: DirectorySpec, **records: Sequence[dict[str, Any]]) -> DirectorySpec:
    data = json.loads(base.model_dump_json())
    for kind, extra in records.items():
        data[kind] = data[kind] + list(extra)
    return DirectorySpec.model_validate(data)


def plan(plan_id: str, child: str, org: str) -> dict[str, Any]:
    owner = {"name": "A. Worker", "role": "Social worker", "org_id": org}
    return {"id": plan_id, "person_id": child, "kind": "child_in_need", "area": "E09000099",
            "started_on": "2026-09-01", "lead_professional": owner,
            "action_owners": [owner | {"name": "B. Nurse", "role": "School nurse"}]}  # fmt: skip


def _with_plans_and_ties(spec: DirectorySpec) -> DirectorySpec:
    """The generated directory has neither: a plan for each household's first child and a
    sibling tie across the first two households."""
    org = spec.organisations[0].id
    children = [next(m.person_id for m in h.members if m.role == "child") for h in spec.households]
    ties = [{"person_id": children[0], "kind": "sibling_of", "related_person_id": children[1]}]
    plans = [plan(f"plan-{i}", child, org) for i, child in enumerate(children)]
    return with_records(spec, plans=plans, relationships=ties)


SPEC = _with_plans_and_ties(GENERATED)


@pytest.fixture
async def pair(databases: Databases, tmp_path: Path) -> AsyncIterator[tuple[Sessions, Sessions]]:
    """Two empty databases: one for the per-record path, one for the bulk path."""
    engines = [db.make_engine(await databases.new()) for _ in range(2)]
    old, new = (db.sessions(e, audit_key(tmp_path / str(i))) for i, e in enumerate(engines))
    yield old, new
    for engine in engines:
        await engine.dispose()


async def per_record(sessions: Sessions, spec: DirectorySpec) -> ImportSummary:
    async with sessions.begin() as session:
        return await load_directory(
            SqlUnitOfWork.joined(session), spec, actor="t", webhook_networks=[LOOPBACK]
        )


async def bulk(sessions: Sessions, spec: DirectorySpec) -> ImportSummary:
    async with SqlUnitOfWork(sessions) as uow:
        return await bulk_load_directory(uow, spec, actor="t", webhook_networks=[LOOPBACK])


async def contents(sessions: Sessions) -> dict[str, list[tuple[Any, ...]]]:
    """Every directory table's rows in key order, and the change log without ids or times."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    async with sessions() as session:
        for model in DIRECTORY_TABLES:
            rows = (await session.execute(select(model.__table__))).all()
            tables[model.__tablename__] = sorted(tuple(r) for r in rows)
        log = select(db.DirectoryChange).order_by(db.DirectoryChange.id)
        tables["directory_changes"] = [(c.actor, c.entity, c.entity_id, c.action, c.fields)
                                       for c in await session.scalars(log)]  # fmt: skip
    return tables


def replacement(spec: DirectorySpec) -> DirectorySpec:
    """The same directory a term later: renamed people, a household re-formed, a tie the
    household implies stated, plans ended, an organisation renamed and its terms gone,
    another given a signing key."""
    people = [p.model_copy(update={"family_name": "Renamed"}) if i % 3 == 0 else p
              for i, p in enumerate(spec.people)]  # fmt: skip
    first = spec.households[0]
    homes = [first.model_copy(update={"members": first.members[:-1]}), *spec.households[1:]]
    adult = next(m for m in first.members if m.role == "parent_or_carer")
    child = next(m for m in first.members if m.role == "child")
    tie = {"person_id": adult.person_id, "kind": "parent_of", "related_person_id":
           child.person_id, "parental_responsibility": True}  # fmt: skip
    plans = [p.model_copy(update={"ended_on": date(2026, 12, 1), "action_owners": ()})
             for p in spec.plans]  # fmt: skip
    keyed = spec.organisations[1].model_dump(mode="json") | {"signing_keys": [{"public_key":
        crypto.encode_public(Ed25519PrivateKey.generate().public_key())}]}  # fmt: skip
    orgs = [spec.organisations[0].model_copy(update={"name": "Renamed", "terms": ()}),
            OrganisationSpec.model_validate(keyed), *spec.organisations[2:]]  # fmt: skip
    return spec.model_copy(update={
        "organisations": tuple(orgs), "people": tuple(people), "households": tuple(homes),
        "relationships": (*spec.relationships, DirectorySpec.model_validate(
            {"relationships": [tie]}).relationships[0]),
        "plans": tuple(plans),
    })  # fmt: skip


class TestBulkImportMatchesPerRecord:
    async def test_a_new_directory(self, pair: tuple[Sessions, Sessions]) -> None:
        """Loaded into empty databases, both paths leave identical tables and change logs."""
        old, new = pair
        assert await bulk(new, SPEC) == await per_record(old, SPEC)
        assert await contents(new) == await contents(old)

    async def test_a_directory_replaced(self, pair: tuple[Sessions, Sessions]) -> None:
        """Loading a changed directory over the first gives the same counts and end state."""
        old, new = pair
        await per_record(old, SPEC)
        await bulk(new, SPEC)
        changed = replacement(SPEC)
        assert await bulk(new, changed) == await per_record(old, changed)
        assert await contents(new) == await contents(old)

    async def test_the_same_directory_again_changes_nothing(
        self, pair: tuple[Sessions, Sessions]
    ) -> None:
        """Everything unchanged: no change-log row and no audit entry are added."""
        _, new = pair
        await bulk(new, SPEC)
        before = await contents(new)
        summary = await bulk(new, SPEC)
        assert {outcome for counts in summary.values() for outcome in counts} == {"unchanged"}
        assert await contents(new) == before
        async with new() as session:
            assert await session.scalar(select(func.count(AuditEntry.seq))) == 1


class TestBulkImportAudit:
    async def test_one_audit_entry_names_kinds_and_counts(
        self, pair: tuple[Sessions, Sessions]
    ) -> None:
        """The import is one audit entry with counts per kind and field names, no ids."""
        _, new = pair
        summary = await bulk(new, SPEC)
        async with new() as session:
            [entry] = (await session.scalars(select(AuditEntry))).all()
        details = json.loads(entry.details)
        assert (entry.action, entry.subject_ref) == ("directory_changed", "directory:import")
        assert details["people_created"] == summary["people"]["created"] == len(SPEC.people)
        assert all(p.id not in entry.details for p in SPEC.people)
        assert all(str(p.nhs_number) not in entry.details for p in SPEC.people)


REFUSED = {
    "missing person": {"registrations": [{"person_id": "p-nobody", "kind": "gp",
                                          "org_id": SPEC.organisations[0].id}]},
    "duplicate NHS number": {"people": [{"id": "p-twin-record",
                                         "nhs_number": SPEC.people[0].nhs_number}]},
    "second contact in a role": {"contacts": [
        json.loads(SPEC.contacts[0].model_dump_json()) | {"id": "c-second"}]},
    "webhook to a private network": {"contacts": [
        json.loads(SPEC.contacts[0].model_dump_json())
        | {"webhook_url": "https://10.0.0.1/hook"}]},
}  # fmt: skip


class TestBulkImportRefuses:
    @pytest.mark.parametrize("case", list(REFUSED))
    async def test_as_the_per_record_path_does(
        self, case: str, pair: tuple[Sessions, Sessions]
    ) -> None:
        """A directory the per-record path refuses is refused with the same error, and
        neither path writes anything."""
        spec = with_records(SPEC, **REFUSED[case])
        old, new = pair
        with pytest.raises(DirectoryError) as per_record_error:
            await per_record(old, spec)
        with pytest.raises(type(per_record_error.value)) as bulk_error:
            await bulk(new, spec)
        assert str(bulk_error.value) == str(per_record_error.value)
        assert await contents(new) == await contents(old)
