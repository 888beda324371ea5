"""The directory admin API: create and change every kind of directory record, import a whole
directory, and read the change log. No authentication yet: that comes in a later issue.

Each ``PUT`` creates the record or replaces it whole and answers ``{"id", "action"}``, the
action being created, updated or unchanged. The id in the path must be the id in the body.
Every change is recorded with the names of the fields changed, never their values. Invalid
input (a recipient key nothing can be sealed to included) is a 422 naming each field, never
the value sent; a reference to a record the directory lacks, or a clash with another record,
is a 409; a missing record to delete a 404.
"""

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, TypeVar

from fastapi import FastAPI, Query, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.adapters import db
from broker.adapters.csv_import import read_directory
from broker.config import Settings
from broker.entrypoints import auth, http_errors
from broker.entrypoints.limits import protect
from broker.keys import PROCESS_KEYS, KeyStore
from broker.logging import configure_logging
from broker.services import directory_admin as admin
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

ACTOR = "admin-api"  # until authentication names the administrator
S = TypeVar("S")


class Changed(BaseModel):
    id: str
    action: Outcome


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
    config = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(config.log_level, config.log_json)
        engine = db.make_engine(config.database_url)
        await db.create_schema(engine)
        app.state.sessions = db.sessions(engine)
        keys = KeyStore.for_process(config.keys_dir, PROCESS_KEYS["admin"])
        app.state.auth = auth.context_for(app.state.sessions, keys.token, config.administrators)
        yield
        await engine.dispose()

    app = FastAPI(title="Safeguarding broker: directory admin", version="1", lifespan=lifespan)
    protect(app, config.max_body_bytes, config.rate_limit)
    auth.install(app)
    _install_error_handlers(app)
    _add_record_routes(app)
    _add_registration_routes(app)
    _add_relationship_routes(app)
    _add_bulk_routes(app)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


async def import_folder(folder: Path, settings: Settings) -> admin.ImportSummary:
    """Loads a folder of directory CSV files in one transaction (``sgb directory-import``)."""
    spec = read_directory(folder)
    engine = db.make_engine(settings.database_url)
    try:
        await db.create_schema(engine)
        try:
            async with db.sessions(engine).begin() as session:
                return await admin.load_directory(session, spec, actor="csv-import")
        except admin.UnsealableKey as refused:
            async with db.sessions(engine).begin() as session:
                await admin.record_refusal(session, "csv-import", refused)
            raise
    finally:
        await engine.dispose()


def _add_record_routes(app: FastAPI) -> None:
    base = "/v1/admin"

    @app.put(base + "/organisations/{org_id}", response_model=Changed)
    async def put_organisation(
        request: Request, _: auth.Administrator, org_id: str, spec: OrganisationSpec
    ) -> Changed:
        _same_ids(id=(org_id, spec.id))
        return await _put(request, admin.put_organisation, spec, spec.id)

    @app.put(base + "/contacts/{contact_id}", response_model=Changed)
    async def put_contact(
        request: Request, _: auth.Administrator, contact_id: str, spec: ContactSpec
    ) -> Changed:
        _same_ids(id=(contact_id, spec.id))
        return await _put(request, admin.put_contact, spec, spec.id)

    @app.put(base + "/people/{person_id}", response_model=Changed)
    async def put_person(
        request: Request, _: auth.Administrator, person_id: str, spec: PersonSpec
    ) -> Changed:
        _same_ids(id=(person_id, spec.id))
        return await _put(request, admin.put_person, spec, spec.id)

    @app.put(base + "/households/{household_id}", response_model=Changed)
    async def put_household(
        request: Request, _: auth.Administrator, household_id: str, spec: HouseholdSpec
    ) -> Changed:
        _same_ids(id=(household_id, spec.id))
        return await _put(request, admin.put_household, spec, spec.id)

    @app.put(base + "/involvements/{person_id}/{org_id}/{opened_on}", response_model=Changed)
    async def put_involvement(
        request: Request,
        _: auth.Administrator,
        person_id: str,
        org_id: str,
        opened_on: date,
        spec: InvolvementSpec,
    ) -> Changed:
        path = {"person_id": person_id, "org_id": org_id, "opened_on": opened_on}
        _same_ids(**{name: (value, getattr(spec, name)) for name, value in path.items()})
        record_id = f"{person_id}/{org_id}/{opened_on.isoformat()}"
        return await _put(request, admin.put_involvement, spec, record_id)

    @app.put(base + "/plans/{plan_id}", response_model=Changed)
    async def put_plan(
        request: Request, _: auth.Administrator, plan_id: str, spec: PlanSpec
    ) -> Changed:
        _same_ids(id=(plan_id, spec.id))
        return await _put(request, admin.put_plan, spec, spec.id)


def _add_registration_routes(app: FastAPI) -> None:
    path = "/v1/admin/registrations/{person_id}/{kind}"

    @app.put(path, response_model=Changed)
    async def put_registration(
        request: Request, _: auth.Administrator, person_id: str, kind: str, spec: RegistrationSpec
    ) -> Changed:
        _same_ids(person_id=(person_id, spec.person_id), kind=(kind, spec.kind))
        record_id = admin.registration_id(person_id, kind)
        return await _put(request, admin.put_registration, spec, record_id)

    @app.delete(path, response_model=Changed)
    async def delete_registration(
        request: Request, _: auth.Administrator, person_id: str, kind: str
    ) -> Changed:
        async with _sessions(request).begin() as session:
            await admin.delete_registration(session, person_id, kind, ACTOR)
        return Changed(id=admin.registration_id(person_id, kind), action="deleted")


def _add_relationship_routes(app: FastAPI) -> None:
    path = "/v1/admin/relationships/{person_id}/{kind}/{related_person_id}"

    @app.put(path, response_model=Changed)
    async def put_relationship(
        request: Request,
        _: auth.Administrator,
        person_id: str,
        kind: str,
        related_person_id: str,
        spec: RelationshipSpec,
    ) -> Changed:
        _same_ids(person_id=(person_id, spec.person_id), kind=(kind, spec.kind),
                  related_person_id=(related_person_id, spec.related_person_id))  # fmt: skip
        record_id = admin.relationship_id(person_id, kind, related_person_id)
        return await _put(request, admin.put_relationship, spec, record_id)

    @app.delete(path, response_model=Changed)
    async def delete_relationship(
        request: Request, _: auth.Administrator, person_id: str, kind: str, related_person_id: str
    ) -> Changed:
        async with _sessions(request).begin() as session:
            await admin.delete_relationship(session, person_id, kind, related_person_id, ACTOR)
        return Changed(id=admin.relationship_id(person_id, kind, related_person_id),
                       action="deleted")  # fmt: skip


def _add_bulk_routes(app: FastAPI) -> None:
    @app.post("/v1/admin/import", response_model=Imported)
    async def import_directory(
        request: Request, _: auth.Administrator, spec: DirectorySpec
    ) -> Imported:
        """Applies a whole directory in one transaction: all of it, or none of it."""
        async with _sessions(request).begin() as session:
            summary = await admin.load_directory(session, spec, actor=ACTOR)
        return Imported(counts={kind: dict(counts) for kind, counts in summary.items()})

    @app.get("/v1/admin/changes", response_model=list[Change])
    async def changes(
        request: Request, _: auth.Administrator, limit: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> list[Change]:
        async with _sessions(request)() as session:
            rows = await list_changes(session, limit)
        return [_change(row) for row in rows]


async def _put(
    request: Request,
    put: Callable[[AsyncSession, S, str], Awaitable[Outcome]],
    spec: S,
    record_id: str,
) -> Changed:
    async with _sessions(request).begin() as session:
        action = await put(session, spec, ACTOR)
    return Changed(id=record_id, action=action)


def _same_ids(**pairs: tuple[object, object]) -> None:
    """Raises IdMismatch naming each body field that differs from its path parameter."""
    if wrong := [name for name, (in_path, in_body) in pairs.items() if in_path != in_body]:
        raise IdMismatch(wrong)


def _sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    return sessions


def _change(row: db.DirectoryChange) -> Change:
    fields = row.fields.split(",") if row.fields else []
    return Change(at=row.at, actor=row.actor, entity=row.entity, entity_id=row.entity_id,
                  action=row.action, fields=fields)  # fmt: skip


def _install_error_handlers(app: FastAPI) -> None:
    """Maps every error this API answers to its status code, in one place."""
    handlers: dict[type[Exception], Callable[[Request, Exception], Awaitable[JSONResponse]]] = {
        RequestValidationError: http_errors.field_errors,  # type: ignore[dict-item]
        IdMismatch: _id_mismatch,
        MissingReference: _conflict,
        DuplicateValue: _conflict,
        RecordNotFound: _not_found,
        IntegrityError: _integrity,
        admin.UnsealableKey: _unsealable_key,
    }
    for exc_type, handler in handlers.items():
        app.add_exception_handler(exc_type, handler)


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
        async with _sessions(request).begin() as session:
            await admin.record_refusal(session, ACTOR, exc)
    return http_errors.unprocessable(
        [http_errors.field_error(f"body.{field}", message, "unsealable_key")]
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
