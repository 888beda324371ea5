"""Signing in to the web inbox: a one-time link an administrator issues for a contact starts
a server-side session; each request finds it by the id in its cookie; signing out ends it.

Only hashes of the link's token and of the session id are stored: what is in the database
signs nobody in. Every issue, sign-in, refusal and sign-out is audited (ids only). Once the
contact has a passkey, a link starts an ``invitation`` session only, good for enrolling a new
person's passkey (services/web_passkeys.py), which starts a ``passkey`` session.

    BrokerError
      +-- SignInRefused      the link is unknown, used or expired (one answer for all three)
      +-- UnknownContact     no such contact to issue a link for
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from broker.errors import BrokerError
from broker.ports import AuditRecord, SignInLink, UnitOfWork, WebSessionRecord
from broker.rules import web_sessions as rules
from broker.rules.passkeys import link_grants


class SignInRefused(BrokerError):
    """This sign-in link cannot be used: ask for a new one."""


class UnknownContact(BrokerError):
    """No such contact in the directory."""


@dataclass(frozen=True)
class IssuedLink:
    token: str  # in the link only: never stored, never logged
    contact_id: str
    expires_at: datetime


@dataclass(frozen=True)
class Started:
    session_id: str  # in the cookie only
    session: WebSessionRecord


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def issue_link(uow: UnitOfWork, contact_id: str, issued_by: str, now: datetime) -> IssuedLink:
    if not await uow.web_sessions.contact_exists(contact_id):
        raise UnknownContact("no such contact")
    token = secrets.token_urlsafe(32)
    await uow.web_sessions.add_link(SignInLink(digest(token), contact_id, issued_by, now))
    await uow.audit.append(AuditRecord("sign_in_link_issued", issued_by, contact_id, {}), now)
    return IssuedLink(token, contact_id, now + rules.LINK_LIFETIME)


async def sign_in(uow: UnitOfWork, token: str, now: datetime) -> Started:
    """Uses the link (once) and starts a session for its contact. The caller commits either
    way: a refusal is audited."""
    issued_after = now - rules.LINK_LIFETIME
    contact_id = await uow.web_sessions.use_link(digest(token), issued_after, now)
    if contact_id is None:
        await uow.audit.append(AuditRecord("sign_in_refused", "web", "sign_in_link",
                                           {"reason": "unknown_used_or_expired"}), now)  # fmt: skip
        raise SignInRefused("this sign-in link cannot be used: ask for a new one")
    # Once the contact has a passkey, the link only invites a new person to enrol one.
    grant = link_grants(await uow.passkeys.contact_has_passkeys(contact_id))
    return await start(uow, contact_id, grant.value, now)


async def start(uow: UnitOfWork, contact_id: str, signed_in_with: str, now: datetime,
                person_id: str | None = None, credential_id: str | None = None
                ) -> Started:  # fmt: skip
    """A new session for the contact, audited (by the person, once a passkey names one); a
    passkey's session records which passkey opened it, to end with that passkey."""
    session_id = secrets.token_urlsafe(32)
    session = WebSessionRecord(digest(session_id), contact_id, secrets.token_urlsafe(32),
                               signed_in_with, now, now, credential_id=credential_id)  # fmt: skip
    await uow.web_sessions.start(session)
    await uow.audit.append(AuditRecord("signed_in", person_id or contact_id, contact_id,
                                       {"with": signed_in_with}), now)  # fmt: skip
    return Started(session_id, session)


async def current(uow: UnitOfWork, session_id: str, now: datetime) -> WebSessionRecord | None:
    """The live session the cookie names, its idle clock restarted; None when there is
    none (signed out, idle or expired: the person signs in again)."""
    return await uow.web_sessions.touch(digest(session_id), now, rules.idle_cutoff(now),
                                        rules.absolute_cutoff(now))  # fmt: skip


async def suspend(uow: UnitOfWork, contact_id: str, by: str, now: datetime) -> int:
    """An administrator ends the contact's sessions and spends its unused links: its person
    signs in again only with a link issued after this. Answers how many sessions ended."""
    if not await uow.web_sessions.contact_exists(contact_id):
        raise UnknownContact("no such contact")
    ended = await uow.web_sessions.end_all_of(contact_id, now)
    await uow.audit.append(AuditRecord("web_sessions_suspended", by, contact_id,
                                       {"sessions_ended": ended}), now)  # fmt: skip
    return ended


async def sign_out(uow: UnitOfWork, session: WebSessionRecord, now: datetime) -> None:
    if await uow.web_sessions.end(session.id_hash, now):
        await uow.audit.append(AuditRecord("signed_out", session.contact_id,
                                           session.contact_id, {}), now)  # fmt: skip
