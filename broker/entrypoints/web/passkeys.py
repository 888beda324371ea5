"""The web inbox's passkey pages and the JSON routes their script (static/js/passkey.js) calls:
enrol after a sign-in link, sign in, and enrol anew with the printed recovery key (a lost
passkey replaced, or a second device added).

    GET  /inbox/passkeys/enrol                    a link's session: choose the key file, create
    POST /inbox/passkeys/registration/options     ... the ceremony's options (CSRF header)
    POST /inbox/passkeys/registration             ... the passkey and the wrapped keys
    GET  /inbox/passkeys/sign-in                  anyone
    POST /inbox/passkeys/authentication/options
    POST /inbox/passkeys/authentication           a session, and the key wrapped under the PRF
    GET  /inbox/passkeys/recovery                 anyone with a recovery key
    POST /inbox/passkeys/recovery/options         the person's options and recovery-wrapped key
    POST /inbox/passkeys/recovery                 the new passkey, in place of the old ones
                                                  (or beside them: ``keep_others``)
    POST /inbox/passkeys/ceremony-failed          a ceremony the browser gave up on: audited,
                                                  answered with what to do next (CSRF header:
                                                  the session's, or the page's double-submit)

The JSON routes take ``application/json`` only, and refuse another site's ``Origin``: a form
on another site can send neither (and the cookie is ``SameSite=Strict`` besides). A refused
ceremony is one fixed answer (400), audited by the service; a body that is not the contract
is a 422 naming no value.
"""

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.entrypoints.web import pages, sessions
from broker.ports import UnitOfWork, WebSessionRecord
from broker.services import passkey_failures, web_passkeys, web_sign_in
from broker.services.web_passkeys import PasskeyRefused, RecoveryKeyRefused, RelyingParty
from schemas.common import Contract
from schemas.web_passkeys import (
    CeremonyFailure,
    CredentialAnswer,
    EnrolmentAnswer,
    RecoveryAnswer,
    RecoveryLookup,
)

C = TypeVar("C", bound=Contract)
T = TypeVar("T")
NO_STORE = {"cache-control": "no-store"}


class NotJson(Exception):
    """The body is not this route's contract, or did not come as this site's JSON."""


def add_passkey_routes(app: FastAPI) -> None:
    base = "/inbox/passkeys"
    routes: list[tuple[str, Any, str]] = [
        (f"{base}/enrol", enrol_page, "GET"),
        (f"{base}/registration/options", registration_options, "POST"),
        (f"{base}/registration", registration, "POST"),
        (f"{base}/sign-in", sign_in_page, "GET"),
        (f"{base}/authentication/options", authentication_options, "POST"),
        (f"{base}/authentication", authentication, "POST"),
        (f"{base}/recovery", recovery_page, "GET"),
        (f"{base}/recovery/options", recovery_options, "POST"),
        (f"{base}/recovery", recovery, "POST"),
        (f"{base}/ceremony-failed", ceremony_failed, "POST"),
    ]
    for path, endpoint, method in routes:
        app.add_api_route(path, endpoint, methods=[method], include_in_schema=False)
    app.add_exception_handler(PasskeyRefused, _refused)  # type: ignore[arg-type]
    app.add_exception_handler(NotJson, _not_json)


async def enrol_page(request: Request) -> Response:
    session = await sessions.signed_in(request, enrolling=True)
    async with _unit(request) as uow:
        [contact] = await uow.directory_rows.select_in("contacts", "id", [session.contact_id])
    return pages.render(request, "passkey_enrol.html", session, key_id=contact["key_id"],
                        contact_id=session.contact_id)  # fmt: skip


async def registration_options(request: Request) -> Response:
    session = await _posted(request, enrolling=True)
    options = await _in_unit(
        request, lambda uow: web_passkeys.registration_options(uow, _rp(request), session, _now())
    )
    return _json({"publicKey": options.public_key})


async def registration(request: Request) -> Response:
    session = await _posted(request, enrolling=True)
    answer = await _body(request, EnrolmentAnswer)
    started = await _in_unit(
        request, lambda uow: web_passkeys.enrol(uow, _rp(request), session, answer, _now())
    )
    return _signed_in(request, started, {"next": "/inbox"})


async def sign_in_page(request: Request) -> Response:
    return _before_session(request, "passkey_sign_in.html")


async def authentication_options(request: Request) -> Response:
    _same_site(request)
    options = await _in_unit(
        request, lambda uow: web_passkeys.authentication_options(uow, _rp(request), _now())
    )
    return _json({"publicKey": options.public_key})


async def authentication(request: Request) -> Response:
    answer = await _body(request, CredentialAnswer)
    done = await _in_unit(
        request, lambda uow: web_passkeys.sign_in(uow, _rp(request), answer, _now())
    )
    contact_id = done.started.session.contact_id  # the wrapped key's associated data
    body = {"next": "/inbox", "contact_id": contact_id, "wrapped_key": json.loads(done.wrapped_key)}
    if done.added:  # shown first, before any notice a link asked for: was it them?
        body |= {"next": "/inbox/passkeys?added=1", "check_passkeys": True}
    return _signed_in(request, done.started, body)


async def recovery_page(request: Request) -> Response:
    return _before_session(request, "passkey_recovery.html")


async def ceremony_failed(request: Request) -> Response:
    """The browser's WebAuthn call rejected: audited, by kind and error name only."""
    failure = await _body(request, CeremonyFailure)
    session = await _reporting_session(request, request.headers.get("x-csrf-token"))
    contact_id = session.contact_id if session else None
    advice = await _in_unit(
        request, lambda uow: passkey_failures.record(uow, failure, contact_id, _now())
    )
    return _json({"advice": advice})


async def _reporting_session(request: Request, given: str | None) -> WebSessionRecord | None:
    """The session whose token the report carries (the enrolment page's); else none, and
    the token must be the page's double-submitted one (sign-in, recovery)."""
    try:
        session = await sessions.signed_in(request, enrolling=True)
        sessions.check_csrf(session, given)
    except (sessions.NotSignedIn, sessions.CsrfRefused):
        sessions.check_passkey_page_csrf(request, given)
        return None
    return session


def _before_session(request: Request, template: str) -> Response:
    """A page used before any session: its reports carry a double-submitted CSRF token."""
    csrf = sessions.passkey_page_csrf(request)
    response = pages.render(request, template, None, page_csrf=csrf)
    sessions.set_passkey_page_csrf(response, pages.runtime(request).settings, csrf)
    return response


async def recovery_options(request: Request) -> Response:
    given = await _body(request, RecoveryLookup)
    options = await _in_unit(
        request, lambda uow: web_passkeys.recovery_options(uow, _rp(request), given, _now())
    )
    return _json({"publicKey": options.public_key, "contact_id": options.contact_id,
                  "wrapped_key": json.loads(options.wrapped_key or "null")})  # fmt: skip


async def recovery(request: Request) -> Response:
    answer = await _body(request, RecoveryAnswer)
    started = await _in_unit(
        request, lambda uow: web_passkeys.recover(uow, _rp(request), answer, _now())
    )
    # A device added: the person sees their passkeys, every one, to check none is unknown.
    return _signed_in(request, started, {"next": "/inbox/passkeys" if answer.keep_others
                                         else "/inbox"})  # fmt: skip


async def _in_unit(request: Request, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    """The work in one unit of work, committed even when a ceremony is refused: the refusal
    is audited and its challenge stays spent."""
    async with _unit(request) as uow:
        try:
            return await work(uow)
        except PasskeyRefused as exc:
            refused = exc
    raise refused


async def _posted(request: Request, enrolling: bool) -> WebSessionRecord:
    _same_site(request)
    session = await sessions.signed_in(request, enrolling=enrolling)
    sessions.check_csrf(session, request.headers.get("x-csrf-token"))
    return session


async def _body(request: Request, contract: type[C]) -> C:
    _same_site(request)
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise NotJson("send application/json")
    try:
        return contract.model_validate_json(await request.body())
    except ValidationError as exc:
        raise NotJson("the request is not what this route takes") from exc


def _same_site(request: Request) -> None:
    origin = request.headers.get("origin")
    if origin is not None and origin != _rp(request).origin:
        raise NotJson("a request from another site")


def _signed_in(request: Request, started: web_sign_in.Started, body: dict[str, Any]) -> Response:
    response = _json(body)
    sessions.set_session_cookie(response, pages.runtime(request).settings, started.session_id)
    return response


def _json(body: dict[str, Any], status_code: int = 200) -> Response:
    return JSONResponse(body, status_code=status_code, headers=pages.HEADERS | NO_STORE)


# One answer for every refused ceremony (nothing told apart for whoever probes); it says what
# to do when trying again keeps failing, as for a passkey an administrator or a replacement
# removed.
PASSKEY_REFUSED = (
    "This passkey could not be used. Try again. If it keeps happening, your passkey may have "
    "been removed: use your recovery key to set up a new one, or ask your administrator."
)
RECOVERY_KEY_REFUSED = (
    "This recovery key cannot be used. Check that you typed it as printed. If it is right, it "
    "may have been replaced, or someone else may have used it: ask your administrator to set "
    "up your access again."
)


async def _refused(_request: Request, exc: PasskeyRefused) -> Response:
    if isinstance(exc, RecoveryKeyRefused):  # trying again will not help: someone must act
        return _json({"error": RECOVERY_KEY_REFUSED}, status_code=400)
    return _json({"error": PASSKEY_REFUSED}, status_code=400)


async def _not_json(_request: Request, exc: Exception) -> Response:
    return _json({"error": str(exc)}, status_code=422)


def _rp(request: Request) -> RelyingParty:
    return RelyingParty.of(pages.runtime(request).settings.inbox_base_url)


def _now() -> datetime:
    return datetime.now(UTC)


def _unit(request: Request) -> SqlUnitOfWork:
    return pages.runtime(request).unit_of_work()
