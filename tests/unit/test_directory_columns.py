"""Every text the directory's contracts accept fits the column it is stored in: SQLite keeps a
longer string without a word, PostgreSQL refuses it (a server error instead of a 422)."""

from typing import Any

import pytest
from pydantic import BaseModel

from broker.adapters import db
from schemas import directory

STORED_AS = [
    (directory.OrganisationSpec, "id", db.Organisation.id),
    (directory.OrganisationSpec, "name", db.Organisation.name),
    (directory.OrganisationSpec, "phone", db.Organisation.phone),
    (directory.ContactSpec, "id", db.Contact.id),
    (directory.ContactSpec, "org_id", db.Contact.org_id),
    (directory.ContactSpec, "webhook_url", db.Contact.webhook_url),
    (directory.PersonSpec, "id", db.Person.id),
    (directory.PersonSpec, "given_name", db.Person.given_name),
    (directory.PersonSpec, "family_name", db.Person.family_name),
    (directory.HouseholdSpec, "id", db.Household.id),
    (directory.HouseholdMemberSpec, "person_id", db.HouseholdMember.person_id),
    (directory.RelationshipSpec, "person_id", db.Relationship.person_id),
    (directory.RelationshipSpec, "related_person_id", db.Relationship.related_person_id),
    (directory.RegistrationSpec, "person_id", db.Registration.person_id),
    (directory.RegistrationSpec, "org_id", db.Registration.org_id),
    (directory.InvolvementSpec, "person_id", db.Involvement.person_id),
    (directory.InvolvementSpec, "org_id", db.Involvement.org_id),
    (directory.PlanSpec, "id", db.Plan.id),
    (directory.PlanSpec, "person_id", db.Plan.person_id),
    (directory.PlanOwnerSpec, "name", db.PlanOwner.name),
    (directory.PlanOwnerSpec, "role", db.PlanOwner.role),
    (directory.PlanOwnerSpec, "org_id", db.PlanOwner.org_id),
    (directory.PlanOwnerSpec, "phone", db.PlanOwner.phone),
    (directory.PlanOwnerSpec, "email", db.PlanOwner.email),
]


def longest_accepted(model: type[BaseModel], field: str) -> int:
    """The longest string the field's JSON Schema allows: its maxLength, or for an id given
    by pattern (an organisation's code) the pattern's own bound."""
    schema: dict[str, Any] = model.model_json_schema()["properties"][field]
    for option in [schema, *schema.get("anyOf", [])]:
        if "maxLength" in option:
            return int(option["maxLength"])
        if option.get("pattern") == r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$":
            return 64
    raise AssertionError(f"{model.__name__}.{field} accepts strings of any length")


@pytest.mark.parametrize(
    ("model", "field", "column"),
    STORED_AS,
    ids=[f"{model.__name__}.{field}" for model, field, _ in STORED_AS],
)
def test_the_longest_accepted_value_fits_its_column(
    model: type[BaseModel], field: str, column: Any
) -> None:
    assert longest_accepted(model, field) <= column.type.length
