"""The per-record directory changes (directory_admin) on the fakes: what they count, log and
audit, the references and unique values they refuse, the parent ties a household makes, and
that a refused record leaves nothing written. (The admin API's tests run them on SQL.)"""

from datetime import date
from ipaddress import IPv4Network

import pytest

from broker.ports import AuditRecord
from broker.services import directory_admin as admin
from broker.services.directory_bulk import bulk_load_directory
from broker.services.directory_changes import DuplicateValue, MissingReference, RecordNotFound
from schemas.directory import DirectorySpec, HouseholdSpec, PersonSpec, RelationshipSpec
from tests.fakes import FakeUnitOfWork
from tests.faults.population import build

LOOPBACK = IPv4Network("127.0.0.0/8")  # the generated population's webhooks are local
SPEC = build(4, seed=5, today=date(2026, 11, 30)).spec
AREA = SPEC.households[0].area


async def load(uow: FakeUnitOfWork, spec: DirectorySpec = SPEC) -> admin.ImportSummary:
    async with uow:
        return await admin.load_directory(uow, spec, actor="t", webhook_networks=[LOOPBACK])


def audited(uow: FakeUnitOfWork) -> list[AuditRecord]:
    return [record for record, _ in uow.audit.committed]


def household(household_id: str, *members: tuple[str, str]) -> HouseholdSpec:
    return HouseholdSpec.model_validate({"id": household_id, "area": AREA, "members": [
        {"person_id": person, "role": role} for person, role in members]})  # fmt: skip


async def ties(uow: FakeUnitOfWork, *adults: str) -> set[tuple[str, str, bool]]:
    async with uow:
        rows = await uow.directory_rows.select_in("relationships", "person_id", adults)
    return {(r["person_id"], r["related_person_id"], r["derived"]) for r in rows}


class TestLoadDirectory:
    async def test_a_new_directory_is_all_created(self) -> None:
        """Every record given to an empty directory is counted as created."""
        summary = await load(FakeUnitOfWork())
        assert summary["people"] == {"created": len(SPEC.people)}
        assert summary["households"] == {"created": len(SPEC.households)}

    async def test_the_same_directory_again_is_unchanged(self) -> None:
        """Loaded twice, the second load changes nothing and audits nothing more."""
        uow = FakeUnitOfWork()
        await load(uow)
        before = len(audited(uow))
        summary = await load(uow)
        assert {outcome for counts in summary.values() for outcome in counts} == {"unchanged"}
        assert len(audited(uow)) == before

    async def test_it_leaves_the_rows_the_bulk_import_leaves(self) -> None:
        """Record by record or in bulk, the directory ends the same."""
        one_by_one, bulk = FakeUnitOfWork(), FakeUnitOfWork()
        await load(one_by_one)
        async with bulk:
            await bulk_load_directory(bulk, SPEC, actor="t", webhook_networks=[LOOPBACK])
        tables = set(one_by_one.directory_rows.committed) - {"directory_changes"}
        for table in tables:
            assert one_by_one.directory_rows.committed[table] == (
                bulk.directory_rows.committed.get(table, {})
            ), table


class TestRefusals:
    async def test_a_missing_person_is_refused_and_nothing_is_written(self) -> None:
        """A household naming a person the directory lacks raises; the unit writes nothing."""
        uow = FakeUnitOfWork()
        with pytest.raises(MissingReference):  # noqa: PT012 - the failure must be inside the unit
            async with uow:
                await admin.put_person(uow, PersonSpec(id="p-new"), "t")
                await admin.put_household(uow, household("h-x", ("nobody", "child")), "t")
        assert uow.directory_rows.committed == {}
        assert audited(uow) == []

    async def test_a_second_person_with_an_nhs_number_is_refused(self) -> None:
        """An NHS number another person holds is a duplicate, named by field only."""
        uow = FakeUnitOfWork()
        await load(uow)
        holder = next(p for p in SPEC.people if p.nhs_number)
        with pytest.raises(DuplicateValue, match="nhs_number"):
            async with uow:
                await admin.put_person(uow, PersonSpec(id="p-x", nhs_number=holder.nhs_number), "t")

    async def test_deleting_a_registration_not_held_is_refused(self) -> None:
        """Nothing to delete raises RecordNotFound."""
        uow = FakeUnitOfWork()
        with pytest.raises(RecordNotFound):
            async with uow:
                await admin.delete_registration(uow, "nobody", "gp", "t")

    async def test_a_refused_key_is_audited_without_the_key(self) -> None:
        """The refusal names the contact and the field."""
        uow = FakeUnitOfWork()
        async with uow:
            await admin.record_refusal(uow, "admin", admin.UnsealableKey("c-1"))
        [entry] = audited(uow)
        assert entry.subject_ref == "contact:c-1"
        assert entry.details == {"reason": "unsealable_key", "field": "hpke_public_key"}


class TestHouseholds:
    async def test_parents_living_with_a_child_become_its_parents(self) -> None:
        """Each parent or carer in a household is a parent of each child in it (derived)."""
        uow = FakeUnitOfWork()
        async with uow:
            for person in ("mum", "dad", "kid"):
                await admin.put_person(uow, PersonSpec(id=person), "t")
            home = household("h-1", ("mum", "parent_or_carer"), ("dad", "parent_or_carer"),
                             ("kid", "child"))  # fmt: skip
            assert await admin.put_household(uow, home, "t") == "created"
        assert await ties(uow, "mum", "dad") == {("mum", "kid", True), ("dad", "kid", True)}

    async def test_a_parent_who_moves_out_stays_a_parent(self) -> None:
        """The household changes; the tie does not, and a stated tie stays stated."""
        uow = FakeUnitOfWork()
        async with uow:
            for person in ("mum", "dad", "kid"):
                await admin.put_person(uow, PersonSpec(id=person), "t")
            stated = RelationshipSpec(person_id="mum", kind="parent_of", related_person_id="kid")
            await admin.put_relationship(uow, stated, "t")
            both = household("h-1", ("mum", "parent_or_carer"), ("dad", "parent_or_carer"),
                             ("kid", "child"))  # fmt: skip
            await admin.put_household(uow, both, "t")
        async with uow:
            moved = household("h-1", ("mum", "parent_or_carer"), ("kid", "child"))
            assert await admin.put_household(uow, moved, "t") == "updated"
        assert await ties(uow, "mum", "dad") == {("mum", "kid", False), ("dad", "kid", True)}


class TestDeletes:
    async def test_a_deleted_tie_is_gone_and_logged(self) -> None:
        """Deleting a tie removes it and logs the deletion naming the field, not values."""
        uow = FakeUnitOfWork()
        async with uow:
            for person in ("mum", "kid"):
                await admin.put_person(uow, PersonSpec(id=person), "t")
            tie = RelationshipSpec(person_id="mum", kind="parent_of", related_person_id="kid")
            await admin.put_relationship(uow, tie, "t")
        async with uow:
            await admin.delete_relationship(uow, "mum", "parent_of", "kid", "t")
        assert await ties(uow, "mum") == set()
        async with uow:
            logged = await uow.directory_rows.changes_for("relationship", "mum/parent_of/kid")
        assert [c.action for c in logged] == ["created", "deleted"]
        assert logged[-1].fields == ("kind",)


class TestUnbornChildren:
    async def test_a_birth_clears_the_flag_and_logs_the_fields(self) -> None:
        """An unborn child's record, at birth, becomes the child's: the same id, no longer
        unborn, with its date of birth and NHS number; the change log names the fields."""
        uow = FakeUnitOfWork()
        async with uow:
            await admin.put_person(
                uow, PersonSpec(id="baby", unborn=True, expected_on=date(2027, 10, 7)), "t"
            )
            born = PersonSpec(id="baby", nhs_number="9990004218", date_of_birth=date(2027, 10, 1),
                              expected_on=date(2027, 10, 7))  # fmt: skip
            assert await admin.put_person(uow, born, "t") == "updated"
            [row] = await uow.directory_rows.select_in("people", "id", ["baby"])
            logged = await uow.directory_rows.changes_for("person", "baby")
        assert (row["unborn"], row["date_of_birth"]) == (False, date(2027, 10, 1))
        assert logged[-1].fields == ("nhs_number", "date_of_birth", "unborn")

    async def test_a_born_persons_record_logs_nothing_of_unborn(self) -> None:
        """Creating an ordinary person logs only the fields given, as before unborn children."""
        uow = FakeUnitOfWork()
        async with uow:
            await admin.put_person(uow, PersonSpec(id="mum", given_name="Jess"), "t")
            logged = await uow.directory_rows.changes_for("person", "mum")
        assert logged[-1].fields == ("given_name",)


class TestAdditionalNeeds:
    async def test_needs_are_logged_only_when_set(self) -> None:
        """A need recorded is logged by name; a person with none logs none of the flags."""
        uow = FakeUnitOfWork()
        async with uow:
            await admin.put_person(uow, PersonSpec(id="dad", learning_disability=True), "t")
            await admin.put_person(uow, PersonSpec(id="mum", given_name="Jess"), "t")
            dad = await uow.directory_rows.changes_for("person", "dad")
            mum = await uow.directory_rows.changes_for("person", "mum")
        assert dad[-1].fields == ("learning_disability",)
        assert mum[-1].fields == ("given_name",)

    async def test_a_need_cleared_is_logged(self) -> None:
        """A need recorded in error and cleared is stored false and logged."""
        uow = FakeUnitOfWork()
        async with uow:
            await admin.put_person(uow, PersonSpec(id="kid", has_ehcp=True), "t")
            await admin.put_person(uow, PersonSpec(id="kid"), "t")
            [row] = await uow.directory_rows.select_in("people", "id", ["kid"])
            logged = await uow.directory_rows.changes_for("person", "kid")
        assert row["has_ehcp"] is False
        assert logged[-1].fields == ("has_ehcp",)
