"""The directory in memory (adapters/directory_projection.py), on SQLite and on PostgreSQL:
a family resolved from the projection is the family SQL resolves, and a projection kept
current from the change log, whatever wrote to the directory, equals one loaded afresh."""

import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from conftest import Databases, PostgresServer
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.adapters import db
from broker.adapters.directory import FamilyContext, SqlDirectory, read_organisations
from broker.adapters.directory_projection import DirectoryProjection, read_state
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.keys import audit_key
from broker.services import directory_admin as admin
from broker.services import proposals
from broker.services.directory_bulk import bulk_load_directory
from schemas.directory import (
    DirectorySpec,
    HouseholdSpec,
    InvolvementSpec,
    PersonSpec,
    PlanOwnerSpec,
    PlanSpec,
    RegistrationSpec,
    RelationshipSpec,
)
from schemas.events import FamilyMovingArea, PersonRef
from tests.benchmark import population
from tests.faults.population import Household

pytestmark = pytest.mark.integration

Sessions = async_sessionmaker[AsyncSession]
TODAY = date(2026, 11, 30)
PEOPLE = 200
POP = population.population(PEOPLE, TODAY)


class LoadedTemplates:
    """The generated directory bulk-loaded once a module per backend, into a database each
    test gets a copy of (loading it per test was most of this file's time), with the audit
    key its chain was made with."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.keys = folder, folder / "keys"
        self.made: dict[str, str | Path] = {}

    async def template(self, source: PostgresServer | Path) -> str | Path:
        backend = "postgresql" if isinstance(source, PostgresServer) else "sqlite"
        if backend not in self.made:
            if isinstance(source, PostgresServer):
                self.made[backend] = await self._on_postgres(source)
            else:
                self.made[backend] = await self._on_sqlite(source)
        return self.made[backend]

    async def _on_postgres(self, server: PostgresServer) -> str:
        name = await server.create(migrated=True)
        server.other_templates.append(name)
        await self._load(server.url_of(name))
        return name

    async def _on_sqlite(self, migrated: Path) -> Path:
        path = self.folder / "directory.db"
        shutil.copyfile(migrated, path)
        await self._load(f"sqlite+aiosqlite:///{path}")
        return path

    async def _load(self, url: str) -> None:
        engine = db.make_engine(url)
        try:
            async with db.sessions(engine, audit_key(self.keys)).begin() as session:
                await bulk_load_directory(SqlUnitOfWork.joined(session),
                                          _with_plans_and_ties(POP.spec), actor="test")  # fmt: skip
        finally:
            await engine.dispose()  # nobody may stay connected to a template


@pytest.fixture(scope="module")
def loaded_templates(tmp_path_factory: pytest.TempPathFactory) -> LoadedTemplates:
    folder = tmp_path_factory.mktemp("projection-templates")
    (folder / "keys").mkdir()
    return LoadedTemplates(folder)


@pytest.fixture
async def sessions(
    databases: Databases, database_source: PostgresServer | Path, loaded_templates: LoadedTemplates
) -> AsyncIterator[Sessions]:
    """A database of the test's own holding the generated directory (plans and ties too)."""
    url = await databases.new(template=await loaded_templates.template(database_source))
    engine = db.make_engine(url)
    yield db.sessions(engine, audit_key(loaded_templates.keys))
    await engine.dispose()


def _with_plans_and_ties(spec: DirectorySpec) -> DirectorySpec:
    """The generated directory, with plans (owners included) and stated sibling ties."""
    homes = POP.households[:20]
    owner = PlanOwnerSpec(name="A. Worker", role="social worker", org_id=homes[0].school)
    plans = tuple(
        PlanSpec(id=f"plan-{h.id}", person_id=h.pupil.id, kind="child_in_need",
                 area="E09000099", started_on=date(2026, 1, 5), lead_professional=owner,
                 action_owners=(owner,) if i % 2 else ())
        for i, h in enumerate(homes)
    )  # fmt: skip
    ties = tuple(
        RelationshipSpec(person_id=h.pupil.id, kind="sibling_of",
                         related_person_id=h.young_child.id)
        for h in homes[::3]
    )  # fmt: skip
    return spec.model_copy(update={"plans": plans, "relationships": ties})


def refs(home: Household) -> list[list[PersonRef]]:
    """The ways an event names people of this household: each alone, a parent and a child,
    and someone the directory does not know beside one it does."""
    stranger = PersonRef(given_name="Not", family_name="Known", nhs_number="9990000026")
    people = (home.mother, home.father, home.pupil, home.young_child)
    named = [[PersonRef(nhs_number=p.nhs_number)] for p in people]
    named.append([PersonRef(nhs_number=home.mother.nhs_number),
                  PersonRef(nhs_number=home.pupil.nhs_number)])  # fmt: skip
    named.append([PersonRef(nhs_number=home.father.nhs_number), stranger])
    named.append([stranger])
    return named


async def both_ways(
    sessions: Sessions, projection: DirectoryProjection, named: list[PersonRef], source: str
) -> tuple[FamilyContext, FamilyContext]:
    async with sessions() as session:
        from_sql = await SqlDirectory(session).family_for(named, source)
    async with sessions() as session:
        from_memory = await SqlDirectory(session, projection).family_for(named, source)
    return from_sql, from_memory


async def loaded(sessions: Sessions) -> DirectoryProjection:
    projection = DirectoryProjection()
    async with sessions() as session:
        await projection.load(session)
    return projection


async def assert_current(sessions: Sessions, projection: DirectoryProjection) -> None:
    """Refreshed from the change log, the projection holds what a fresh load would."""
    async with sessions() as session:
        await projection.refresh(session)
        assert projection.state == await read_state(session)
        assert projection.organisations == await read_organisations(session)


class TestSameFamilies:
    async def test_every_household_resolves_identically(self, sessions: Sessions) -> None:
        """For every household of a generated directory (plans, stated and derived ties
        included), each way of naming its people gives the same FamilyContext from the
        projection as from SQL."""
        projection = await loaded(sessions)
        compared = 0
        for home in POP.households:
            for named in refs(home):
                from_sql, from_memory = await both_ways(sessions, projection, named, home.school)
                assert from_memory == from_sql, (home.id, named)
                compared += 1
        assert compared == 7 * len(POP.households)

    async def test_resolution_reads_no_directory_table(self, sessions: Sessions) -> None:
        """With the projection current, resolving a family reads only the change log (the
        refresh) and the household chronology, never a directory table."""
        projection = await loaded(sessions)
        home = POP.households[0]
        statements: list[str] = []
        async with sessions() as session:
            from sqlalchemy import event

            engine = session.bind.sync_engine  # type: ignore[union-attr]

            def seen(*args: object) -> None:
                statements.append(str(args[2]))

            event.listen(engine, "before_cursor_execute", seen)
            try:
                await SqlDirectory(session, projection).family_for(
                    [PersonRef(nhs_number=home.pupil.nhs_number)], home.school
                )
            finally:
                event.remove(engine, "before_cursor_execute", seen)
        tables = {"people", "households", "household_members", "relationships", "plans",
                  "registrations", "involvements", "organisations", "contacts"}  # fmt: skip
        read = [s for s in statements if any(f" {t}" in s.split("FROM", 1)[-1] for t in tables)]
        assert not read, read


Write = Callable[[SqlUnitOfWork], Awaitable[object]]
HOME, OTHER = POP.households[0], POP.households[1]


def _household(
    home: Household, leaving: str | None = None, joining: str | None = None
) -> HouseholdSpec:
    members = [(p.id, role) for p, role in ((home.mother, "parent_or_carer"),
               (home.father, "parent_or_carer"), (home.pupil, "child"),
               (home.young_child, "child")) if p.id != leaving]  # fmt: skip
    if joining:
        members.append((joining, "parent_or_carer"))
    return HouseholdSpec.model_validate(
        {"id": home.id, "area": "E09000099",
         "members": [{"person_id": p, "role": r} for p, r in members]}
    )  # fmt: skip


UNBORN = PersonSpec(id="unborn-1", unborn=True, expected_on=date(2027, 3, 1))
BORN = PersonSpec(id="unborn-1", nhs_number="9990004218", given_name="Ruby",
                  date_of_birth=date(2027, 2, 20), expected_on=date(2027, 3, 1))  # fmt: skip


def _expecting(home: Household) -> HouseholdSpec:
    """The household with an unborn child (``UNBORN``) among its children."""
    spec = _household(home)
    child = HouseholdSpec.model_validate({"id": home.id, "area": "E09000099", "members": [
        {"person_id": UNBORN.id, "role": "child"}]}).members  # fmt: skip
    return spec.model_copy(update={"members": spec.members + child})


async def _unborn_then_born(uow: SqlUnitOfWork, *, born: bool = True) -> None:
    """An unborn child joins a household, then (``born``) is born: the same record gets its
    date of birth and NHS number."""
    await admin.put_person(uow, UNBORN, "t")
    await admin.put_household(uow, _expecting(HOME), "t")
    if born:
        await admin.put_person(uow, BORN, "t")


async def _needs_recorded(uow: SqlUnitOfWork) -> None:
    """The father's learning disability and language need, and the pupil's SEND and EHCP,
    are recorded."""
    father = HOME.father.model_copy(update={"learning_disability": True,
                                            "preferred_language": "cy",
                                            "interpreter_needed": True})  # fmt: skip
    pupil = HOME.pupil.model_copy(update={"has_send": True, "has_ehcp": True})
    await bulk_load_directory(uow, DirectorySpec(people=(father,)), actor="t")
    await admin.put_person(uow, pupil, "t")


# Every way the directory is written, each through the function that writes it.
WRITES: dict[str, Write] = {
    "an unborn child joins a household": lambda s: bulk_load_directory(
        s, DirectorySpec(people=(UNBORN,), households=(_expecting(HOME),)), actor="t"),
    "an unborn child joins a household and is born": _unborn_then_born,
    "additional needs recorded": lambda s: _needs_recorded(s),
    "person's NHS number changes": lambda s: admin.put_person(
        s, PersonSpec(id=HOME.mother.id, nhs_number="9990000018", given_name="New"), "t"),
    "parent moves out, another joins": lambda s: admin.put_household(
        s, _household(HOME, leaving=HOME.father.id, joining=OTHER.father.id), "t"),
    "tie stated": lambda s: admin.put_relationship(s, RelationshipSpec(
        person_id=OTHER.mother.id, kind="parent_of", related_person_id=HOME.pupil.id,
        parental_responsibility=True), "t"),
    "tie removed": lambda s: admin.delete_relationship(
        s, HOME.mother.id, "parent_of", HOME.pupil.id, "t"),
    "registration changes": lambda s: admin.put_registration(s, RegistrationSpec(
        person_id=HOME.pupil.id, kind="school", org_id=OTHER.school), "t"),
    "registration removed": lambda s: admin.delete_registration(s, HOME.pupil.id, "school", "t"),
    "involvement opened": lambda s: admin.put_involvement(s, InvolvementSpec(
        person_id=HOME.mother.id, org_id=OTHER.mental_health, opened_on=date(2026, 3, 1)), "t"),
    "plan made": lambda s: admin.put_plan(s, PlanSpec(
        id="plan-new", person_id=HOME.young_child.id, kind="early_help", area="E09000099",
        started_on=date(2026, 2, 1)), "t"),
    "bulk import of a few records": lambda s: bulk_load_directory(
        s, DirectorySpec(
            people=(PersonSpec(id="newcomer", nhs_number="9990000034"),),
            households=(_household(OTHER, joining="newcomer"),)), actor="t"),
    "bulk import of the whole directory again, changed": lambda s: bulk_load_directory(
        s, POP.spec.model_copy(update={"people": tuple(
            p.model_copy(update={"given_name": "Renamed"}) for p in POP.spec.people)}),
        actor="t"),
}  # fmt: skip


class TestAdditionalNeeds:
    async def test_needs_reach_the_rules_alike_both_ways(self, sessions: Sessions) -> None:
        """Recorded needs reach each person's ``Member`` (a language need: its view in
        notices), from memory as from SQL."""
        projection = await loaded(sessions)
        async with sessions.begin() as session:
            await _needs_recorded(SqlUnitOfWork.joined(session))
        named = [PersonRef(nhs_number=HOME.pupil.nhs_number)]
        await assert_current(sessions, projection)
        from_sql, from_memory = await both_ways(sessions, projection, named, HOME.school)
        assert from_memory == from_sql
        family = from_memory.family
        father, pupil = family.person(HOME.father.id), family.person(HOME.pupil.id)
        assert father is not None
        assert father.learning_disability
        assert pupil is not None
        assert (pupil.has_send, pupil.has_ehcp) == (True, True)
        dad = from_memory.people[HOME.father.id]
        assert (dad.preferred_language, dad.interpreter_needed) == ("cy", True)


class TestKeptCurrent:
    @pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
    async def test_a_directory_write_reaches_the_projection(
        self, sessions: Sessions, write: Write
    ) -> None:
        """Whatever writes to the directory names its record in the change log, and the
        projection refreshed from the log equals one loaded afresh."""
        projection = await loaded(sessions)
        async with sessions.begin() as session:
            await write(SqlUnitOfWork.joined(session))
        await assert_current(sessions, projection)

    async def test_a_move_routing_applies_reaches_the_projection(self, sessions: Sessions) -> None:
        """A move applied by routing (proposals.apply: households' areas, their history)
        reaches the projection, and the moved family resolves alike both ways."""
        projection = await loaded(sessions)
        named = [PersonRef(nhs_number=HOME.pupil.nhs_number)]
        async with SqlUnitOfWork(sessions, projection) as uow:
            directory = uow.directory
            family = (await directory.family_for(named, HOME.school)).family
            move = FamilyMovingArea(
                event_type="family_moving_area", source_org="fd-demo",
                event_id="00000000-0000-4000-8000-000000000001",
                occurred_at=datetime(2026, 11, 30, tzinfo=UTC),
                correlation_id="00000000-0000-4000-8000-000000000002",
                members=tuple(named), from_authority="E09000099",
                to_authority=population.NEIGHBOUR_AREA, moved_on=TODAY,
            )  # fmt: skip
            await proposals.apply(uow, move, family, actor="fd-demo")
            # The transaction that wrote reads its own writes.
            moved = (await directory.family_for(named, HOME.school)).family
            assert moved.area == population.NEIGHBOUR_AREA
        await assert_current(sessions, projection)
        from_sql, from_memory = await both_ways(sessions, projection, named, HOME.school)
        assert from_memory == from_sql
        assert from_memory.family.area == population.NEIGHBOUR_AREA

    async def test_a_change_committed_under_an_id_below_the_loads_reaches_it(
        self, sessions: Sessions
    ) -> None:
        """A plan whose change log id is below one already committed when the projection
        loads (its transaction still open then, as PostgreSQL allocates ids) reaches the
        projection once it commits."""
        async with sessions.begin() as session:
            top = await session.scalar(select(func.max(db.DirectoryChange.id))) or 0
            household = await session.scalar(select(db.Household.id).limit(1))
            assert household is not None
            session.add(db.DirectoryChange(id=top + 2, at=datetime.now(UTC), actor="t",
                                           entity="household", entity_id=household,
                                           action="updated", fields="area"))  # fmt: skip
        projection = await loaded(sessions)
        async with sessions.begin() as session:
            await admin.put_plan(SqlUnitOfWork.joined(session), PlanSpec(
                id="plan-late", person_id=HOME.pupil.id, kind="early_help", area="E09000099",
                started_on=date(2026, 2, 1)), "t")  # fmt: skip
            change = db.DirectoryChange
            await session.execute(update(change).where(change.entity_id == "plan-late")
                                  .values(id=top + 1))  # fmt: skip
        await assert_current(sessions, projection)
        assert "plan-late" in projection.state.plans

    async def test_a_rolled_back_write_leaves_the_projection_as_it_was(
        self, sessions: Sessions
    ) -> None:
        """A transaction rolled back changes nothing in the projection."""
        projection = await loaded(sessions)
        before = projection.state
        async with sessions() as session:
            await admin.put_plan(SqlUnitOfWork.joined(session), PlanSpec(
                id="plan-never", person_id=HOME.pupil.id, kind="early_help", area="E09000099",
                started_on=date(2026, 2, 1)), "t")  # fmt: skip
            await session.rollback()
        await assert_current(sessions, projection)
        assert "plan-never" not in projection.state.plans
        assert projection.state == before


class TestUnbornChildren:
    async def test_an_unborn_child_resolves_alike_both_ways(self, sessions: Sessions) -> None:
        """The mother's family holds the unborn child, flagged with its expected date, from
        the projection as from SQL."""
        async with sessions.begin() as session:
            await _unborn_then_born(SqlUnitOfWork.joined(session), born=False)
        projection = await loaded(sessions)
        named = [PersonRef(nhs_number=HOME.mother.nhs_number)]
        from_sql, from_memory = await both_ways(sessions, projection, named, HOME.school)
        assert from_memory == from_sql
        baby = from_sql.family.person(UNBORN.id)
        assert baby is not None
        assert (baby.unborn, baby.expected_on, baby.date_of_birth) == (
            True, date(2027, 3, 1), None)  # fmt: skip

    async def test_at_birth_the_record_becomes_the_child(self, sessions: Sessions) -> None:
        """Born, the same record is found by its new NHS number, in its household, no longer
        unborn: its id, under which its plans and history are kept, is unchanged."""
        projection = await loaded(sessions)
        async with sessions.begin() as session:
            await _unborn_then_born(SqlUnitOfWork.joined(session))
        await assert_current(sessions, projection)
        named = [PersonRef(nhs_number=BORN.nhs_number)]
        from_sql, from_memory = await both_ways(sessions, projection, named, HOME.school)
        assert from_memory == from_sql
        assert from_sql.family.subjects == (UNBORN.id,)
        baby = from_sql.family.subject
        assert baby is not None
        assert (baby.unborn, baby.date_of_birth, baby.household_id) == (
            False, date(2027, 2, 20), HOME.id)  # fmt: skip
