"""The admin API's route for the web inbox's sign-in (``create_admin_api`` adds it): a
one-time sign-in link for a contact, which an administrator hands to its person (in person,
by phone, by the organisation's own email). The link works once, within 15 minutes; only its
hash is kept. Needs an administrator's token, as the other admin routes do."""

from datetime import UTC, datetime

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from broker.bootstrap import Foundation
from broker.entrypoints import auth, http_errors
from broker.entrypoints.path_ids import ContactInPath
from broker.services import web_sign_in

BASE = "/v1/admin"


class SignInLinkOut(BaseModel):
    contact_id: str
    url: str
    expires_at: datetime


def sign_in_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/inbox/sign-in/{token}"


def add_sign_in_routes(app: FastAPI) -> None:
    @app.post(BASE + "/contacts/{contact_id}/sign-in-links", status_code=201,
              response_model=SignInLinkOut)  # fmt: skip
    async def issue_sign_in_link(
        request: Request, caller: auth.Administrator, contact_id: ContactInPath
    ) -> SignInLinkOut | JSONResponse:
        """A one-time sign-in link to the web inbox for the contact's person."""
        rt: Foundation = request.app.state.rt
        try:
            async with rt.unit_of_work() as uow:
                issued = await web_sign_in.issue_link(uow, contact_id, caller.org_id,
                                                      datetime.now(UTC))  # fmt: skip
        except web_sign_in.UnknownContact:
            return http_errors.detail(404, "no such contact")
        return SignInLinkOut(contact_id=contact_id, expires_at=issued.expires_at,
                             url=sign_in_url(rt.settings.inbox_base_url, issued.token))  # fmt: skip
