"""The directory admin API over HTTP on SQLite and on PostgreSQL: every record kind
created and changed, each change logged by field name and never by value."""

import base64
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from support import as_org

from broker.adapters import db
from broker.config import Settings
from broker.entrypoints.admin_api import create_admin_api, import_folder
from broker.services.directory_admin import UnsealableKey
from producers import crypto

pytestmark = pytest.mark.integration

AREA = "E06000001"
MOTHER_NHS = "9990000018"
CHILD_NHS = "9990000085"
OTHER_NHS = "9990000158"
INVALID_NHS = "9990000019"
Sessions = async_sessionmaker[AsyncSession]


# Low-order X25519 points: the right length, but nothing can be sealed to them.
LOW_ORDER_KEYS = {
    "zero": base64.b64encode(bytes(32)).decode(),
    "one": base64.b64encode((1).to_bytes(32, "little")).decode(),
}

ADMIN = "partnership-admin"
ADMIN_KEY = Ed25519PrivateKey.generate()
SECOND = "partnership-admin-2"  # approves the first's key changes
SECOND_KEY = Ed25519PrivateKey.generate()


@pytest.fixture
def admin_settings(tmp_path: Path, database_url: str, broker_keys_template: Path) -> Settings:
    """Its own database and broker keys; the admin API needs no Kafka."""
    shutil.copytree(broker_keys_template, tmp_path / "keys")  # as made by KeyStore.create
    return Settings(database_url=database_url,
                    keys_dir=tmp_path / "keys", log_json=True,
                    administrators=[ADMIN, SECOND])  # fmt: skip


async def bootstrap_administrator(settings: Settings) -> None:
    """The partnership's two administrators, put in place the way an install does, outside
    the API (and so outside its change log)."""
    engine = db.make_engine(settings.database_url)
    await db.create_schema(engine)
    async with db.sessions(engine).begin() as session:
        for org_id, key in ((ADMIN, ADMIN_KEY), (SECOND, SECOND_KEY)):
            session.add(db.Organisation(id=org_id, name="Partnership admin", kind="front_door",
                                        area="E09000099"))  # fmt: skip
            await session.flush()
            public = key.public_key()
            session.add(db.OrgSigningKey(org_id=org_id, key_id=crypto.key_id(public),
                                         public_key=crypto.encode_public(public)))  # fmt: skip
    await engine.dispose()


@pytest.fixture
async def app(admin_settings: Settings) -> AsyncIterator[FastAPI]:
    """The admin API, started with its lifespan."""
    await bootstrap_administrator(admin_settings)
    app = create_admin_api(admin_settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The admin API as the first administrator."""
    async with as_org(app, ADMIN, ADMIN_KEY) as first:
        yield first


@pytest.fixture
async def second(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The admin API as the second administrator."""
    async with as_org(app, SECOND, SECOND_KEY) as other:
        yield other


async def put_approved(
    api: httpx.AsyncClient, second: httpx.AsyncClient, path: str, body: dict[str, Any]
) -> httpx.Response:
    """A key change: put by the first administrator, held, approved by the second."""
    held = await put(api, path, body)
    assert held.status_code == 202, held.text
    return await second.post(f"/v1/admin/key-changes/{held.json()['change_id']}/approval")


@pytest.fixture
async def database(admin_settings: Settings, api: httpx.AsyncClient) -> AsyncIterator[Sessions]:
    """A second connection to the API's database, to look at the rows themselves."""
    engine = db.make_engine(admin_settings.database_url)
    yield db.sessions(engine)
    await engine.dispose()


async def rows(sessions: Sessions, model: type[db.Base]) -> list[Any]:
    async with sessions() as session:
        return list((await session.scalars(select(model))).all())


def organisation(org_id: str, kind: str = "school", **changes: Any) -> dict[str, Any]:
    return {"id": org_id, "name": f"{org_id} name", "kind": kind, "area": AREA} | changes


def person(person_id: str, nhs_number: str, **changes: Any) -> dict[str, Any]:
    return {"id": person_id, "nhs_number": nhs_number, "given_name": "Jess",
            "family_name": "Carter", "date_of_birth": "1990-04-01"} | changes  # fmt: skip


def contact(contact_id: str, org_id: str, role: str = "key_adult") -> dict[str, Any]:
    key = crypto.encode_public(X25519PrivateKey.generate().public_key())
    return {"id": contact_id, "org_id": org_id, "role": role, "hpke_public_key": key}


def household(household_id: str, *members: tuple[str, str]) -> dict[str, Any]:
    return {"id": household_id, "area": AREA,
            "members": [{"person_id": p, "role": r} for p, r in members]}  # fmt: skip


def plan(plan_id: str, **changes: Any) -> dict[str, Any]:
    owner = {"name": "Ann Owner", "role": "Health visitor", "org_id": "gp-a"}
    lead = {"name": "Lee Lead", "role": "Social worker", "org_id": "school-a"}
    return {"id": plan_id, "person_id": "p-child", "kind": "child_in_need", "area": AREA,
            "started_on": "2025-03-01", "lead_professional": lead,
            "action_owners": [owner]} | changes  # fmt: skip


async def put(api: httpx.AsyncClient, path: str, body: dict[str, Any]) -> httpx.Response:
    return await api.put(f"/v1/admin/{path}", json=body)


async def changes(api: httpx.AsyncClient, limit: int = 100) -> list[dict[str, Any]]:
    answer = await api.get("/v1/admin/changes", params={"limit": limit})
    assert answer.status_code == 200
    result: list[dict[str, Any]] = answer.json()
    return result


@pytest.fixture
async def seeded(api: httpx.AsyncClient) -> httpx.AsyncClient:
    """A school, a GP practice, a mother and her child."""
    for body in (organisation("school-a"), organisation("gp-a", "gp_practice")):
        assert (await put(api, f"organisations/{body['id']}", body)).status_code == 200
    for body in (person("p-mother", MOTHER_NHS), person("p-child", CHILD_NHS, given_name="Sam")):
        assert (await put(api, f"people/{body['id']}", body)).status_code == 200
    return api


class TestOrganisations:
    async def test_new_organisation_is_created(self, api: httpx.AsyncClient) -> None:
        """A PUT of an unknown id creates it and says so."""
        answer = await put(api, "organisations/school-a", organisation("school-a"))
        assert answer.status_code == 200
        assert answer.json() == {"id": "school-a", "action": "created"}

    async def test_changed_organisation_is_updated_and_logged_by_field(
        self, api: httpx.AsyncClient
    ) -> None:
        """A second PUT with a new name and terms is an update naming those fields."""
        await put(api, "organisations/school-a", organisation("school-a"))
        terms = [{"starts_on": "2026-09-02", "ends_on": "2026-10-23"}]
        body = organisation("school-a", name="Oak School", terms=terms)
        answer = await put(api, "organisations/school-a", body)
        assert answer.json()["action"] == "updated"
        assert (await changes(api))[0]["fields"] == ["name", "terms"]

    async def test_same_organisation_again_is_unchanged_and_not_logged(
        self, api: httpx.AsyncClient
    ) -> None:
        """Putting the same record twice changes nothing and adds no change row."""
        await put(api, "organisations/school-a", organisation("school-a"))
        answer = await put(api, "organisations/school-a", organisation("school-a"))
        assert answer.json()["action"] == "unchanged"
        assert len(await changes(api)) == 1

    async def test_terms_are_replaced(self, api: httpx.AsyncClient, database: Sessions) -> None:
        """The terms sent become the school's only terms."""
        autumn = {"starts_on": "2026-09-02", "ends_on": "2026-10-23"}
        spring = {"starts_on": "2027-01-05", "ends_on": "2027-02-12"}
        await put(api, "organisations/school-a", organisation("school-a", terms=[autumn]))
        await put(api, "organisations/school-a", organisation("school-a", terms=[spring]))
        [term] = await rows(database, db.SchoolTerm)
        assert term.starts_on.isoformat() == "2027-01-05"


class TestContacts:
    async def test_contact_is_stored_with_its_key_id(
        self, seeded: httpx.AsyncClient, second: httpx.AsyncClient, database: Sessions
    ) -> None:
        """The key id is computed from the public key sent (once a second administrator
        has approved the new key)."""
        body = contact("school-a-dsl", "school-a")
        answer = await put_approved(seeded, second, "contacts/school-a-dsl", body)
        assert answer.json() == {"id": "school-a-dsl", "action": "created"}
        [row] = await rows(database, db.Contact)
        assert row.key_id == crypto.key_id(crypto.hpke_public_from_text(body["hpke_public_key"]))

    async def test_contact_for_unknown_organisation_is_409(self, api: httpx.AsyncClient) -> None:
        """The answer names the missing reference by kind and id."""
        answer = await put(api, "contacts/x-dsl", contact("x-dsl", "school-x"))
        assert answer.status_code == 409
        assert answer.json()["detail"] == "no organisation with id 'school-x' in the directory"

    async def test_second_contact_in_same_role_is_409(
        self, seeded: httpx.AsyncClient, second: httpx.AsyncClient
    ) -> None:
        """An organisation has one contact per role."""
        await put_approved(seeded, second, "contacts/dsl-1", contact("dsl-1", "school-a"))
        answer = await put(seeded, "contacts/dsl-2", contact("dsl-2", "school-a"))
        assert answer.status_code == 409

    @pytest.mark.parametrize("key", LOW_ORDER_KEYS.values(), ids=LOW_ORDER_KEYS.keys())
    async def test_key_nothing_can_be_sealed_to_is_422_naming_the_field(
        self, seeded: httpx.AsyncClient, database: Sessions, key: str
    ) -> None:
        """A trial seal refuses a low-order X25519 key at registration: the field is named,
        the key is not echoed, and nothing is stored or logged."""
        body = contact("school-a-dsl", "school-a") | {"hpke_public_key": key}
        answer = await put(seeded, "contacts/school-a-dsl", body)
        assert answer.status_code == 422
        [error] = answer.json()["errors"]
        assert (error["field"], error["type"]) == ("body.hpke_public_key", "unsealable_key")
        assert key not in answer.text
        assert await rows(database, db.Contact) == []
        assert "contact" not in {c["entity"] for c in await changes(seeded)}

    async def test_a_good_key_replacing_a_refused_one_is_taken(
        self, seeded: httpx.AsyncClient, second: httpx.AsyncClient
    ) -> None:
        """Once refused, the same contact registers with a usable key."""
        refused = contact("school-a-dsl", "school-a") | {"hpke_public_key": LOW_ORDER_KEYS["zero"]}
        assert (await put(seeded, "contacts/school-a-dsl", refused)).status_code == 422
        answer = await put_approved(seeded, second, "contacts/school-a-dsl",
                                    contact("school-a-dsl", "school-a"))  # fmt: skip
        assert answer.json() == {"id": "school-a-dsl", "action": "created"}


class TestPeople:
    async def test_person_is_created_then_updated(self, api: httpx.AsyncClient) -> None:
        """Created first, then updated with the changed fields named."""
        first = await put(api, "people/p-1", person("p-1", MOTHER_NHS))
        second = await put(api, "people/p-1", person("p-1", MOTHER_NHS, given_name="Jessica"))
        assert [first.json()["action"], second.json()["action"]] == ["created", "updated"]
        assert (await changes(api))[0]["fields"] == ["given_name"]

    async def test_change_log_holds_no_personal_values(
        self, api: httpx.AsyncClient, database: Sessions
    ) -> None:
        """Neither the change log answer nor its rows contain the names or NHS numbers sent."""
        await put(api, "people/p-1", person("p-1", MOTHER_NHS, given_name="Jessamine"))
        await put(api, "people/p-1", person("p-1", OTHER_NHS, family_name="Fotheringay"))
        log = await api.get("/v1/admin/changes")
        stored = " ".join(repr(vars(r)) for r in await rows(database, db.DirectoryChange))
        for value in (MOTHER_NHS, OTHER_NHS, "Jessamine", "Fotheringay", "1990-04-01"):
            assert value not in log.text
            assert value not in stored
        assert [c["fields"] for c in log.json()] == [
            ["nhs_number", "given_name", "family_name"],
            ["nhs_number", "given_name", "family_name", "date_of_birth"],
        ]

    async def test_invalid_nhs_number_is_422_without_the_value(
        self, api: httpx.AsyncClient
    ) -> None:
        """The field is named; the number sent is not echoed."""
        answer = await put(api, "people/p-1", person("p-1", INVALID_NHS))
        assert answer.status_code == 422
        assert [e["field"] for e in answer.json()["errors"]] == ["body.nhs_number"]
        assert INVALID_NHS not in answer.text

    async def test_nhs_number_of_another_person_is_409(self, seeded: httpx.AsyncClient) -> None:
        """Two people cannot share an NHS number; the answer does not quote it."""
        answer = await put(seeded, "people/p-3", person("p-3", MOTHER_NHS))
        assert answer.status_code == 409
        assert answer.json()["detail"] == "another person already has this nhs_number"

    async def test_path_and_body_ids_must_match(self, api: httpx.AsyncClient) -> None:
        """A body for another record than the path names is refused, field by field."""
        answer = await put(api, "people/p-1", person("p-2", MOTHER_NHS))
        assert answer.status_code == 422
        assert answer.json()["errors"] == [
            {"field": "body.id", "message": "does not match the path", "type": "path_mismatch"}
        ]


class TestHouseholds:
    async def test_member_list_is_replaced(
        self, seeded: httpx.AsyncClient, database: Sessions
    ) -> None:
        """The members sent become the household's only members, and the change says so."""
        both = household("h-1", ("p-mother", "parent_or_carer"), ("p-child", "child"))
        await put(seeded, "households/h-1", both)
        answer = await put(seeded, "households/h-1", household("h-1", ("p-child", "child")))
        assert answer.json()["action"] == "updated"
        assert [m.person_id for m in await rows(database, db.HouseholdMember)] == ["p-child"]
        assert (await changes(seeded))[0]["fields"] == ["members"]

    async def test_household_area_is_recorded(
        self, seeded: httpx.AsyncClient, database: Sessions
    ) -> None:
        """Loading a household records where it lives."""
        await put(seeded, "households/h-1", household("h-1", ("p-child", "child")))
        [area] = await rows(database, db.HouseholdArea)
        assert (area.household_id, area.area, area.moved_in) == ("h-1", AREA, None)

    async def test_unknown_member_is_409(self, seeded: httpx.AsyncClient) -> None:
        """A member the directory does not know is named by kind and id."""
        answer = await put(seeded, "households/h-1", household("h-1", ("p-nobody", "child")))
        assert answer.status_code == 409
        assert "person" in answer.json()["detail"]
        assert "p-nobody" in answer.json()["detail"]


class TestRegistrations:
    async def test_registration_is_created_then_moved(self, seeded: httpx.AsyncClient) -> None:
        """A registration of the same kind to another organisation is an update of org_id."""
        body = {"person_id": "p-child", "kind": "gp", "org_id": "gp-a"}
        first = await put(seeded, "registrations/p-child/gp", body)
        body["org_id"] = "school-a"
        second = await put(seeded, "registrations/p-child/gp", body)
        assert first.json() == {"id": "p-child/gp", "action": "created"}
        assert second.json()["action"] == "updated"
        assert (await changes(seeded))[0]["fields"] == ["org_id"]

    async def test_registration_is_deleted_and_logged(self, seeded: httpx.AsyncClient) -> None:
        """A delete removes it and records a deleted change."""
        body = {"person_id": "p-child", "kind": "school", "org_id": "school-a"}
        await put(seeded, "registrations/p-child/school", body)
        answer = await seeded.delete("/v1/admin/registrations/p-child/school")
        assert answer.json() == {"id": "p-child/school", "action": "deleted"}
        latest = (await changes(seeded))[0]
        assert (latest["entity"], latest["action"]) == ("registration", "deleted")

    async def test_deleting_a_missing_registration_is_404(self, seeded: httpx.AsyncClient) -> None:
        """There is nothing to delete."""
        answer = await seeded.delete("/v1/admin/registrations/p-child/school")
        assert answer.status_code == 404

    async def test_kind_in_path_must_match_body(self, seeded: httpx.AsyncClient) -> None:
        """The path's kind and the body's kind must agree."""
        body = {"person_id": "p-child", "kind": "school", "org_id": "school-a"}
        answer = await put(seeded, "registrations/p-child/gp", body)
        assert answer.status_code == 422
        assert [e["field"] for e in answer.json()["errors"]] == ["body.kind"]


class TestInvolvements:
    async def test_involvement_is_opened_then_closed(
        self, seeded: httpx.AsyncClient, database: Sessions
    ) -> None:
        """Closing an involvement is setting its closed_on."""
        body = {"person_id": "p-mother", "org_id": "gp-a", "opened_on": "2024-01-10"}
        path = "involvements/p-mother/gp-a/2024-01-10"
        first = await put(seeded, path, body)
        second = await put(seeded, path, body | {"closed_on": "2026-02-01"})
        assert first.json() == {"id": "p-mother/gp-a/2024-01-10", "action": "created"}
        assert second.json()["action"] == "updated"
        [row] = await rows(database, db.Involvement)
        assert row.closed_on.isoformat() == "2026-02-01"

    async def test_opened_on_in_path_must_match_body(self, seeded: httpx.AsyncClient) -> None:
        """A different opening date in the body is refused."""
        body = {"person_id": "p-mother", "org_id": "gp-a", "opened_on": "2024-01-11"}
        answer = await put(seeded, "involvements/p-mother/gp-a/2024-01-10", body)
        assert answer.status_code == 422
        assert [e["field"] for e in answer.json()["errors"]] == ["body.opened_on"]


class TestPlans:
    async def test_plan_is_stored_with_lead_first(
        self, seeded: httpx.AsyncClient, database: Sessions
    ) -> None:
        """The lead professional is owner 0 and marked lead; action owners follow."""
        answer = await put(seeded, "plans/plan-1", plan("plan-1"))
        assert answer.json() == {"id": "plan-1", "action": "created"}
        owners = sorted(await rows(database, db.PlanOwner), key=lambda o: o.position)
        assert [(o.position, o.is_lead, o.name) for o in owners] == [
            (0, True, "Lee Lead"),
            (1, False, "Ann Owner"),
        ]

    async def test_plan_owners_are_replaced(
        self, seeded: httpx.AsyncClient, database: Sessions
    ) -> None:
        """A plan put again without action owners keeps only its lead."""
        await put(seeded, "plans/plan-1", plan("plan-1"))
        answer = await put(seeded, "plans/plan-1", plan("plan-1", action_owners=[]))
        assert answer.json()["action"] == "updated"
        assert [o.name for o in await rows(database, db.PlanOwner)] == ["Lee Lead"]
        assert (await changes(seeded))[0]["fields"] == ["owners"]

    async def test_owner_from_unknown_organisation_is_409(self, seeded: httpx.AsyncClient) -> None:
        """Every owner's organisation must be in the directory."""
        owner = {"name": "Ann Owner", "role": "Health visitor", "org_id": "hv-x"}
        answer = await put(seeded, "plans/plan-1", plan("plan-1", action_owners=[owner]))
        assert answer.status_code == 409
        assert answer.json()["detail"] == "no organisation with id 'hv-x' in the directory"


def tie(person_id: str, related: str, kind: str = "parent_of", **changes: Any) -> dict[str, Any]:
    return {"person_id": person_id, "kind": kind, "related_person_id": related} | changes


@pytest.fixture
async def with_father(seeded: httpx.AsyncClient) -> httpx.AsyncClient:
    """The seeded mother and child, and a father who lives elsewhere."""
    body = person("p-father", OTHER_NHS, given_name="Rob")
    assert (await put(seeded, "people/p-father", body)).status_code == 200
    return seeded


async def ties(sessions: Sessions) -> set[tuple[str, str, str, bool | None, bool]]:
    return {(r.person_id, r.kind, r.related_person_id, r.parental_responsibility, r.derived)
            for r in await rows(sessions, db.Relationship)}  # fmt: skip


class TestRelationships:
    PATH = "relationships/p-father/parent_of/p-child"

    async def test_a_tie_is_created_then_unchanged(self, with_father: httpx.AsyncClient) -> None:
        """A PUT states the tie; the same PUT again changes nothing and logs nothing."""
        body = tie("p-father", "p-child", parental_responsibility=True)
        first = await put(with_father, self.PATH, body)
        second = await put(with_father, self.PATH, body)
        assert first.json() == {"id": "p-father/parent_of/p-child", "action": "created"}
        assert second.json()["action"] == "unchanged"
        assert [c["entity"] for c in await changes(with_father)].count("relationship") == 1

    async def test_a_tie_is_stored_as_stated(
        self, with_father: httpx.AsyncClient, database: Sessions
    ) -> None:
        """The row holds both ends, the kind and the parental responsibility, not derived."""
        await put(with_father, self.PATH, tie("p-father", "p-child", parental_responsibility=False))
        assert await ties(database) == {("p-father", "parent_of", "p-child", False, False)}

    async def test_changed_responsibility_is_an_update_naming_the_field(
        self, with_father: httpx.AsyncClient
    ) -> None:
        """Parental responsibility granted later is an update of that field alone."""
        await put(with_father, self.PATH, tie("p-father", "p-child"))
        answer = await put(with_father, self.PATH,
                           tie("p-father", "p-child", parental_responsibility=True))  # fmt: skip
        assert answer.json()["action"] == "updated"
        assert (await changes(with_father))[0]["fields"] == ["parental_responsibility"]

    async def test_siblings(self, with_father: httpx.AsyncClient, database: Sessions) -> None:
        """Siblings are a tie of their own kind, under their own path."""
        path = "relationships/p-child/sibling_of/p-father"
        answer = await put(with_father, path, tie("p-child", "p-father", "sibling_of"))
        assert answer.json() == {"id": "p-child/sibling_of/p-father", "action": "created"}

    @pytest.mark.parametrize("unknown", ["person_id", "related_person_id"])
    async def test_an_unknown_person_at_either_end_is_409(
        self, with_father: httpx.AsyncClient, unknown: str
    ) -> None:
        """Both ends must be people in the directory; the missing one is named by id."""
        body = tie("p-father", "p-child") | {unknown: "p-nobody"}
        path = f"relationships/{body['person_id']}/parent_of/{body['related_person_id']}"
        answer = await put(with_father, path, body)
        assert answer.status_code == 409
        assert answer.json()["detail"] == "no person with id 'p-nobody' in the directory"

    @pytest.mark.parametrize(
        ("field", "value"),
        [("person_id", "p-mother"), ("kind", "sibling_of"), ("related_person_id", "p-mother")],
    )
    async def test_path_and_body_must_match(
        self, with_father: httpx.AsyncClient, field: str, value: str
    ) -> None:
        """A body for another tie than the path names is refused, by field."""
        answer = await put(with_father, self.PATH, tie("p-father", "p-child") | {field: value})
        assert answer.status_code == 422
        assert answer.json()["errors"] == [
            {"field": f"body.{field}", "message": "does not match the path",
             "type": "path_mismatch"}
        ]  # fmt: skip

    async def test_a_tie_to_oneself_is_422(self, with_father: httpx.AsyncClient) -> None:
        """A relationship joins two different people: the second end is at fault."""
        path = "relationships/p-child/sibling_of/p-child"
        answer = await put(with_father, path, tie("p-child", "p-child", "sibling_of"))
        assert answer.status_code == 422
        assert [e["field"] for e in answer.json()["errors"]] == ["body.related_person_id"]

    async def test_delete_removes_and_a_second_delete_is_404(
        self, with_father: httpx.AsyncClient, database: Sessions
    ) -> None:
        """A DELETE removes the tie and says so; there is nothing left to delete after."""
        await put(with_father, self.PATH, tie("p-father", "p-child"))
        first = await with_father.delete(f"/v1/admin/{self.PATH}")
        second = await with_father.delete(f"/v1/admin/{self.PATH}")
        assert first.json() == {"id": "p-father/parent_of/p-child", "action": "deleted"}
        assert second.status_code == 404
        assert await ties(database) == set()

    async def test_change_log_names_fields_never_values(
        self, with_father: httpx.AsyncClient, database: Sessions
    ) -> None:
        """Each change is a relationship change by id and field names; nobody's name or
        NHS number appears in the log or its rows."""
        await put(with_father, self.PATH, tie("p-father", "p-child", parental_responsibility=True))
        await with_father.delete(f"/v1/admin/{self.PATH}")
        log = await changes(with_father, limit=2)
        assert [(c["entity"], c["entity_id"], c["action"]) for c in log] == [
            ("relationship", "p-father/parent_of/p-child", "deleted"),
            ("relationship", "p-father/parent_of/p-child", "created"),
        ]
        assert "parental_responsibility" in log[1]["fields"]
        stored = " ".join(repr(vars(r)) for r in await rows(database, db.DirectoryChange))
        for value in (OTHER_NHS, CHILD_NHS, "Rob", "Sam", "true", "True"):
            assert value not in stored
            assert value not in str(log)

    async def test_imported_with_the_directory(
        self, api: httpx.AsyncClient, database: Sessions
    ) -> None:
        """An import states ties between people it loads, after their households: a tie
        the household already implies becomes stated, with its responsibility."""
        spec = {
            "people": [person("p-mother", MOTHER_NHS), person("p-father", OTHER_NHS),
                       person("p-child", CHILD_NHS)],
            "households": [MOTHER_AND_CHILD],
            "relationships": [tie("p-father", "p-child", parental_responsibility=True),
                              tie("p-mother", "p-child", parental_responsibility=True)],
        }  # fmt: skip
        answer = await api.post("/v1/admin/import", json=spec)
        assert answer.json()["counts"]["relationships"] == {"created": 1, "updated": 1}
        assert await ties(database) == {
            ("p-father", "parent_of", "p-child", True, False),
            ("p-mother", "parent_of", "p-child", True, False),
        }

    async def test_the_longest_ids_fit(self, api: httpx.AsyncClient, database: Sessions) -> None:
        """Two ids of the longest length a person may have make a tie id that fits the
        change log and the audit trail (PostgreSQL refuses what does not fit)."""
        one, other = "a" * 64, "b" * 64
        for body in (person(one, MOTHER_NHS), person(other, CHILD_NHS)):
            assert (await put(api, f"people/{body['id']}", body)).status_code == 200
        answer = await put(api, f"relationships/{one}/sibling_of/{other}",
                           tie(one, other, "sibling_of"))  # fmt: skip
        assert answer.status_code == 200


MOTHER_AND_CHILD = household("h-1", ("p-mother", "parent_or_carer"), ("p-child", "child"))


class TestDerivedParentLinks:
    async def test_a_household_ties_its_carers_to_its_children(
        self, with_father: httpx.AsyncClient, database: Sessions
    ) -> None:
        """Each parent or carer of a household becomes a derived parent of each of its
        children; adults are not tied to adults, nor children to children."""
        await put(with_father, "people/p-baby", person("p-baby", "9990001006"))
        body = household("h-1", ("p-mother", "parent_or_carer"), ("p-father", "parent_or_carer"),
                         ("p-child", "child"), ("p-baby", "child"))  # fmt: skip
        await put(with_father, "households/h-1", body)
        assert await ties(database) == {
            ("p-mother", "parent_of", "p-child", None, True),
            ("p-mother", "parent_of", "p-baby", None, True),
            ("p-father", "parent_of", "p-child", None, True),
            ("p-father", "parent_of", "p-baby", None, True),
        }

    async def test_a_stated_tie_keeps_its_responsibility(
        self, with_father: httpx.AsyncClient, database: Sessions
    ) -> None:
        """A tie stated before the household is loaded stays as stated."""
        path = "relationships/p-mother/parent_of/p-child"
        await put(with_father, path, tie("p-mother", "p-child", parental_responsibility=False))
        await put(with_father, "households/h-1", MOTHER_AND_CHILD)
        assert await ties(database) == {("p-mother", "parent_of", "p-child", False, False)}

    async def test_stating_a_derived_tie_makes_it_stated(
        self, with_father: httpx.AsyncClient, database: Sessions
    ) -> None:
        """The household derived it; the administrator then states it, with responsibility."""
        await put(with_father, "households/h-1", MOTHER_AND_CHILD)
        answer = await put(with_father, "relationships/p-mother/parent_of/p-child",
                           tie("p-mother", "p-child", parental_responsibility=True))  # fmt: skip
        assert answer.json()["action"] == "updated"
        assert await ties(database) == {("p-mother", "parent_of", "p-child", True, False)}

    async def test_a_derived_tie_outlasts_the_household(
        self, with_father: httpx.AsyncClient, database: Sessions
    ) -> None:
        """A parent who moves out is still the child's parent."""
        both = household("h-1", ("p-father", "parent_or_carer"), ("p-child", "child"))
        await put(with_father, "households/h-1", both)
        await put(with_father, "households/h-1", household("h-1", ("p-child", "child")))
        assert await ties(database) == {("p-father", "parent_of", "p-child", None, True)}


class TestImport:
    async def test_whole_directory_is_imported_with_counts(self, api: httpx.AsyncClient) -> None:
        """One POST loads every kind of record and answers how many of each it did."""
        spec = {
            "organisations": [organisation("school-a"), organisation("gp-a", "gp_practice")],
            "people": [person("p-child", CHILD_NHS)],
            "registrations": [{"person_id": "p-child", "kind": "gp", "org_id": "gp-a"}],
            "plans": [plan("plan-1")],
        }
        answer = await api.post("/v1/admin/import", json=spec)
        assert answer.status_code == 200
        assert answer.json()["counts"]["organisations"] == {"created": 2}
        assert answer.json()["counts"]["plans"] == {"created": 1}
        assert len(await changes(api)) == 5

    async def test_failed_import_writes_nothing(self, api: httpx.AsyncClient) -> None:
        """A missing reference late in the import rolls back everything before it."""
        spec = {
            "organisations": [organisation("school-a")],
            "registrations": [{"person_id": "p-nobody", "kind": "gp", "org_id": "school-a"}],
        }
        answer = await api.post("/v1/admin/import", json=spec)
        assert answer.status_code == 409
        assert await changes(api) == []

    async def test_import_with_a_key_nothing_can_be_sealed_to_is_422_and_writes_nothing(
        self, api: httpx.AsyncClient
    ) -> None:
        """The import goes through the same trial seal; the whole import is refused."""
        bad = contact("school-a-dsl", "school-a") | {"hpke_public_key": LOW_ORDER_KEYS["zero"]}
        spec = {"organisations": [organisation("school-a")], "contacts": [bad]}
        answer = await api.post("/v1/admin/import", json=spec)
        assert answer.status_code == 422
        assert [e["field"] for e in answer.json()["errors"]] == ["body.hpke_public_key"]
        assert "school-a-dsl" in answer.text
        assert LOW_ORDER_KEYS["zero"] not in answer.text
        assert await changes(api) == []

    async def test_csv_import_refuses_a_key_nothing_can_be_sealed_to(
        self, admin_settings: Settings, database: Sessions, tmp_path: Path
    ) -> None:
        """``sgb directory-import`` goes through the same trial seal: nothing is imported and
        the error names the contact and the field, never the key."""
        folder = tmp_path / "csv"
        folder.mkdir()
        (folder / "organisations.csv").write_text(f"id,name,kind,area\nschool-a,A,school,{AREA}\n")
        key = LOW_ORDER_KEYS["one"]
        (folder / "contacts.csv").write_text(
            f"id,org_id,role,hpke_public_key\nschool-a-dsl,school-a,key_adult,{key}\n"
        )
        with pytest.raises(UnsealableKey) as refused:
            await import_folder(folder, admin_settings)
        assert "school-a-dsl" in str(refused.value)
        assert "hpke_public_key" in str(refused.value)
        assert key not in str(refused.value)
        assert sorted(o.id for o in await rows(database, db.Organisation)) == [ADMIN, SECOND]


class TestChangeLog:
    async def test_newest_first_with_limit(self, seeded: httpx.AsyncClient) -> None:
        """The log is newest first and cut at the limit; each change names the
        administrator who made it."""
        latest = await changes(seeded, limit=2)
        assert [(c["entity"], c["entity_id"]) for c in latest] == [
            ("person", "p-child"),
            ("person", "p-mother"),
        ]
        assert {c["actor"] for c in latest} == {ADMIN}


def signing_key() -> dict[str, str]:
    return {"public_key": crypto.encode_public(Ed25519PrivateKey.generate().public_key())}


class TestKeyChanges:
    async def test_new_signing_keys_are_held_until_approved(
        self, api: httpx.AsyncClient, second: httpx.AsyncClient, database: Sessions
    ) -> None:
        """An organisation's signing keys change only once another administrator approves;
        meanwhile the change is listed as pending."""
        await put(api, "organisations/school-a", organisation("school-a"))
        body = organisation("school-a", signing_keys=[signing_key()])
        held = await put(api, "organisations/school-a", body)
        assert held.status_code == 202
        assert await rows(database, db.OrgSigningKey) != []  # the administrators' own
        assert "school-a" not in {k.org_id for k in await rows(database, db.OrgSigningKey)}
        [listed] = (await second.get("/v1/admin/key-changes")).json()
        assert (listed["entity_id"], listed["requested_by"]) == ("school-a", f"admin:{ADMIN}")
        approved = await second.post(f"/v1/admin/key-changes/{listed['change_id']}/approval")
        assert approved.json() == {"id": "school-a", "action": "updated"}
        assert "school-a" in {k.org_id for k in await rows(database, db.OrgSigningKey)}
        assert (await second.get("/v1/admin/key-changes")).json() == []

    async def test_a_change_is_approved_once(
        self, seeded: httpx.AsyncClient, second: httpx.AsyncClient
    ) -> None:
        """A second approval of the same change, or of an unknown one, is a 404."""
        answer = await put_approved(seeded, second, "contacts/dsl-1", contact("dsl-1", "school-a"))
        assert answer.status_code == 200
        assert (await second.post("/v1/admin/key-changes/nope/approval")).status_code == 404

    async def test_an_unchanged_key_is_applied_at_once(
        self, seeded: httpx.AsyncClient, second: httpx.AsyncClient
    ) -> None:
        """Changing a contact's other fields, its key kept, needs no second administrator."""
        body = contact("dsl-1", "school-a")
        await put_approved(seeded, second, "contacts/dsl-1", body)
        answer = await put(seeded, "contacts/dsl-1", body | {"daily_digest": True})
        assert answer.json() == {"id": "dsl-1", "action": "updated"}

    async def test_an_import_that_changes_keys_is_409_and_writes_nothing(
        self, seeded: httpx.AsyncClient
    ) -> None:
        """Keys are not changed in bulk: the import names the record and applies nothing."""
        spec = {"organisations": [organisation("gp-b", "gp_practice")],
                "contacts": [contact("school-a-dsl", "school-a")]}  # fmt: skip
        answer = await seeded.post("/v1/admin/import", json=spec)
        assert answer.status_code == 409
        assert "school-a-dsl" in answer.json()["detail"]
        assert "gp-b" not in {c["entity_id"] for c in await changes(seeded)}
