"""Registering peer brokers: ``PUT /v1/admin/peers/{org_id}`` on the admin API, and the
function ``sgb peer add`` calls. What registering means is ``broker.services.peers``.

The answer is 200 with what was done; a peer on record whose keys change answers 202 with the
key changes held for another administrator's approval. An area another peer serves, or an id
naming an organisation of another kind, is a 409; a gateway or API URL at an address the
broker may not reach (the webhook address check) is a 422 naming the field.
"""

from datetime import UTC, datetime

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from broker.adapters import db
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.bootstrap import Foundation
from broker.config import Settings
from broker.entrypoints import auth, http_errors
from broker.entrypoints.app import ErrorTable
from broker.entrypoints.path_ids import OrgInPath
from broker.keys import audit_key
from broker.rules import actors
from broker.services import peers
from broker.services.directory_changes import Outcome
from schemas.peers import PeerSpec

router = APIRouter()


class PeerRegistered(BaseModel):
    id: str
    action: Outcome
    pending_key_changes: list[str] = []


@router.put("/v1/admin/peers/{org_id}", response_model=PeerRegistered,
            responses={status.HTTP_202_ACCEPTED: {"model": PeerRegistered}})  # fmt: skip
async def put_peer(
    request: Request, caller: auth.Administrator, org_id: OrgInPath, spec: PeerSpec
) -> JSONResponse:
    """Registers a peer broker, or brings it up to date (its keys after approval)."""
    if org_id != spec.id:
        return http_errors.unprocessable(
            [http_errors.field_error("body.id", "does not match the path", "path_mismatch")]
        )
    rt: Foundation = request.app.state.rt
    async with SqlUnitOfWork(rt.sessions) as uow:
        done = await peers.register_peer(uow, spec, actors.administrator(caller.org_id),
                                         datetime.now(UTC),
                                         request.app.state.webhook_networks)  # fmt: skip
    answer = PeerRegistered(id=spec.id, action=done.outcome, pending_key_changes=done.pending)
    code = status.HTTP_202_ACCEPTED if done.pending else status.HTTP_200_OK
    return JSONResponse(answer.model_dump(), status_code=code)


async def add_peer(spec: PeerSpec, settings: Settings, operator: actors.Actor) -> peers.Registered:
    """``sgb peer add``: registers the peer in the configured database as ``operator``."""
    engine = db.make_engine(settings.database_url)
    try:
        await db.create_schema(engine)
        sessions = db.sessions(engine, audit_key(settings.keys_dir))
        async with SqlUnitOfWork(sessions) as uow:
            return await peers.register_peer(uow, spec, operator, datetime.now(UTC),
                                             settings.webhooks.allowed_networks)  # fmt: skip
    finally:
        await engine.dispose()


async def _conflict(_request: Request, exc: Exception) -> JSONResponse:
    # The broker's own message: the area and the peer's id, never anything else sent.
    return http_errors.detail(status.HTTP_409_CONFLICT, str(exc))


async def _unsafe_url(request: Request, exc: Exception) -> JSONResponse:
    """A 422 naming the field, never the URL sent; the attempt is counted and audited."""
    await auth.record_refusal(request, 422)
    field = exc.field if isinstance(exc, peers.UnsafePeerUrl) else "gateway_url"
    return http_errors.unprocessable(
        [http_errors.field_error(f"body.{field}", str(exc), "unsafe_url")]
    )


ERRORS: ErrorTable = {peers.AreaServed: _conflict, peers.NotAPeer: _conflict,
                      peers.UnsafePeerUrl: _unsafe_url}  # fmt: skip
