"""The directory admin API: create and change every kind of directory record, import a whole
directory, and read the change log. Every route needs an administrator's access token (the
``admin`` scope, given to the organisations named in ``administrators``), and every change is
recorded under that administrator's organisation id.

Each ``PUT`` creates the record or replaces it whole and answers ``{"id", "action"}``, the
action being created, updated or unchanged. The id in the path must be the id in the body.
Every change is recorded with the names of the fields changed, never their values. Invalid
input (a recipient key nothing can be sealed to included) is a 422 naming each field, never
the value sent; a reference to a record the directory lacks, or a clash with another record,
is a 409; a missing record to delete a 404.

A change to an organisation's signing keys or a contact's recipient key (a new contact
included) is not applied: it answers 202 with a pending change, which another administrator
approves (``POST /v1/admin/key-changes/{id}/approval``) before it takes effect; its requester
approving it is a 403, recorded. Its requester may withdraw it (``DELETE
/v1/admin/key-changes/{id}``; anyone else: 403, recorded); a change withdrawn, or older than
``key_change_expiry_hours``, can no longer be approved (409, recorded). An import that would
change keys is a 409; ``sgb directory-import`` holds such records for approval instead.
"""

from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from fastapi import FastAPI, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.adapters import audit, db
from broker.adapters.csv_import import read_directory
from broker.adapters.tokens import Principal
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.bootstrap import Foundation, foundation
from broker.config import Settings
from broker.entrypoints import auth, http_errors, peers_admin
from broker.entrypoints.alert_routes import add_alert_routes
from broker.entrypoints.app import ErrorTable, Process, create_app
from broker.entrypoints.key_change_notices import KeyChange
from broker.entrypoints.path_ids import (
    ChangeInPath,
    ContactInPath,
    KindInPath,
    OrgInPath,
    RecordInPath,
)
from broker.entrypoints.sign_in_routes import add_sign_in_routes
from broker.errors import AlreadyRecorded
from broker.keys import PROCESS_KEYS, audit_key
from broker.ports import DirectoryChangeEntry, UnitOfWork
from broker.rules import actors
from broker.rules.actors import Actor
from broker.services import directory_admin as admin
from broker.services import key_changes
from broker.services.directory_bulk import Progress, bulk_load_directory
from broker.services.directory_changes import (
    DuplicateValue,
    MissingReference,
    Outcome,
    RecordNotFound,
    list_changes,
)
from schemas.directory import (
    ContactSpec,
    DirectorySpec,
    HouseholdSpec,
    InvolvementSpec,
    OrganisationSpec,
    PersonSpec,
    PlanSpec,
    RegistrationSpec,
    RelationshipSpec,
)

S = TypeVar("S")
CSV_IMPORT = actors.operator("csv-import")  # sgb directory-import's operator when none is named
KeyedPut = Callable[[UnitOfWork, S, Actor, datetime], Awaitable[Outcome | key_changes.Pending]]


# A reference to a record the directory lacks, a clash with another, a change lapsed (ERRORS).
CONFLICT = http_errors.responses(status.HTTP_409_CONFLICT)


class Changed(BaseModel):
    id: str
    action: Outcome


class PendingChange(BaseModel):
    """A key change held for a second administrator's approval."""

    id: str
    action: Literal["pending"] = "pending"
    change_id: str


class Imported(BaseModel):
    counts: dict[str, dict[str, int]]


class Change(BaseModel):
    at: datetime
    actor: str
    entity: str
    entity_id: str
    action: str
    fields: list[str]


class IdMismatch(Exception):
    """The body names a different record from the path."""

    def __init__(self, fields: Sequence[str]) -> None:
        super().__init__("path and body name different records")
        self.fields = list(fields)


def create_admin_api(settings: Settings | None = None) -> FastAPI:
    """The admin API runs on the foundation alone: it publishes nothing to Kafka."""
    config = settings or Settings()
    app = create_app("Safeguarding broker: directory admin", config,
                     Process(PROCESS_KEYS["admin"], foundation),
                     errors={**ERRORS, **peers_admin.ERRORS},
                     routers=[peers_admin.router], description=__doc__ or "")  # fmt: skip
    app.state.webhook_networks = config.webhooks.allowed_networks
    app.state.key_expiry = timedelta(hours=config.key_change_expiry_hours)
    _add_record_routes(app)
    _add_registration_routes(app)
    _add_relationship_routes(app)
    _add_bulk_routes(app)
    _add_key_change_routes(app)
    add_alert_routes(app)
    add_sign_in_routes(app)
    return app


async def import_folder(
    folder: Path, settings: Settings, operator: Actor = CSV_IMPORT,
    progress: Progress | None = None,
) -> admin.ImportSummary:  # fmt: skip
    """Loads a folder of directory CSV files in one transaction (``sgb directory-import``),
    recorded under ``operator``. A record that would change the keys of an organisation on
    record is held for an administrator's approval instead (counted as ``key_changes``)."""
    spec = read_directory(folder)
    engine = db.make_engine(settings.database_url)
    networks = settings.webhooks.allowed_networks
    try:
        await db.create_schema(engine)
        sessions = db.sessions(engine, audit_key(settings.keys_dir))
        try:
            async with SqlUnitOfWork(sessions) as uow:
                spec, held = await key_changes.hold_import(uow, spec, operator, _now(),
                                                           networks)  # fmt: skip
                summary = await bulk_load_directory(uow, spec, actor=operator.name,
                                                    webhook_networks=networks,
                                                    progress=progress)  # fmt: skip
        except admin.UnsealableKey as refused:
            async with SqlUnitOfWork(sessions) as uow:
                await admin.record_refusal(uow, operator.name, refused)
            raise
    finally:
        await engine.dispose()
    if held:
        summary["key_changes"] = Counter({"pending": len(held)})
    return summary


def _add_record_routes(app: FastAPI) -> None:
    base = "/v1/admin"

    held: dict[int | str, dict[str, Any]] = {status.HTTP_202_ACCEPTED: {"model": PendingChange},
                                             **CONFLICT}  # fmt: skip

    @app.put(base + "/organisations/{org_id}", response_model=Changed, responses=held)
    async def put_organisation(
        request: Request, caller: auth.Administrator, org_id: OrgInPath, spec: OrganisationSpec
    ) -> Changed | JSONResponse:
        _same_ids(id=(org_id, spec.id))
        return await _put_keys(request, caller, key_changes.put_organisation, spec, spec.id)

    @app.put(base + "/contacts/{contact_id}", response_model=Changed, responses=held)
    async def put_contact(
        request: Request, caller: auth.Administrator, contact_id: ContactInPath, spec: ContactSpec
    ) -> Changed | JSONResponse:
        _same_ids(id=(contact_id, spec.id))
        put = partial(key_changes.put_contact, webhook_networks=request.app.state.webhook_networks)
        return await _put_keys(request, caller, put, spec, spec.id)

    @app.put(base + "/people/{person_id}", response_model=Changed, responses=CONFLICT)
    async def put_person(
        request: Request, caller: auth.Administrator, person_id: RecordInPath, spec: PersonSpec
    ) -> Changed:
        _same_ids(id=(person_id, spec.id))
        return await _put(request, caller, admin.put_person, spec, spec.id)

    @app.put(base + "/households/{household_id}", response_model=Changed, responses=CONFLICT)
    async def put_household(
        request: Request,
        caller: auth.Administrator,
        household_id: RecordInPath,
        spec: HouseholdSpec,
    ) -> Changed:
        _same_ids(id=(household_id, spec.id))
        return await _put(request, caller, admin.put_household, spec, spec.id)

    @app.put(base + "/involvements/{person_id}/{org_id}/{opened_on}", response_model=Changed,
             responses=CONFLICT)  # fmt: skip
    async def put_involvement(
        request: Request,
        caller: auth.Administrator,
        person_id: RecordInPath,
        org_id: OrgInPath,
        opened_on: date,
        spec: InvolvementSpec,
    ) -> Changed:
        path = {"person_id": person_id, "org_id": org_id, "opened_on": opened_on}
        _same_ids(**{name: (value, getattr(spec, name)) for name, value in path.items()})
        record_id = f"{person_id}/{org_id}/{opened_on.isoformat()}"
        return await _put(request, caller, admin.put_involvement, spec, record_id)

    @app.put(base + "/plans/{plan_id}", response_model=Changed, responses=CONFLICT)
    async def put_plan(
        request: Request, caller: auth.Administrator, plan_id: RecordInPath, spec: PlanSpec
    ) -> Changed:
        _same_ids(id=(plan_id, spec.id))
        return await _put(request, caller, admin.put_plan, spec, spec.id)


def _add_registration_routes(app: FastAPI) -> None:
    path = "/v1/admin/registrations/{person_id}/{kind}"

    @app.put(path, response_model=Changed, responses=CONFLICT)
    async def put_registration(
        request: Request,
        caller: auth.Administrator,
        person_id: RecordInPath,
        kind: KindInPath,
        spec: RegistrationSpec,
    ) -> Changed:
        _same_ids(person_id=(person_id, spec.person_id), kind=(kind, spec.kind))
        record_id = admin.registration_id(person_id, kind)
        return await _put(request, caller, admin.put_registration, spec, record_id)

    @app.delete(path, response_model=Changed)
    async def delete_registration(
        request: Request, caller: auth.Administrator, person_id: RecordInPath, kind: KindInPath
    ) -> Changed:
        async with SqlUnitOfWork(_sessions(request)) as uow:
            await admin.delete_registration(uow, person_id, kind, caller.org_id)
        return Changed(id=admin.registration_id(person_id, kind), action="deleted")


def _add_relationship_routes(app: FastAPI) -> None:
    path = "/v1/admin/relationships/{person_id}/{kind}/{related_person_id}"

    @app.put(path, response_model=Changed, responses=CONFLICT)
    async def put_relationship(
        request: Request,
        caller: auth.Administrator,
        person_id: RecordInPath,
        kind: KindInPath,
        related_person_id: RecordInPath,
        spec: RelationshipSpec,
    ) -> Changed:
        _same_ids(person_id=(person_id, spec.person_id), kind=(kind, spec.kind),
                  related_person_id=(related_person_id, spec.related_person_id))  # fmt: skip
        record_id = admin.relationship_id(person_id, kind, related_person_id)
        return await _put(request, caller, admin.put_relationship, spec, record_id)

    @app.delete(path, response_model=Changed)
    async def delete_relationship(
        request: Request,
        caller: auth.Administrator,
        person_id: RecordInPath,
        kind: KindInPath,
        related_person_id: RecordInPath,
    ) -> Changed:
        async with SqlUnitOfWork(_sessions(request)) as uow:
            await admin.delete_relationship(uow, person_id, kind, related_person_id,
                                            caller.org_id)  # fmt: skip
        return Changed(id=admin.relationship_id(person_id, kind, related_person_id),
                       action="deleted")  # fmt: skip


def _add_bulk_routes(app: FastAPI) -> None:
    @app.post("/v1/admin/import", response_model=Imported, responses=CONFLICT)
    async def import_directory(
        request: Request, caller: auth.Administrator, spec: DirectorySpec
    ) -> Imported:
        """Applies a whole directory in one transaction: all of it, or none of it (none when
        it would change any keys: those go one record at a time, for a second approval)."""
        async with SqlUnitOfWork(_sessions(request)) as uow:
            await key_changes.check_import(uow, spec)
            summary = await bulk_load_directory(
                uow, spec, actor=caller.org_id,
                webhook_networks=request.app.state.webhook_networks,
            )  # fmt: skip
        return Imported(counts={kind: dict(counts) for kind, counts in summary.items()})

    @app.get("/v1/admin/changes", response_model=list[Change])
    async def changes(
        request: Request, _: auth.Administrator, limit: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> list[Change]:
        async with SqlUnitOfWork(_sessions(request)) as uow:
            rows = await list_changes(uow, limit)
        return [_change(row) for row in rows]


def _add_key_change_routes(app: FastAPI) -> None:
    base = "/v1/admin/key-changes"

    @app.get(base, response_model=list[KeyChange])
    async def pending_key_changes(request: Request, _: auth.Administrator) -> list[KeyChange]:
        """Key changes awaiting a second administrator (not withdrawn nor expired), oldest
        first."""
        async with SqlUnitOfWork(_sessions(request)) as uow:
            rows = await key_changes.pending(uow, _now(), request.app.state.key_expiry)
        return [KeyChange.of(row) for row in rows]

    @app.post(base + "/{change_id}/approval", response_model=Changed, responses=CONFLICT)
    async def approve_key_change(
        request: Request, caller: auth.Administrator, change_id: ChangeInPath
    ) -> Changed:
        """Applies the change, for any administrator but the one who asked for it, unless
        it was withdrawn or has expired (409)."""
        async with SqlUnitOfWork(_sessions(request)) as uow:
            approver = actors.administrator(caller.org_id)
            done = await key_changes.approve(uow, change_id, approver, _now(),
                                             request.app.state.webhook_networks,
                                             request.app.state.key_expiry)  # fmt: skip
        return Changed(id=done.entity_id, action=done.outcome)

    @app.delete(base + "/{change_id}", response_model=Changed, responses=CONFLICT)
    async def withdraw_key_change(
        request: Request, caller: auth.Administrator, change_id: ChangeInPath
    ) -> Changed:
        """Withdraws a pending change, for the administrator who asked for it alone."""
        async with SqlUnitOfWork(_sessions(request)) as uow:
            await key_changes.withdraw(uow, change_id, actors.administrator(caller.org_id), _now())
        return Changed(id=change_id, action="deleted")


async def _put(
    request: Request,
    caller: Principal,
    put: Callable[[UnitOfWork, S, str], Awaitable[Outcome]],
    spec: S,
    record_id: str,
) -> Changed:
    async with SqlUnitOfWork(_sessions(request)) as uow:
        action = await put(uow, spec, caller.org_id)
    return Changed(id=record_id, action=action)


async def _put_keys(
    request: Request, caller: Principal, put: KeyedPut[S], spec: S, record_id: str
) -> Changed | JSONResponse:
    """A record that may carry keys: applied (200), or held for approval (202)."""
    async with SqlUnitOfWork(_sessions(request)) as uow:
        action = await put(uow, spec, actors.administrator(caller.org_id), _now())
    if isinstance(action, key_changes.Pending):
        held = PendingChange(id=record_id, change_id=action.change_id)
        return JSONResponse(held.model_dump(), status_code=status.HTTP_202_ACCEPTED)
    return Changed(id=record_id, action=action)


def _now() -> datetime:
    return datetime.now(UTC)


def _same_ids(**pairs: tuple[object, object]) -> None:
    """Raises IdMismatch naming each body field that differs from its path parameter."""
    if wrong := [name for name, (in_path, in_body) in pairs.items() if in_path != in_body]:
        raise IdMismatch(wrong)


def _sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    rt: Foundation = request.app.state.rt
    return rt.sessions


def _change(row: DirectoryChangeEntry) -> Change:
    return Change(at=row.at, actor=row.actor, entity=row.entity, entity_id=row.entity_id,
                  action=row.action, fields=list(row.fields))  # fmt: skip


async def _id_mismatch(_request: Request, exc: Exception) -> JSONResponse:
    fields = exc.fields if isinstance(exc, IdMismatch) else []
    message = "does not match the path"
    return http_errors.unprocessable(
        [http_errors.field_error(f"body.{name}", message, "path_mismatch") for name in fields]
    )


async def _unsealable_key(request: Request, exc: Exception) -> JSONResponse:
    # The broker's own message (the contact's id and the field), never the key sent.
    field = admin.UnsealableKey.field
    message = str(exc) if isinstance(exc, admin.UnsealableKey) else "cannot be sealed to"
    if isinstance(exc, admin.UnsealableKey):
        async with SqlUnitOfWork(_sessions(request)) as uow:
            caller = getattr(request.state, "caller", "unknown administrator")
            await admin.record_refusal(uow, caller, exc)
    return http_errors.unprocessable(
        [http_errors.field_error(f"body.{field}", message, "unsealable_key")]
    )


async def _unsafe_webhook(request: Request, exc: Exception) -> JSONResponse:
    """A 422 naming the field, never the URL sent; the attempt is counted and audited."""
    await auth.record_refusal(request, 422)
    return http_errors.unprocessable(
        [http_errors.field_error(f"body.{admin.UnsafeWebhook.field}", str(exc), "unsafe_webhook")]
    )


async def _conflict(_request: Request, exc: Exception) -> JSONResponse:
    # The broker's own messages: kinds, ids and field names, never a submitted value.
    return http_errors.detail(status.HTTP_409_CONFLICT, str(exc))


async def _not_found(_request: Request, exc: Exception) -> JSONResponse:
    return http_errors.detail(status.HTTP_404_NOT_FOUND, str(exc))


async def _integrity(_request: Request, _exc: Exception) -> JSONResponse:
    # The database's own message quotes the values it rejected: never pass it on.
    message = "the change conflicts with another record in the directory"
    return http_errors.detail(status.HTTP_409_CONFLICT, message)


async def _own_change(request: Request, exc: Exception) -> JSONResponse:
    """A requester approving their own key change, or another administrator withdrawing
    it: refused, and the refusal audited."""
    if not isinstance(exc, key_changes.OwnChange | key_changes.NotOwnChange):
        raise exc  # registered for these alone
    reason = "own_key_change" if isinstance(exc, key_changes.OwnChange) else "not_own_key_change"
    async with _sessions(request).begin() as session:
        await audit.append(session, "access_refused", exc.administrator,
                           f"key_change:{exc.change_id}",
                           {"status": 403, "reason": reason}, _now())  # fmt: skip
    return http_errors.detail(status.HTTP_403_FORBIDDEN, str(exc))


async def _lapsed(request: Request, exc: Exception) -> JSONResponse:
    """Approving (or withdrawing again) a change withdrawn or expired: refused, audited."""
    if not isinstance(exc, key_changes.Lapsed):
        raise exc  # registered for Lapsed alone
    async with _sessions(request).begin() as session:
        await audit.append(session, "key_change_refused", exc.administrator,
                           f"key_change:{exc.change_id}",
                           {"status": 409, "reason": exc.reason}, _now())  # fmt: skip
    return http_errors.detail(status.HTTP_409_CONFLICT, str(exc))


# Every error this API answers, to its status code, in one place.
ERRORS: ErrorTable = {
    IdMismatch: _id_mismatch,
    MissingReference: _conflict,
    DuplicateValue: _conflict,
    RecordNotFound: _not_found,
    IntegrityError: _integrity,
    AlreadyRecorded: _integrity,  # the unit of work's name for it
    admin.UnsealableKey: _unsealable_key,
    admin.UnsafeWebhook: _unsafe_webhook,
    key_changes.NotPending: _not_found,
    key_changes.OwnChange: _own_change,
    key_changes.NotOwnChange: _own_change,
    key_changes.Lapsed: _lapsed,
    key_changes.KeyChangeInImport: _conflict,
}
