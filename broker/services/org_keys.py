"""An organisation's signing keys changed one at a time (``sgb org``): register an
organisation, add a key, revoke a key.

These go through the same path as the admin API's key changes (``key_changes``): a new
organisation is created at once without keys, and any key it is given, added or revoked is
held as a pending change under the operator who proposed it, audited, for another operator
to approve. Whoever holds an organisation's signing key speaks for it, so no one person
gives one.
"""

from datetime import datetime

from broker.errors import DirectoryError
from broker.ports import UnitOfWork
from broker.rules.actors import Actor
from broker.services import directory_admin as admin
from broker.services.directory_changes import Outcome
from broker.services.key_changes import Pending, put_organisation
from producers import crypto
from schemas.directory import OrganisationSpec, SigningKeySpec


class OrganisationOnRecord(DirectoryError):
    def __init__(self, org_id: str) -> None:
        super().__init__(f"organisation {org_id!r} is on record already: change its keys "
                         "with sgb org key add or revoke")  # fmt: skip


class UnknownOrganisation(DirectoryError):
    def __init__(self, org_id: str) -> None:
        super().__init__(f"no organisation {org_id!r} in the directory")


class KeyOnRecord(DirectoryError):
    def __init__(self, org_id: str, key_id: str) -> None:
        super().__init__(f"organisation {org_id!r} has key {key_id} already")


class UnknownKey(DirectoryError):
    def __init__(self, org_id: str, key_id: str) -> None:
        super().__init__(f"organisation {org_id!r} has no signing key {key_id!r}")


def key_id(public_key: str) -> str:
    """The id events name their key by: the first 16 hex digits of the raw key's SHA-256."""
    return crypto.key_id(crypto.signing_public_from_text(public_key))


def with_key(keys: tuple[SigningKeySpec, ...], key: SigningKeySpec) -> tuple[SigningKeySpec, ...]:
    """The keys and one more; a key already there is refused by the caller (``KeyOnRecord``)."""
    return (*keys, key)


def revoked(
    keys: tuple[SigningKeySpec, ...], revoked_id: str, at: datetime
) -> tuple[SigningKeySpec, ...]:
    """The keys with ``revoked_id`` valid until ``at`` (kept on record, so the key id still
    names it in the audit log); an earlier end stays."""
    return tuple(
        k.model_copy(update={"valid_until": min(k.valid_until or at, at)})
        if key_id(k.public_key) == revoked_id else k
        for k in keys
    )  # fmt: skip


async def add_organisation(
    uow: UnitOfWork, spec: OrganisationSpec, key: SigningKeySpec | None, actor: Actor,
    now: datetime,
) -> tuple[Outcome, Outcome | Pending | None]:  # fmt: skip
    """Creates the organisation without keys; its first key, if given, is held for approval."""
    if await _on_record(uow, spec.id) is not None:
        raise OrganisationOnRecord(spec.id)
    bare = OrganisationSpec.model_validate(spec.model_dump(exclude={"signing_keys"}))
    outcome = await admin.put_organisation(uow, bare, actor.name)
    if key is None:
        return outcome, None
    return outcome, await add_key(uow, spec.id, key, actor, now)


async def add_key(
    uow: UnitOfWork, org_id: str, key: SigningKeySpec, actor: Actor, now: datetime
) -> Outcome | Pending:
    """Holds the organisation with one more signing key, for another operator to approve."""
    spec = await on_record(uow, org_id)
    added = key_id(key.public_key)
    if any(key_id(k.public_key) == added for k in spec.signing_keys):
        raise KeyOnRecord(org_id, added)
    return await _held(uow, spec, with_key(spec.signing_keys, key), actor, now)


async def revoke_key(
    uow: UnitOfWork, org_id: str, revoked_id: str, actor: Actor, now: datetime
) -> Outcome | Pending:
    """Holds the organisation with the key ending now, for another operator to approve."""
    spec = await on_record(uow, org_id)
    if not any(key_id(k.public_key) == revoked_id for k in spec.signing_keys):
        raise UnknownKey(org_id, revoked_id)
    return await _held(uow, spec, revoked(spec.signing_keys, revoked_id, now), actor, now)


async def on_record(uow: UnitOfWork, org_id: str) -> OrganisationSpec:
    """The organisation as the directory holds it, its terms and signing keys included."""
    row = await _on_record(uow, org_id)
    if row is None:
        raise UnknownOrganisation(org_id)
    terms = await uow.directory_rows.select_in("school_terms", "org_id", [org_id])
    keys = await uow.directory_rows.select_in("org_signing_keys", "org_id", [org_id])
    fields = set(OrganisationSpec.model_fields) - {"terms", "signing_keys"}
    return OrganisationSpec.model_validate(
        {f: row[f] for f in fields if row.get(f) is not None}
        | {"terms": [{"starts_on": t["starts_on"], "ends_on": t["ends_on"]} for t in terms],
           "signing_keys": [{f: k[f] for f in ("public_key", "valid_from", "valid_until")}
                            for k in keys]}
    )  # fmt: skip


async def _on_record(uow: UnitOfWork, org_id: str) -> dict[str, object] | None:
    rows = await uow.directory_rows.select_in("organisations", "id", [org_id])
    return dict(rows[0]) if rows else None


async def _held(
    uow: UnitOfWork, spec: OrganisationSpec, keys: tuple[SigningKeySpec, ...], actor: Actor,
    now: datetime,
) -> Outcome | Pending:  # fmt: skip
    """Held; unchanged (a key revoked already) when the keys come out the same."""
    changed = spec.model_copy(update={"signing_keys": keys})
    return await put_organisation(uow, changed, actor, now)
