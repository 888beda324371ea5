"""Changes to the directory, one function per kind of record, each recorded in the change log.

Every ``put_*`` creates the record or replaces it whole (a household's members, an
organisation's terms and a plan's owners included) and answers what it did; an organisation's
signing keys are replaced only when the record states them. A record that
names another the directory lacks raises ``MissingReference`` before anything is written;
a contact whose recipient key nothing can be sealed to raises ``UnsealableKey``, so that one
bad key is refused here rather than found by the router on every notice for it; a webhook URL
whose host is an address the broker may not reach (loopback, private, link-local, reserved:
``broker.delivery.webhook_targets``) raises ``UnsafeWebhook``, unless ``webhook_networks`` allows
it (tests and local development). A name is judged again at every send, once resolved.
``load_directory`` goes through the same functions record by record; the admin API's import
and the CSV import use ``directory_bulk.bulk_load_directory``, the same rules and end state in a
few statements per kind of record.
"""

from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, time
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlsplit

from broker.delivery.webhook_targets import Network, refused_host
from broker.errors import DirectoryError
from broker.ports import AuditRecord, UnitOfWork
from broker.services.directory_changes import DuplicateValue, Outcome, RecordNotFound, record
from broker.services.directory_writes import (
    find,
    log,
    put_row,
    replace_rows,
    require,
    whole,
)
from producers import crypto, recipient_keys
from schemas.directory import (
    ContactSpec,
    DirectorySpec,
    HouseholdSpec,
    InvolvementSpec,
    OrganisationSpec,
    PersonSpec,
    PlanOwnerSpec,
    PlanSpec,
    RegistrationSpec,
    RelationshipSpec,
)

ImportSummary = dict[str, Counter[str]]  # outcomes, and key changes "pending"
S = TypeVar("S")


class UnsealableKey(DirectoryError):
    """A trial seal to the contact's recipient key failed. Names the contact and the field,
    never the key."""

    field = "hpke_public_key"

    def __init__(self, contact_id: str) -> None:
        super().__init__(
            f"contact {contact_id!r}: nothing can be sealed to this {self.field}; "
            "register a new key"
        )
        self.contact_id = contact_id


class UnsafeWebhook(DirectoryError):
    """A webhook URL pointing where the broker may not send (its own machine or network)."""

    field = "webhook_url"

    def __init__(self, contact_id: str) -> None:
        super().__init__(
            f"contact {contact_id!r}: this {self.field} points at a loopback, private, "
            "link-local or reserved address; give a public https endpoint"
        )
        self.contact_id = contact_id


async def put_organisation(uow: UnitOfWork, spec: OrganisationSpec, actor: str) -> Outcome:
    values = {
        "name": spec.name,
        "kind": spec.kind,
        "area": spec.area,
        "phone": spec.phone,
        "session_start": clock_text(spec.session_start),
        "opens_at": clock_text(spec.opens_at),
        "closes_at": clock_text(spec.closes_at),
        "ods_code": spec.ods_code,
    }
    delta = await put_row(uow, "organisations", {"id": spec.id}, values)
    terms = [{"org_id": spec.id, **term.model_dump()} for term in spec.terms]
    if await replace_rows(uow, "school_terms", "org_id", spec.id, terms):
        delta.fields.append("terms")
    if "signing_keys" in spec.model_fields_set and await _replace_signing_keys(uow, spec):
        delta.fields.append("signing_keys")
    return await log(uow, actor, "organisation", spec.id, delta)


async def _replace_signing_keys(uow: UnitOfWork, spec: OrganisationSpec) -> bool:
    """Only a record that states its signing keys (an empty list included) replaces them: a
    CSV file has no column for them, and re-importing one must not take an organisation's
    keys away (every event it signs would then be refused)."""
    keys = signing_key_rows(spec)
    return await replace_rows(uow, "org_signing_keys", "org_id", spec.id, keys)


async def record_refusal(uow: UnitOfWork, actor: str, refused: UnsealableKey) -> None:
    """A refused key is audited (the contact and the field, never the key), in a transaction
    of its own: the refused change itself was rolled back."""
    details = {"reason": "unsealable_key", "field": refused.field}
    refusal = AuditRecord("directory_change_refused", actor, f"contact:{refused.contact_id}",
                          details)  # fmt: skip
    await uow.audit.append(refusal, datetime.now(UTC))


async def check_contact(
    uow: UnitOfWork, spec: ContactSpec, webhook_networks: Sequence[Network] = ()
) -> None:
    """Raises what putting this contact would: its organisation missing, a webhook into a
    network it may not reach, a key nothing can be sealed to, or another contact in the same
    role."""
    await require(uow, "organisations", "organisation", spec.org_id)
    host = urlsplit(spec.webhook_url).hostname if spec.webhook_url else None
    if host and refused_host(host, webhook_networks):
        raise UnsafeWebhook(spec.id)
    if not recipient_keys.can_seal_to(spec.hpke_public_key):
        raise UnsealableKey(spec.id)
    colleagues = await uow.directory_rows.select_in("contacts", "org_id", [spec.org_id])
    if any(c["role"] == spec.role and c["id"] != spec.id for c in colleagues):
        raise DuplicateValue("contact at this organisation", "role")


def signing_key_rows(spec: OrganisationSpec) -> list[dict[str, Any]]:
    """The organisation's signing keys as rows, each with its key id."""
    return [
        {"org_id": spec.id, "key_id": crypto.key_id(crypto.signing_public_from_text(k.public_key)),
         **k.model_dump()}
        for k in spec.signing_keys
    ]  # fmt: skip


def clock_text(moment: time | None) -> str | None:
    return moment.strftime("%H:%M") if moment else None


async def put_contact(
    uow: UnitOfWork, spec: ContactSpec, actor: str, webhook_networks: Sequence[Network] = ()
) -> Outcome:
    await check_contact(uow, spec, webhook_networks)
    key = recipient_keys.key_id(spec.hpke_public_key)
    values = spec.model_dump(exclude={"id"}) | {"key_id": key}
    delta = await put_row(uow, "contacts", {"id": spec.id}, values)
    return await log(uow, actor, "contact", spec.id, delta)


async def put_person(uow: UnitOfWork, spec: PersonSpec, actor: str) -> Outcome:
    for name in ("nhs_number", "upn"):
        value = getattr(spec, name)
        holders = await uow.directory_rows.select_in("people", name, [value]) if value else []
        if any(holder["id"] != spec.id for holder in holders):
            raise DuplicateValue("person", name)
    before = await find(uow, "people", {"id": spec.id})
    values = person_values(spec, was=before or {})
    delta = await put_row(uow, "people", {"id": spec.id}, values)
    return await log(uow, actor, "person", spec.id, delta)


# Flags a record holds only when set (an unborn child, an additional need): a record without
# them keeps each column's default, and the change log names no flag nobody set.
PERSON_FLAGS = ("unborn", "has_send", "has_ehcp", "learning_disability", "interpreter_needed")


def person_values(spec: PersonSpec, *, was: Mapping[str, Any]) -> dict[str, Any]:
    """The record's values. A flag only when set, or when it was (a birth clears ``unborn``,
    a need recorded in error is cleared): ``was`` is the record before, if any."""
    values = spec.model_dump(exclude={"id"})
    for flag in PERSON_FLAGS:
        if not values[flag] and not was.get(flag):
            del values[flag]
    return values


async def put_household(uow: UnitOfWork, spec: HouseholdSpec, actor: str) -> Outcome:
    for member in spec.members:
        await require(uow, "people", "person", member.person_id)
    delta = await put_row(uow, "households", {"id": spec.id}, {"area": spec.area})
    members = [{"household_id": spec.id, **m.model_dump()} for m in spec.members]
    if await replace_rows(uow, "household_members", "household_id", spec.id, members):
        delta.fields.append("members")
    area = {"household_id": spec.id, "area": spec.area}
    if await find(uow, "household_areas", area) is None:
        await uow.directory_rows.insert("household_areas", [whole(uow, "household_areas", area)])
    await _derive_parent_links(uow, spec)
    return await log(uow, actor, "household", spec.id, delta)


async def _derive_parent_links(uow: UnitOfWork, spec: HouseholdSpec) -> None:
    """Each parent or carer living with a child is that child's parent, a tie that outlasts
    the household: a parent who moves out is still told about the child. A tie already
    stated (with its parental responsibility) is left as it is."""
    adults = [m.person_id for m in spec.members if m.role == "parent_or_carer"]
    children = [m.person_id for m in spec.members if m.role == "child"]
    ties = await uow.directory_rows.select_in("relationships", "person_id", adults)
    stated = {(t["person_id"], t["kind"], t["related_person_id"]) for t in ties}
    shape = uow.directory_rows.shape("relationships")
    derived = [
        dict(shape.defaults) | {"person_id": adult, "kind": "parent_of",
                                "related_person_id": child, "derived": True}
        for adult in adults for child in children
        if adult != child and (adult, "parent_of", child) not in stated
    ]  # fmt: skip
    await uow.directory_rows.insert("relationships", derived)


async def put_relationship(uow: UnitOfWork, spec: RelationshipSpec, actor: str) -> Outcome:
    """States a parent or sibling tie; stating a derived one makes it stated."""
    await require(uow, "people", "person", spec.person_id)
    await require(uow, "people", "person", spec.related_person_id)
    key = spec.model_dump(include={"person_id", "kind", "related_person_id"})
    values = {"parental_responsibility": spec.parental_responsibility, "derived": False}
    delta = await put_row(uow, "relationships", key, values)
    return await log(uow, actor, "relationship", relationship_id(**key), delta)


async def delete_relationship(
    uow: UnitOfWork, person_id: str, kind: str, related_person_id: str, actor: str
) -> None:
    """Removes a tie; RecordNotFound when there is none."""
    key = {"person_id": person_id, "kind": kind, "related_person_id": related_person_id}
    if await find(uow, "relationships", key) is None:
        raise RecordNotFound("relationship", relationship_id(**key))
    await uow.directory_rows.delete_keys("relationships", [key])
    await record(uow, actor, "relationship", relationship_id(**key), "deleted", ["kind"])


def relationship_id(person_id: str, kind: str, related_person_id: str) -> str:
    return f"{person_id}/{kind}/{related_person_id}"


async def put_registration(uow: UnitOfWork, spec: RegistrationSpec, actor: str) -> Outcome:
    await require(uow, "people", "person", spec.person_id)
    await require(uow, "organisations", "organisation", spec.org_id)
    key = {"person_id": spec.person_id, "kind": spec.kind}
    delta = await put_row(uow, "registrations", key, {"org_id": spec.org_id})
    return await log(uow, actor, "registration", registration_id(spec.person_id, spec.kind), delta)


async def delete_registration(uow: UnitOfWork, person_id: str, kind: str, actor: str) -> None:
    """Removes a person's registration of this kind; RecordNotFound when there is none."""
    key = {"person_id": person_id, "kind": kind}
    if await find(uow, "registrations", key) is None:
        raise RecordNotFound("registration", registration_id(person_id, kind))
    await uow.directory_rows.delete_keys("registrations", [key])
    await record(
        uow, actor, "registration", registration_id(person_id, kind), "deleted", ["org_id"]
    )


def registration_id(person_id: str, kind: str) -> str:
    return f"{person_id}/{kind}"


async def put_involvement(uow: UnitOfWork, spec: InvolvementSpec, actor: str) -> Outcome:
    """Opens or changes an involvement; setting ``closed_on`` closes it."""
    await require(uow, "people", "person", spec.person_id)
    await require(uow, "organisations", "organisation", spec.org_id)
    key = spec.model_dump(exclude={"closed_on"})
    delta = await put_row(uow, "involvements", key, {"closed_on": spec.closed_on})
    entity_id = f"{spec.person_id}/{spec.org_id}/{spec.opened_on.isoformat()}"
    return await log(uow, actor, "involvement", entity_id, delta)


async def put_plan(uow: UnitOfWork, spec: PlanSpec, actor: str) -> Outcome:
    """Creates or replaces a plan with its owners: the lead professional first, then the
    action owners, in the order given."""
    await require(uow, "people", "person", spec.person_id)
    owners = plan_owners(spec)
    for owner in owners:
        await require(uow, "organisations", "organisation", owner["org_id"])
    values = spec.model_dump(exclude={"id", "lead_professional", "action_owners"})
    delta = await put_row(uow, "plans", {"id": spec.id}, values)
    if await replace_rows(uow, "plan_owners", "plan_id", spec.id, owners):
        delta.fields.append("owners")
    return await log(uow, actor, "plan", spec.id, delta)


def plan_owners(spec: PlanSpec) -> list[dict[str, Any]]:
    lead = [(True, spec.lead_professional)] if spec.lead_professional else []
    everyone: list[tuple[bool, PlanOwnerSpec]] = lead + [(False, o) for o in spec.action_owners]
    return [
        {"plan_id": spec.id, "position": position, "is_lead": is_lead, **owner.model_dump()}
        for position, (is_lead, owner) in enumerate(everyone)
    ]


async def load_directory(
    uow: UnitOfWork, spec: DirectorySpec, *, actor: str = "import",
    webhook_networks: Sequence[Network] = (),
) -> ImportSummary:  # fmt: skip
    """Creates or replaces every record in ``spec``, referenced records first; answers how
    many of each kind were created, updated or unchanged."""
    summary: ImportSummary = {}
    contacts = partial(put_contact, webhook_networks=webhook_networks)
    await _each(uow, actor, summary, "organisations", put_organisation, spec.organisations)
    await _each(uow, actor, summary, "contacts", contacts, spec.contacts)
    await _each(uow, actor, summary, "people", put_person, spec.people)
    await _each(uow, actor, summary, "households", put_household, spec.households)
    await _each(uow, actor, summary, "relationships", put_relationship, spec.relationships)
    await _each(uow, actor, summary, "registrations", put_registration, spec.registrations)
    await _each(uow, actor, summary, "involvements", put_involvement, spec.involvements)
    await _each(uow, actor, summary, "plans", put_plan, spec.plans)
    return summary


async def _each(
    uow: UnitOfWork,
    actor: str,
    summary: ImportSummary,
    kind: str,
    put: Callable[[UnitOfWork, S, str], Awaitable[Outcome]],
    specs: Sequence[S],
) -> None:
    counts = summary.setdefault(kind, Counter())
    for spec in specs:
        counts[await put(uow, spec, actor)] += 1
