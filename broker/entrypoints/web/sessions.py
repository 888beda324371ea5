"""The web inbox's session cookie and CSRF checks, over services/web_sign_in.py.

The cookie holds only a random session id (the database keeps its hash): ``HttpOnly``,
``SameSite=Strict``, and ``Secure`` under the ``__Host-`` prefix, save on loopback over http
when the settings allow it (tests, the demo). It has no ``Max-Age``: it goes when the browser
closes, and the server ends it sooner (30 minutes idle, 8 hours in all).

Every form carries a CSRF token: the session's own (synchronizer), checked in constant time;
the sign-in form, which comes before any session, a double-submitted one.
"""

import secrets
from datetime import UTC, datetime

from fastapi import Request, Response

from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.bootstrap import Foundation
from broker.config import Settings
from broker.errors import BrokerError
from broker.ports import WebSessionRecord
from broker.rules.passkeys import LinkGrant
from broker.rules.web_sessions import cookie_may_be_insecure
from broker.services import web_sign_in

SIGN_IN_CSRF = "sgb-sign-in-csrf"


class NotSignedIn(BrokerError):
    """No live session: sign in again."""


class CsrfRefused(BrokerError):
    """The form's CSRF token is missing or is not this session's."""


def secure(settings: Settings) -> bool:
    return not cookie_may_be_insecure(settings.inbox_base_url, settings.web_insecure_loopback)


def cookie_name(settings: Settings) -> str:
    # __Host-: only over https, from this host, for the whole site (no Domain may widen it).
    return "__Host-sgb-session" if secure(settings) else "sgb-session"


def set_session_cookie(response: Response, settings: Settings, session_id: str) -> None:
    response.set_cookie(cookie_name(settings), session_id, path="/", secure=secure(settings),
                        httponly=True, samesite="strict")  # fmt: skip


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(cookie_name(settings), path="/", secure=secure(settings),
                           httponly=True, samesite="strict")  # fmt: skip


async def signed_in(request: Request, enrolling: bool = False) -> WebSessionRecord:
    """The request's live session (its idle clock restarted), or ``NotSignedIn``. A link's
    session at a contact that has passkeys is an invitation: good only for ``enrolling``."""
    rt: Foundation = request.app.state.rt
    session_id = request.cookies.get(cookie_name(rt.settings))
    if not session_id:
        raise NotSignedIn("not signed in")
    async with SqlUnitOfWork(rt.sessions) as uow:
        session = await web_sign_in.current(uow, session_id, datetime.now(UTC))
    if session is None:
        raise NotSignedIn("this session has ended")
    if session.signed_in_with == LinkGrant.INVITATION and not enrolling:
        raise NotSignedIn("a sign-in link only enrols a passkey here: sign in with it")
    return session


def check_csrf(session: WebSessionRecord, given: str | None) -> None:
    if not given or not secrets.compare_digest(given.encode(), session.csrf_token.encode()):
        raise CsrfRefused("this form has expired: go back, reload the page and try again")


def sign_in_csrf(request: Request) -> str:
    """The pre-session token for the sign-in form: the cookie's, or a new one."""
    return request.cookies.get(SIGN_IN_CSRF) or secrets.token_urlsafe(32)


def check_sign_in_csrf(request: Request, given: str | None) -> None:
    cookie = request.cookies.get(SIGN_IN_CSRF)
    if not (cookie and given and secrets.compare_digest(cookie.encode(), given.encode())):
        raise CsrfRefused("this form has expired: open your sign-in link again")


def set_sign_in_csrf(response: Response, settings: Settings, token: str) -> None:
    response.set_cookie(SIGN_IN_CSRF, token, path="/inbox/sign-in", secure=secure(settings),
                        httponly=True, samesite="strict", max_age=15 * 60)  # fmt: skip


# The passkey sign-in and recovery pages come before any session too: a failed ceremony's
# report from them carries a double-submitted token, as the sign-in form does.
PASSKEY_CSRF = "sgb-passkey-csrf"


def passkey_page_csrf(request: Request) -> str:
    return request.cookies.get(PASSKEY_CSRF) or secrets.token_urlsafe(32)


def set_passkey_page_csrf(response: Response, settings: Settings, token: str) -> None:
    response.set_cookie(PASSKEY_CSRF, token, path="/inbox/passkeys", secure=secure(settings),
                        httponly=True, samesite="strict", max_age=15 * 60)  # fmt: skip


def check_passkey_page_csrf(request: Request, given: str | None) -> None:
    cookie = request.cookies.get(PASSKEY_CSRF)
    if not (cookie and given and secrets.compare_digest(cookie.encode(), given.encode())):
        raise CsrfRefused("this page has expired: reload it and try again")


# How the session that just signed out had signed in, for the signed-out page to say how to
# sign in again: a cookie for that page alone, for minutes, holding nothing but that word.
SIGNED_OUT_WITH = "sgb-signed-out-with"


def set_signed_out_with(response: Response, settings: Settings, signed_in_with: str) -> None:
    response.set_cookie(SIGNED_OUT_WITH, signed_in_with, path="/inbox/signed-out",
                        secure=secure(settings), httponly=True, samesite="strict",
                        max_age=5 * 60)  # fmt: skip


def signed_out_with(request: Request) -> str | None:
    return request.cookies.get(SIGNED_OUT_WITH)
