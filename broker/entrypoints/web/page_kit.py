"""What the front door's and the administrators' web pages share: a refusal that names
nothing, counted and audited as the APIs' are, and a message page for a service's refusal.

A page for what another organisation owns is a 404, never a 403: the answer does not say
whether the thing exists elsewhere.
"""

from fastapi import Request, Response

from broker.entrypoints.auth import record_refusal
from broker.entrypoints.web import pages
from broker.ports import WebSessionRecord


async def not_found(request: Request, session: WebSessionRecord, back: str = "/inbox") -> Response:
    request.state.caller = session.contact_id
    await record_refusal(request, 404)
    return pages.render(request, "message.html", session, status_code=404, title="Page not found",
                        lines=["There is nothing here for your organisation."],
                        back=back)  # fmt: skip


def not_done(
    request: Request, session: WebSessionRecord, line: str, back: str, status_code: int = 409
) -> Response:
    """A service's own refusal (its wording names nobody): nothing was changed."""
    return pages.render(request, "message.html", session, status_code=status_code,
                        title="This could not be done", lines=[line], back=back)  # fmt: skip
