"""The family the SQL directory gathers for an event, on SQLite and on PostgreSQL: households
and the relationships that hold wherever people live (a parent apart from the child, twins
apart, a parent who moved out)."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.adapters import db
from broker.adapters.directory import SqlDirectory
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.keys import audit_key
from broker.rules.family import Family, HouseholdRole, Member
from broker.services.directory_admin import load_directory, put_household
from schemas.directory import DirectorySpec, HouseholdSpec
from schemas.events import PersonRef

pytestmark = pytest.mark.integration

HOME_AREA, OTHER_AREA = "E09000099", "E09000098"
NHS = {"dad": "9990020000", "mum": "9990020019", "kid": "9990020027", "twin": "9990020035"}
Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def sessions(database_url: str, tmp_path: Path) -> AsyncIterator[Sessions]:
    engine = db.make_engine(database_url)
    yield db.sessions(engine, audit_key(tmp_path / "keys"))
    await engine.dispose()


def spec(
    homes: list[tuple[str, str, list[tuple[str, str]]]], ties: list[dict[str, Any]]
) -> DirectorySpec:
    return DirectorySpec.model_validate({
        "people": [{"id": p, "nhs_number": n} for p, n in NHS.items()],
        "households": [
            {"id": h, "area": area, "members": [{"person_id": p, "role": r} for p, r in members]}
            for h, area, members in homes
        ],
        "relationships": ties,
    })  # fmt: skip


def parent_of(adult: str, child: str) -> dict[str, str]:
    return {"person_id": adult, "kind": "parent_of", "related_person_id": child}


async def family_of(sessions: Sessions, who: str, directory: DirectorySpec) -> Family:
    async with sessions.begin() as session:
        await load_directory(SqlUnitOfWork.joined(session), directory, actor="test")
    async with sessions() as session:
        context = await SqlDirectory(session).family_for([PersonRef(nhs_number=NHS[who])], "x")
    return context.family


def ids(people: tuple[Member, ...]) -> list[str]:
    return sorted(m.person_id for m in people)


NON_RESIDENT_FATHER = (
    [("h-dad", HOME_AREA, [("dad", "parent_or_carer")]),
     ("h-mum", OTHER_AREA, [("mum", "parent_or_carer"), ("kid", "child")])],
    [parent_of("dad", "kid")],
)  # fmt: skip


class TestNonResidentParent:
    async def test_his_family_holds_his_daughter_in_her_own_home(self, sessions: Sessions) -> None:
        """The father's family reaches the daughter he does not live with, in her mother's
        home and area; the family's own area is his."""
        family = await family_of(sessions, "dad", spec(*NON_RESIDENT_FATHER))
        [daughter] = family.children_of("dad")
        assert (daughter.person_id, daughter.household_id, daughter.area) == (
            "kid", "h-mum", OTHER_AREA
        )  # fmt: skip
        assert ids(family.other_parents("dad")) == ["mum"]
        assert family.area == HOME_AREA
        assert family.children_areas("dad") == (OTHER_AREA,)

    async def test_her_family_holds_the_father_who_lives_apart(self, sessions: Sessions) -> None:
        """The daughter's family holds her father, as a parent in no household of hers."""
        family = await family_of(sessions, "kid", spec(*NON_RESIDENT_FATHER))
        assert ids(family.parents_of("kid")) == ["dad", "mum"]
        father = family.person("dad")
        assert father is not None
        assert (father.role, father.household_id) == (HouseholdRole.PARENT_OR_CARER, "")

    async def test_a_father_in_no_household_still_has_his_daughter(
        self, sessions: Sessions
    ) -> None:
        """Known only by the tie (no household of his own), he is still her father."""
        homes, ties = NON_RESIDENT_FATHER
        family = await family_of(sessions, "dad", spec(homes[1:], ties))
        assert ids(family.children_of("dad")) == ["kid"]
        assert family.subject is not None
        assert family.subject.role is HouseholdRole.PARENT_OR_CARER


class TestTwinsApart:
    async def test_each_parents_family_holds_both_twins(self, sessions: Sessions) -> None:
        """Twins apart, tied to both parents: the mother's family holds both, each in
        their own home."""
        directory = spec(
            [("h-mum", HOME_AREA, [("mum", "parent_or_carer"), ("kid", "child")]),
             ("h-dad", OTHER_AREA, [("dad", "parent_or_carer"), ("twin", "child")])],
            [parent_of("mum", "twin"), parent_of("dad", "kid")],
        )  # fmt: skip
        family = await family_of(sessions, "mum", directory)
        children = {c.person_id: c.area for c in family.children_of("mum")}
        assert children == {"kid": HOME_AREA, "twin": OTHER_AREA}
        assert ids(family.other_parents("mum")) == ["dad"]
        assert ids(family.siblings_of("kid")) == ["twin"]


class TestExistingDirectories:
    async def test_a_household_alone_still_makes_a_family(self, sessions: Sessions) -> None:
        """A directory with no relationships stated routes as it did: parents and the
        children they live with."""
        directory = spec([("h-1", HOME_AREA, [("mum", "parent_or_carer"),
                                              ("dad", "parent_or_carer"), ("kid", "child")])],
                         [])  # fmt: skip
        family = await family_of(sessions, "mum", directory)
        assert ids(family.children_of("mum")) == ["kid"]
        assert ids(family.other_parents("mum")) == ["dad"]

    async def test_a_parent_who_moved_out_is_still_the_childs(self, sessions: Sessions) -> None:
        """The household once held both parents; the father moved out and his new home is
        not in the directory. The tie derived from the old home still reaches the child."""
        directory = spec([("h-1", HOME_AREA, [("mum", "parent_or_carer"),
                                              ("dad", "parent_or_carer"), ("kid", "child")])],
                         [])  # fmt: skip
        async with sessions.begin() as session:
            await load_directory(SqlUnitOfWork.joined(session), directory, actor="test")
            moved_out = HouseholdSpec.model_validate({"id": "h-1", "area": HOME_AREA, "members": [
                {"person_id": "mum", "role": "parent_or_carer"},
                {"person_id": "kid", "role": "child"}]})  # fmt: skip
            await put_household(SqlUnitOfWork.joined(session), moved_out, "test")
        async with sessions() as session:
            context = await SqlDirectory(session).family_for([PersonRef(nhs_number=NHS["dad"])],
                                                             "x")  # fmt: skip
        assert ids(context.family.children_of("dad")) == ["kid"]
