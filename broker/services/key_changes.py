"""Changes to the keys on record, which no single administrator makes.

Whoever holds an organisation's signing key speaks for it, and whoever holds a contact's
recipient key reads its notices: so a change to an organisation's signing keys, or to a
contact's recipient key or organisation (a new contact included), is held as a pending
change. It takes effect only when an administrator other than the one who asked approves it,
and both steps go into the audit log under the organisation concerned, which can list them
(``concerning``) with its own token before the change takes effect. Any other directory
change is applied at once, as before.

DirectoryError (broker.errors)
├── NotPending           no change awaiting approval has this id
├── OwnChange            the administrator who asked for the change tried to approve it
└── KeyChangeInImport    a bulk import would change keys: those go one record at a time
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.adapters import audit, db, recipient_keys
from broker.errors import DirectoryError
from broker.rules.webhook_targets import Network
from broker.services import directory_admin as admin
from broker.services.directory_changes import Outcome
from schemas.directory import ContactSpec, DirectorySpec, OrganisationSpec


class NotPending(DirectoryError):
    def __init__(self, change_id: str) -> None:
        super().__init__(f"no key change {change_id!r} awaits approval")


class OwnChange(DirectoryError):
    def __init__(self, change_id: str, administrator: str) -> None:
        super().__init__("a key change is approved by another administrator than its requester")
        self.change_id, self.administrator = change_id, administrator


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
    session: AsyncSession, spec: OrganisationSpec, actor: str, now: datetime
) -> Outcome | Pending:
    """Applies the organisation at once, or holds it when its signing keys change."""
    if not await _signing_keys_change(session, spec):
        return await admin.put_organisation(session, spec, actor)
    key_ids = [row["key_id"] for row in admin.signing_key_rows(spec)]
    return await _hold(session, "organisation", spec.id, spec.id, spec, key_ids, actor, now)


async def put_contact(
    session: AsyncSession, spec: ContactSpec, actor: str, now: datetime,
    webhook_networks: Sequence[Network] = (),
) -> Outcome | Pending:  # fmt: skip
    """Applies the contact at once, or (checked first) holds it when it brings a key."""
    if not await _recipient_key_changes(session, spec):
        return await admin.put_contact(session, spec, actor, webhook_networks)
    await admin.check_contact(session, spec, webhook_networks)
    key_ids = [recipient_keys.key_id(spec.hpke_public_key)]
    return await _hold(session, "contact", spec.id, spec.org_id, spec, key_ids, actor, now)


async def check_import(session: AsyncSession, spec: DirectorySpec) -> None:
    """Raises KeyChangeInImport for the first record whose keys the import would change
    (after the usual refusal of a key nothing can be sealed to)."""
    for organisation in spec.organisations:
        if await _signing_keys_change(session, organisation):
            raise KeyChangeInImport("organisation", organisation.id)
    for contact in spec.contacts:
        if await _recipient_key_changes(session, contact):
            if not recipient_keys.can_seal_to(contact.hpke_public_key):
                raise admin.UnsealableKey(contact.id)
            raise KeyChangeInImport("contact", contact.id)


async def approve(
    session: AsyncSession, change_id: str, approver: str, now: datetime,
    webhook_networks: Sequence[Network] = (),
) -> Approved:  # fmt: skip
    """Applies a pending change for an administrator other than its requester."""
    change = await session.get(db.PendingKeyChange, change_id, with_for_update=True)
    if change is None or change.approved_at is not None:
        raise NotPending(change_id)
    if change.requested_by == approver:
        raise OwnChange(change_id, approver)
    if change.entity == "organisation":
        organisation = OrganisationSpec.model_validate_json(change.spec)
        outcome = await admin.put_organisation(session, organisation, approver)
    else:
        contact = ContactSpec.model_validate_json(change.spec)
        outcome = await admin.put_contact(session, contact, approver, webhook_networks)
    change.approved_by, change.approved_at = approver, now
    await session.flush()
    await audit.append(session, "key_change_approved", approver, f"organisation:{change.org_id}",
                       _details(change) | {"requested_by": change.requested_by}, now)  # fmt: skip
    return Approved(change.entity_id, outcome)


async def pending(session: AsyncSession) -> Sequence[db.PendingKeyChange]:
    """Every change awaiting approval, oldest first."""
    query = select(db.PendingKeyChange).where(db.PendingKeyChange.approved_at.is_(None))
    return (await session.scalars(query.order_by(db.PendingKeyChange.requested_at))).all()


async def concerning(session: AsyncSession, org_id: str) -> Sequence[db.PendingKeyChange]:
    """The organisation's key changes, pending and applied, newest first."""
    query = select(db.PendingKeyChange).where(db.PendingKeyChange.org_id == org_id)
    return (await session.scalars(query.order_by(db.PendingKeyChange.requested_at.desc()))).all()


async def _signing_keys_change(session: AsyncSession, spec: OrganisationSpec) -> bool:
    if "signing_keys" not in spec.model_fields_set:
        return False  # a record that does not state its keys leaves them as they are
    columns = ("key_id", "public_key", "valid_from", "valid_until")
    rows = await session.scalars(
        select(db.OrgSigningKey).where(db.OrgSigningKey.org_id == spec.id)
    )  # fmt: skip
    before = {tuple(getattr(row, column) for column in columns) for row in rows}
    after = {tuple(row[column] for column in columns) for row in admin.signing_key_rows(spec)}
    return before != after


async def _recipient_key_changes(session: AsyncSession, spec: ContactSpec) -> bool:
    """A new contact, a new key, or a key moved to another organisation."""
    current = await session.get(db.Contact, spec.id)
    return current is None or (current.hpke_public_key, current.org_id) != (
        spec.hpke_public_key, spec.org_id
    )  # fmt: skip


async def _hold(
    session: AsyncSession, entity: str, entity_id: str, org_id: str,
    spec: OrganisationSpec | ContactSpec, key_ids: list[str], actor: str, now: datetime,
) -> Pending:  # fmt: skip
    change = db.PendingKeyChange(
        id=str(uuid.uuid4()), entity=entity, entity_id=entity_id, org_id=org_id,
        spec=spec.model_dump_json(), key_ids=",".join(key_ids), requested_by=actor,
        requested_at=now,
    )  # fmt: skip
    session.add(change)
    await session.flush()
    await audit.append(session, "key_change_requested", actor, f"organisation:{org_id}",
                       _details(change), now)  # fmt: skip
    return Pending(change.id, entity, entity_id)


def _details(change: db.PendingKeyChange) -> dict[str, str | int | bool | None]:
    return {"change_id": change.id, "entity": change.entity, "entity_id": change.entity_id,
            "key_ids": change.key_ids}  # fmt: skip
