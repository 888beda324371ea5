"""What an organisation sees of changes to its own keys, on the inbox API.

``GET /v1/organisations/{org_id}/key-changes`` lists them, pending and applied, newest first:
which record, the ids of the keys it puts in place, which administrator asked and which
approved. An organisation polls this with its own token, as it polls its inbox; while a
change is pending it can object before it takes effect (no notice is sealed for it: the
admin API holds no sealing or signing key, and a notice sealed to a key being replaced would
not reach whoever it is taken from). Another organisation's list is a 403, audited.
"""

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel

from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.entrypoints import auth
from broker.entrypoints.path_ids import OrgInPath
from broker.errors import NotAuthorised
from broker.ports import KeyChangeView
from broker.services import key_changes

router = APIRouter()


class KeyChange(BaseModel):
    change_id: str
    entity: str
    entity_id: str
    org_id: str
    key_ids: list[str]
    requested_by: str
    requested_at: datetime
    approved_by: str | None
    approved_at: datetime | None  # None while it awaits a second administrator
    withdrawn_by: str | None = None  # its requester, who withdrew it: it will never apply
    withdrawn_at: datetime | None = None

    @classmethod
    def of(cls, row: KeyChangeView) -> "KeyChange":
        return cls(change_id=row.id, entity=row.entity, entity_id=row.entity_id,
                   org_id=row.org_id, key_ids=row.key_ids.split(","),
                   requested_by=row.requested_by, requested_at=row.requested_at,
                   approved_by=row.approved_by, approved_at=row.approved_at,
                   withdrawn_by=row.withdrawn_by, withdrawn_at=row.withdrawn_at)  # fmt: skip


@router.get("/v1/organisations/{org_id}/key-changes", response_model=list[KeyChange])
async def key_changes_of(
    request: Request, org_id: OrgInPath, caller: auth.NoticeReader
) -> list[KeyChange]:
    if caller.org_id != org_id:
        raise NotAuthorised("an organisation sees only its own key changes")
    async with SqlUnitOfWork(request.app.state.rt.sessions) as uow:
        return [KeyChange.of(row) for row in await key_changes.concerning(uow, org_id)]
