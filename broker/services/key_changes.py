"""Changes to the keys on record, which no single administrator makes.

Whoever holds an organisation's signing key speaks for it, and whoever holds a contact's
recipient key reads its notices: so a change to an organisation's signing keys, or to a
contact's recipient key or organisation (a new contact included), is held as a pending
change. It takes effect only when an administrator other than the one who asked approves it,
and both steps go into the audit log under the organisation concerned, which can list them
(``concerning``) with its own token before the change takes effect. Any other directory
change is applied at once, as before.

Requesters and approvers are typed actors (broker.rules.actors): an operator at the command
line is never the administrator organisation of the same name, and a change recorded under a
bare name (before actors had kinds) is judged by name alone, as it was.

A pending change lapses once older than the expiry (``key_change_expiry_hours``, 72 by
default), and the administrator who asked for it may withdraw it first; either way it can
no longer be approved, and an attempt is refused and audited. ``sgb directory-import`` (an
operator's CSV) puts an existing organisation's changed keys, and any new recipient key of
an existing organisation, in pending changes under the operator's name (``hold_import``);
only a new organisation's first keys are set at once.

DirectoryError (broker.errors)
├── NotPending           no change awaiting approval has this id
├── OwnChange            the administrator who asked for the change tried to approve it
├── NotOwnChange         another administrator than its requester tried to withdraw it
├── Lapsed               the change was withdrawn or has expired: it cannot be approved
└── KeyChangeInImport    a bulk import would change keys: those go one record at a time
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from broker.delivery.webhook_targets import Network
from broker.errors import DirectoryError
from broker.ports import AuditRecord, KeyChangeView, UnitOfWork
from broker.rules import actors
from broker.rules.actors import Actor
from broker.services import directory_admin as admin
from broker.services.directory_changes import Outcome
from broker.services.directory_writes import find
from producers import recipient_keys
from schemas.directory import ContactSpec, DirectorySpec, OrganisationSpec

KEY_CHANGE_EXPIRY = timedelta(hours=72)


class NotPending(DirectoryError):
    def __init__(self, change_id: str) -> None:
        super().__init__(f"no key change {change_id!r} awaits approval")


class OwnChange(DirectoryError):
    def __init__(self, change_id: str, administrator: str) -> None:
        super().__init__("a key change is approved by another administrator than its requester")
        self.change_id, self.administrator = change_id, administrator


class NotOwnChange(DirectoryError):
    def __init__(self, change_id: str, administrator: str) -> None:
        super().__init__("only the administrator who asked for a key change may withdraw it")
        self.change_id, self.administrator = change_id, administrator


class Lapsed(DirectoryError):
    """``reason`` is "withdrawn" or "expired"."""

    def __init__(self, change_id: str, administrator: str, reason: str) -> None:
        super().__init__(f"key change {change_id!r} was {reason}: ask for it again")
        self.change_id, self.administrator, self.reason = change_id, administrator, reason


class KeyChangeInImport(DirectoryError):
    def __init__(self, entity: str, entity_id: str) -> None:
        super().__init__(
            f"the import changes the keys of {entity} {entity_id!r}: put that record on its "
            "own, for a second administrator to approve"
        )


@dataclass(frozen=True)
class Pending:
    """A change held for approval."""

    change_id: str
    entity: str
    entity_id: str


@dataclass(frozen=True)
class Approved:
    entity_id: str
    outcome: Outcome


async def put_organisation(
    uow: UnitOfWork, spec: OrganisationSpec, actor: Actor, now: datetime
) -> Outcome | Pending:
    """Applies the organisation at once, or holds it when its signing keys change."""
    if not await _signing_keys_change(uow, spec):
        return await admin.put_organisation(uow, spec, actor.name)
    key_ids = [row["key_id"] for row in admin.signing_key_rows(spec)]
    return await _hold(uow, "organisation", spec.id, spec.id, spec, key_ids, actor, now)


async def put_contact(
    uow: UnitOfWork, spec: ContactSpec, actor: Actor, now: datetime,
    webhook_networks: Sequence[Network] = (),
) -> Outcome | Pending:  # fmt: skip
    """Applies the contact at once, or (checked first) holds it when it brings a key."""
    if not await _recipient_key_changes(uow, spec):
        return await admin.put_contact(uow, spec, actor.name, webhook_networks)
    await admin.check_contact(uow, spec, webhook_networks)
    key_ids = [recipient_keys.key_id(spec.hpke_public_key)]
    return await _hold(uow, "contact", spec.id, spec.org_id, spec, key_ids, actor, now)


async def check_import(uow: UnitOfWork, spec: DirectorySpec) -> None:
    """Raises KeyChangeInImport for the first record whose keys the import would change
    (after the usual refusal of a key nothing can be sealed to)."""
    for organisation in spec.organisations:
        if await _signing_keys_change(uow, organisation):
            raise KeyChangeInImport("organisation", organisation.id)
    for contact in spec.contacts:
        if await _recipient_key_changes(uow, contact):
            if not recipient_keys.can_seal_to(contact.hpke_public_key):
                raise admin.UnsealableKey(contact.id)
            raise KeyChangeInImport("contact", contact.id)


async def approve(
    uow: UnitOfWork, change_id: str, approver: Actor, now: datetime,
    webhook_networks: Sequence[Network] = (), expiry: timedelta = KEY_CHANGE_EXPIRY,
) -> Approved:  # fmt: skip
    """Applies a pending change for an administrator other than its requester, unless it
    was withdrawn or is older than ``expiry``."""
    change = await uow.key_changes.get_for_update(change_id)
    if change is None or change.approved_at is not None:
        raise NotPending(change_id)
    if change.withdrawn_at is not None:
        raise Lapsed(change_id, str(approver), "withdrawn")
    if change.requested_at <= now - expiry:
        raise Lapsed(change_id, str(approver), "expired")
    if actors.same(actors.parse(change.requested_by), approver):
        raise OwnChange(change_id, str(approver))
    if change.entity == "organisation":
        organisation = OrganisationSpec.model_validate_json(change.spec)
        outcome = await admin.put_organisation(uow, organisation, approver.name)
    else:
        contact = ContactSpec.model_validate_json(change.spec)
        outcome = await admin.put_contact(uow, contact, approver.name, webhook_networks)
    await uow.key_changes.mark_approved(change.id, str(approver), now)
    details = _details(change) | {"requested_by": change.requested_by}
    await uow.audit.append(AuditRecord("key_change_approved", str(approver),
                                       f"organisation:{change.org_id}", details), now)  # fmt: skip
    return Approved(change.entity_id, outcome)


async def withdraw(uow: UnitOfWork, change_id: str, administrator: Actor, now: datetime) -> None:
    """Withdraws a pending change, for the administrator who asked for it alone; audited."""
    change = await uow.key_changes.get_for_update(change_id)
    if change is None or change.approved_at is not None:
        raise NotPending(change_id)
    if change.withdrawn_at is not None:
        raise Lapsed(change_id, str(administrator), "withdrawn")
    if not actors.same(actors.parse(change.requested_by), administrator):
        raise NotOwnChange(change_id, str(administrator))
    await uow.key_changes.mark_withdrawn(change.id, str(administrator), now)
    await uow.audit.append(AuditRecord("key_change_withdrawn", str(administrator),
                                       f"organisation:{change.org_id}", _details(change)),
                           now)  # fmt: skip


async def pending(
    uow: UnitOfWork, now: datetime, expiry: timedelta = KEY_CHANGE_EXPIRY
) -> list[KeyChangeView]:
    """Every change awaiting approval (neither withdrawn nor expired), oldest first."""
    return await uow.key_changes.awaiting(now - expiry)


async def hold_import(
    uow: UnitOfWork, spec: DirectorySpec, operator: Actor, now: datetime,
    webhook_networks: Sequence[Network] = (),
) -> tuple[DirectorySpec, list[Pending]]:  # fmt: skip
    """The import without its key changes to organisations already in the directory (a
    contact new to one of them included), each held for approval under ``operator``. A new
    organisation's first keys, and its new contacts', stay in the import."""
    named = {o.id for o in spec.organisations} | {c.org_id for c in spec.contacts}
    known = {row["id"] for row in await uow.directory_rows.select_in("organisations", "id", named)}
    held, organisations, contacts = [], [], []
    for org in spec.organisations:
        if org.id in known and await _signing_keys_change(uow, org):
            key_ids = [row["key_id"] for row in admin.signing_key_rows(org)]
            held.append(await _hold(uow, "organisation", org.id, org.id, org, key_ids,
                                    operator, now))  # fmt: skip
        else:
            organisations.append(org)
    for contact in spec.contacts:
        if await _held_in_import(uow, contact, known):
            await admin.check_contact(uow, contact, webhook_networks)
            key_ids = [recipient_keys.key_id(contact.hpke_public_key)]
            held.append(await _hold(uow, "contact", contact.id, contact.org_id, contact,
                                    key_ids, operator, now))  # fmt: skip
        else:
            contacts.append(contact)
    kept = spec.model_copy(update={"organisations": tuple(organisations),
                                   "contacts": tuple(contacts)})  # fmt: skip
    return kept, held


async def _held_in_import(uow: UnitOfWork, spec: ContactSpec, known: set[str]) -> bool:
    """A changed key of a contact on record, or a new contact of a known organisation."""
    if await find(uow, "contacts", {"id": spec.id}) is not None:
        return await _recipient_key_changes(uow, spec)
    return spec.org_id in known


async def concerning(uow: UnitOfWork, org_id: str) -> list[KeyChangeView]:
    """The organisation's key changes, pending and applied, newest first."""
    return await uow.key_changes.concerning(org_id)


async def _signing_keys_change(uow: UnitOfWork, spec: OrganisationSpec) -> bool:
    if "signing_keys" not in spec.model_fields_set:
        return False  # a record that does not state its keys leaves them as they are
    columns = ("key_id", "public_key", "valid_from", "valid_until")
    rows = await uow.directory_rows.select_in("org_signing_keys", "org_id", [spec.id])
    before = {tuple(row[column] for column in columns) for row in rows}
    after = {tuple(row[column] for column in columns) for row in admin.signing_key_rows(spec)}
    return before != after


async def _recipient_key_changes(uow: UnitOfWork, spec: ContactSpec) -> bool:
    """A new contact, a new key, or a key moved to another organisation."""
    current = await find(uow, "contacts", {"id": spec.id})
    return current is None or (current["hpke_public_key"], current["org_id"]) != (
        spec.hpke_public_key, spec.org_id
    )  # fmt: skip


async def _hold(
    uow: UnitOfWork, entity: str, entity_id: str, org_id: str,
    spec: OrganisationSpec | ContactSpec, key_ids: list[str], actor: Actor, now: datetime,
) -> Pending:  # fmt: skip
    change = KeyChangeView(
        id=str(uuid.uuid4()), entity=entity, entity_id=entity_id, org_id=org_id,
        spec=spec.model_dump_json(), key_ids=",".join(key_ids), requested_by=str(actor),
        requested_at=now,
    )  # fmt: skip
    await uow.key_changes.add(change)
    await uow.audit.append(AuditRecord("key_change_requested", str(actor), f"organisation:{org_id}",
                                       _details(change)), now)  # fmt: skip
    return Pending(change.id, entity, entity_id)


def _details(change: KeyChangeView) -> dict[str, str | int | bool | None]:
    return {"change_id": change.id, "entity": change.entity, "entity_id": change.entity_id,
            "key_ids": change.key_ids}  # fmt: skip
