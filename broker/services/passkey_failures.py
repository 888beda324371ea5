"""A passkey ceremony that failed in the browser, as the page reports it: audited by the
ceremony's kind and the error's name (and the session's contact when there is one: the
enrolment page's), answered with what the person should do next (rules/ceremony_failures.py).
Nothing else of the ceremony is sent or kept."""

from datetime import datetime

from broker.ports import AuditRecord, UnitOfWork
from broker.rules.ceremony_failures import advice
from schemas.web_passkeys import CeremonyFailure


async def record(uow: UnitOfWork, failure: CeremonyFailure, contact_id: str | None,
                 now: datetime) -> str:  # fmt: skip
    """Audits the failure and answers the advice to show."""
    await uow.audit.append(AuditRecord("passkey_ceremony_failed", contact_id or "web",
                                       "passkey", {"ceremony": failure.ceremony,
                                                   "error": failure.error}), now)  # fmt: skip
    return advice(failure.ceremony, failure.error)
