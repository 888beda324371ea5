"""The bulk directory import on the fakes: what it counts, what it logs and audits, and that a
refused record leaves nothing written. (tests/integration/test_directory_bulk.py checks it
against the per-record path on SQLite and PostgreSQL.)"""

from datetime import date
from ipaddress import IPv4Network

import pytest

from broker.ports import AuditRecord
from broker.services.directory_admin import ImportSummary
from broker.services.directory_bulk import bulk_load_directory
from broker.services.directory_changes import DuplicateValue, MissingReference
from schemas.directory import DirectorySpec
from tests.fakes import FakeUnitOfWork
from tests.faults.population import build

LOOPBACK = IPv4Network("127.0.0.0/8")  # the generated population's webhooks are local
SPEC = build(4, seed=5, today=date(2026, 11, 30)).spec


async def load(uow: FakeUnitOfWork, spec: DirectorySpec = SPEC) -> ImportSummary:
    async with uow:
        return await bulk_load_directory(uow, spec, actor="t", webhook_networks=[LOOPBACK])


def with_people(*people: dict[str, object]) -> DirectorySpec:
    extra = DirectorySpec.model_validate({"people": people}).people
    return SPEC.model_copy(update={"people": SPEC.people + extra})


def audited(uow: FakeUnitOfWork) -> list[AuditRecord]:
    return [record for record, _ in uow.audit.committed]


class TestCounts:
    async def test_a_new_directory_is_all_created(self) -> None:
        """Every record given to an empty directory is counted as created."""
        summary = await load(FakeUnitOfWork())
        assert summary["people"] == {"created": len(SPEC.people)}
        assert summary["households"] == {"created": len(SPEC.households)}

    async def test_the_same_directory_again_is_unchanged(self) -> None:
        """Loaded twice, the second load changes nothing, logs nothing and audits nothing."""
        uow = FakeUnitOfWork()
        await load(uow)
        summary = await load(uow)
        assert {outcome for counts in summary.values() for outcome in counts} == {"unchanged"}
        assert len(audited(uow)) == 1

    async def test_a_changed_name_is_an_update_naming_the_field(self) -> None:
        """A person renamed is updated; the change log names the field, not the value."""
        uow = FakeUnitOfWork()
        await load(uow)
        first = SPEC.people[0]
        renamed = first.model_copy(update={"family_name": "Renamed"})
        changed = SPEC.model_copy(update={"people": (renamed, *SPEC.people[1:])})
        assert (await load(uow, changed))["people"]["updated"] == 1
        async with uow:
            [created, updated] = await uow.directory_rows.changes_for("person", first.id)
        assert (created.action, updated.action, updated.fields) == (
            "created", "updated", ("family_name",))  # fmt: skip


class TestAudit:
    async def test_one_audit_entry_names_kinds_and_counts(self) -> None:
        """The import is one audit entry with counts per kind, and no record's id."""
        uow = FakeUnitOfWork()
        await load(uow)
        [entry] = audited(uow)
        assert (entry.action, entry.subject_ref) == ("directory_changed", "directory:import")
        assert entry.details["people_created"] == len(SPEC.people)
        assert all(p.id not in str(entry.details) for p in SPEC.people)


class TestRefusals:
    async def test_a_missing_reference_writes_nothing(self) -> None:
        """A registration naming nobody the directory has refuses the whole import."""
        uow = FakeUnitOfWork()
        refused = SPEC.model_copy(update={"registrations": DirectorySpec.model_validate(
            {"registrations": [{"person_id": "p-nobody", "kind": "gp",
                                "org_id": SPEC.organisations[0].id}]}).registrations})  # fmt: skip
        with pytest.raises(MissingReference):
            await load(uow, refused)
        assert (uow.directory_rows.committed, audited(uow)) == ({}, [])

    async def test_a_duplicate_nhs_number_is_refused(self) -> None:
        """Two people with one NHS number are refused, as the per-record path refuses them."""
        first = SPEC.people[0]
        twin = {"id": "p-twin-record", "nhs_number": first.nhs_number, "given_name": "Twin"}
        with pytest.raises(DuplicateValue):
            await load(FakeUnitOfWork(), with_people(twin))
