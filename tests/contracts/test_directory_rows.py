"""The directory rows port: rows found by column value, written in bulk, kept only if the unit
of work commits, and a change log read back by record."""

from datetime import UTC, date, datetime

import pytest

from broker.ports import DirectoryChangeEntry, TableRow, UnitOfWork
from tests.contracts.conftest import UnitsOfWork

AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def person(person_id: str, given_name: str = "Ann") -> TableRow:
    """A person row as the import writes it: every column of the table."""
    return {"id": person_id, "nhs_number": None, "upn": None, "given_name": given_name,
            "family_name": "Smith", "date_of_birth": date(2015, 1, 1), "unborn": False,
            "expected_on": None, "has_send": False, "has_ehcp": False,
            "learning_disability": False, "preferred_language": None,
            "interpreter_needed": False}  # fmt: skip


def member(household: str, person_id: str, uow: UnitOfWork) -> TableRow:
    defaults = dict(uow.directory_rows.shape("household_members").defaults)
    return defaults | {"household_id": household, "person_id": person_id, "role": "child"}


def household(household_id: str, uow: UnitOfWork) -> TableRow:
    defaults = dict(uow.directory_rows.shape("households").defaults)
    return defaults | {"id": household_id, "area": "E09000099"}


async def names(units: UnitsOfWork, *ids: str) -> dict[str, str]:
    async with units() as uow:
        rows = await uow.directory_rows.select_in("people", "id", ids)
    return {row["id"]: row["given_name"] for row in rows}


class TestShape:
    async def test_a_shape_names_the_key_and_every_column(self, unit_of_work: UnitsOfWork) -> None:
        """A table's key columns come first among its columns, in key order."""
        async with unit_of_work() as uow:
            shape = uow.directory_rows.shape("household_members")
        assert shape.key == ("household_id", "person_id")
        assert set(shape.key) < set(shape.defaults)


class TestRows:
    async def test_inserted_rows_are_found_by_a_column(self, unit_of_work: UnitsOfWork) -> None:
        """Rows written in one call are read back whole, and only those asked for."""
        async with unit_of_work() as uow:
            await uow.directory_rows.insert("people", [person("p-1"), person("p-2", "Bo")])
        async with unit_of_work() as uow:
            found = await uow.directory_rows.select_in("people", "given_name", ["Bo", "Cy"])
        assert found == [person("p-2", "Bo")]

    async def test_updated_rows_are_found_by_their_key(self, unit_of_work: UnitsOfWork) -> None:
        """An update changes the rows under the keys given, and no other."""
        async with unit_of_work() as uow:
            await uow.directory_rows.insert("people", [person("p-1"), person("p-2")])
        async with unit_of_work() as uow:
            await uow.directory_rows.update("people", [person("p-1", "Anne")])
        assert await names(unit_of_work, "p-1", "p-2") == {"p-1": "Anne", "p-2": "Ann"}

    async def test_deleted_rows_are_gone(self, unit_of_work: UnitsOfWork) -> None:
        """Rows whose column holds one of the values are removed; the others stay."""
        async with unit_of_work() as uow:
            await uow.directory_rows.insert("people", [person(f"p-{i}") for i in range(3)])
            homes = [household("h-1", uow), household("h-2", uow)]
            await uow.directory_rows.insert("households", homes)
            rows = [member("h-1", "p-0", uow), member("h-1", "p-1", uow),
                    member("h-2", "p-2", uow)]  # fmt: skip
            await uow.directory_rows.insert("household_members", rows)
        async with unit_of_work() as uow:
            await uow.directory_rows.delete_in("household_members", "household_id", ["h-1"])
        async with unit_of_work() as uow:
            left = await uow.directory_rows.select_in("household_members", "person_id",
                                                      ["p-0", "p-1", "p-2"])  # fmt: skip
        assert [row["person_id"] for row in left] == ["p-2"]

    async def test_rows_deleted_by_key_are_gone(self, unit_of_work: UnitsOfWork) -> None:
        """Only the rows under the whole keys given are removed, not others sharing a part."""
        async with unit_of_work() as uow:
            await uow.directory_rows.insert("people", [person(f"p-{i}") for i in range(3)])
            await uow.directory_rows.insert("households", [household("h-1", uow)])
            rows = [member("h-1", f"p-{i}", uow) for i in range(3)]
            await uow.directory_rows.insert("household_members", rows)
        async with unit_of_work() as uow:
            gone = [{"household_id": "h-1", "person_id": "p-1"}]
            await uow.directory_rows.delete_keys("household_members", gone)
        async with unit_of_work() as uow:
            left = await uow.directory_rows.select_in("household_members", "household_id",
                                                      ["h-1"])  # fmt: skip
        assert sorted(row["person_id"] for row in left) == ["p-0", "p-2"]

    async def test_every_kind_of_value_is_read_back_as_written(
        self, unit_of_work: UnitsOfWork
    ) -> None:
        """Text, dates, true and false, UTC times and empty values come back as they went in
        (on PostgreSQL the rows go in as one array per column)."""
        everything = person("p-1") | {
            "nhs_number": "9434765919",
            "upn": "A12345678901B",
            "unborn": True,
            "has_send": True,
            "expected_on": None,
        }
        async with unit_of_work() as uow:
            await uow.directory_rows.insert("people", [everything, person("p-2")])
            org = dict(uow.directory_rows.shape("organisations").defaults) | {
                "id": "org-1",
                "name": "Oakfield",
                "kind": "school",
                "area": "E09000099",
            }
            await uow.directory_rows.insert("organisations", [org])
            keys = [{"org_id": "org-1", "key_id": "k1", "public_key": "pk",
                     "valid_from": AT, "valid_until": None},
                    {"org_id": "org-1", "key_id": "k2", "public_key": "pk",
                     "valid_from": None, "valid_until": AT}]  # fmt: skip
            await uow.directory_rows.insert("org_signing_keys", keys)
        async with unit_of_work() as uow:
            people = await uow.directory_rows.select_in("people", "id", ["p-1", "p-2"])
            found = await uow.directory_rows.select_in("org_signing_keys", "org_id", ["org-1"])
        assert sorted(people, key=lambda r: r["id"]) == [everything, person("p-2")]
        assert sorted(found, key=lambda r: r["key_id"]) == keys

    async def test_a_longer_value_finds_no_row_it_begins_with(
        self, unit_of_work: UnitsOfWork
    ) -> None:
        """A value longer than its column is compared whole, never cut to the column's width."""
        widest = "p-" + "x" * 62  # the 64 characters a person's id may have
        async with unit_of_work() as uow:
            await uow.directory_rows.insert("people", [person(widest)])
        assert await names(unit_of_work, widest + "y") == {}
        assert await names(unit_of_work, widest) == {widest: "Ann"}

    async def test_many_values_are_read_at_once(self, unit_of_work: UnitsOfWork) -> None:
        """More values than one statement may bind are all read."""
        async with unit_of_work() as uow:
            await uow.directory_rows.insert("people", [person(f"p-{i}") for i in range(4500)])
        found = await names(unit_of_work, *(f"p-{i}" for i in range(5000)))
        assert len(found) == 4500

    async def test_a_failed_unit_of_work_writes_nothing(self, unit_of_work: UnitsOfWork) -> None:
        """Rows written in a unit of work that fails are rolled back with it."""
        with pytest.raises(LookupError):  # noqa: PT012 - the failure must be inside the unit
            async with unit_of_work() as uow:
                await uow.directory_rows.insert("people", [person("p-1")])
                raise LookupError("a later record was refused")
        assert await names(unit_of_work, "p-1") == {}


class TestChangeLog:
    async def test_changes_are_read_back_by_record(self, unit_of_work: UnitsOfWork) -> None:
        """A record's entries come back in the order logged, with their fields."""
        first = DirectoryChangeEntry(AT, "import", "person", "p-1", "created", ("given_name",))
        other = DirectoryChangeEntry(AT, "import", "person", "p-2", "created", ())
        later = DirectoryChangeEntry(AT, "admin", "person", "p-1", "updated", ("upn", "sex"))
        async with unit_of_work() as uow:
            await uow.directory_rows.log_changes([first, other, later])
        async with unit_of_work() as uow:
            assert await uow.directory_rows.changes_for("person", "p-1") == [first, later]

    # The change log (services/directory_changes.py)
    async def test_the_latest_changes_come_newest_first(self, unit_of_work: UnitsOfWork) -> None:
        """The newest ``limit`` entries, whatever record they name, the newest first."""
        logged = [DirectoryChangeEntry(AT, "admin", "person", f"p-{i}", "updated", ("upn",))
                  for i in range(4)]  # fmt: skip
        async with unit_of_work() as uow:
            await uow.directory_rows.log_changes(logged[:2])
        async with unit_of_work() as uow:
            await uow.directory_rows.log_changes(logged[2:])
        async with unit_of_work() as uow:
            assert await uow.directory_rows.latest_changes(3) == logged[:0:-1]

    async def test_a_match_is_logged_as_one(self, unit_of_work: UnitsOfWork) -> None:
        """A front door's match is a change of its own kind, read back as logged."""
        matched = DirectoryChangeEntry(AT, "fd-1", "person", "p-1", "matched", ("alias",))
        async with unit_of_work() as uow:
            await uow.directory_rows.log_changes([matched])
        async with unit_of_work() as uow:
            assert await uow.directory_rows.latest_changes(10) == [matched]


class TestAliases:
    async def test_an_alias_names_its_person(self, unit_of_work: UnitsOfWork) -> None:
        """An agency's own id for a person is kept by agency and id, naming the person."""
        alias = {"source_org": "mh-1", "local_id": "MH-77", "person_id": "p-1"}
        async with unit_of_work() as uow:
            await uow.directory_rows.insert("people", [person("p-1")])
            await uow.directory_rows.insert("person_aliases", [alias])
        async with unit_of_work() as uow:
            found = await uow.directory_rows.select_in("person_aliases", "source_org", ["mh-1"])
        assert found == [alias]
