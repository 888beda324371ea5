"""Authentication and authorisation for every HTTP API: the token endpoint and the checks.

``POST /v1/oauth/token`` takes the client credentials grant with a ``private_key_jwt``
assertion (form-encoded, RFC 6749 and RFC 7523) and answers a short-lived EdDSA access token
carrying the organisation's scopes. Every other route (but ``/health``) names the scope it
needs with ``requires(...)``; a missing or bad token is a 401, a wrong scope a 403, an
organisation past its own rate a 429. A client assertion's audience must be this endpoint's URL
(``token_audiences`` in the settings, or the URL the request came to when none are set), and
each assertion gets a token once, across every process and restart. A body that is not even
text, or an assertion whose claims have the wrong types, is a 400. Refusals are counted and
audited by route template (``broker.adapters.refusals``), never by the path sent.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import parse_qs

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from fastapi import APIRouter, Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.adapters import db, refusals, tokens
from broker.adapters.directory import SqlDirectory
from broker.adapters.tokens import MalformedAssertion, NotAuthenticated, NotAuthorised, Principal
from broker.entrypoints import limits
from broker.rules.family import OrgKind
from broker.rules.scopes import ADMIN, FRONT_DOOR, PUBLISH, READ_NOTICES, scopes_for
from producers import crypto

router = APIRouter()


def context_for(
    sessions: async_sessionmaker[AsyncSession], token_key: Ed25519PrivateKey,
    administrators: list[str], token_audiences: list[str] | None = None,
) -> "AuthContext":  # fmt: skip
    return AuthContext(sessions, token_key, frozenset(administrators),
                       tuple(token_audiences or ()))  # fmt: skip


@dataclass
class AuthContext:
    sessions: async_sessionmaker[AsyncSession]
    token_key: Ed25519PrivateKey
    administrators: frozenset[str]
    token_audiences: tuple[str, ...] = ()  # empty: the URL each request came to

    @property
    def public(self) -> Ed25519PublicKey:
        return self.token_key.public_key()


def install(app: FastAPI) -> None:
    """The token endpoint and the error answers; the app's lifespan sets ``app.state.auth``."""
    app.include_router(router)
    app.add_exception_handler(NotAuthenticated, _unauthenticated)  # type: ignore[arg-type]
    app.add_exception_handler(NotAuthorised, _forbidden)  # type: ignore[arg-type]
    app.add_exception_handler(limits.TooManyRequests, _too_many)  # type: ignore[arg-type]


@router.post("/v1/oauth/token")
async def token(request: Request) -> JSONResponse:
    context: AuthContext = request.app.state.auth
    try:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
    except UnicodeDecodeError:
        return await _token_refused(request, 400, "invalid_request")
    if form.get("grant_type") != "client_credentials":
        return await _token_refused(request, 400, "unsupported_grant_type")
    if form.get("client_assertion_type") != tokens.ASSERTION_TYPE:
        return await _token_refused(request, 401, "invalid_client")
    try:
        org = await _proven(context, form.get("client_assertion", ""), _audiences(request))
    except MalformedAssertion:
        return await _token_refused(request, 400, "invalid_request")
    except NotAuthenticated:
        return await _token_refused(request, 401, "invalid_client")
    scopes = scopes_for(OrgKind(org.kind), org.id in context.administrators)
    issued = tokens.issue(org.id, scopes, context.token_key, crypto.key_id(context.public))
    body = {"access_token": issued, "token_type": "Bearer",
            "expires_in": tokens.TOKEN_LIFETIME_S, "scope": " ".join(sorted(scopes))}  # fmt: skip
    return JSONResponse(body, headers={"cache-control": "no-store"})


async def _proven(context: AuthContext, assertion: str, audiences: list[str]) -> db.Organisation:
    """The organisation the assertion proves; its id is remembered in the same transaction
    that finds the key, so two requests racing with one assertion cannot both pass."""
    async with context.sessions.begin() as session:
        directory = SqlDirectory(session)

        async def find_key(org_id: str, key_id: str) -> Ed25519PublicKey:
            return await directory.signing_key(org_id, key_id, datetime.now(UTC))

        async def remember(jti: str, expires: int) -> bool:
            return await refusals.remember_assertion(session, jti, expires)

        org_id = await tokens.verify_assertion(assertion, find_key, audiences, remember)
        org = await session.get(db.Organisation, org_id)
    if org is None:
        raise NotAuthenticated("no such organisation")
    return org


def _audiences(request: Request) -> list[str]:
    """The URLs an assertion may name: this endpoint's, as configured; failing that, the URL
    the request came to (enough on loopback; behind a proxy, configure them)."""
    configured: tuple[str, ...] = request.app.state.auth.token_audiences
    return list(configured) or [str(request.url.replace(query=None, fragment=None))]


async def _token_refused(request: Request, status: int, error: str) -> JSONResponse:
    await record_refusal(request, status)
    return JSONResponse({"error": error}, status_code=status)


def requires(scope: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the calling organisation, once its token holds and grants ``scope``."""

    async def principal(
        request: Request, authorization: Annotated[str | None, Header()] = None
    ) -> Principal:
        kind, _, credential = (authorization or "").partition(" ")
        if kind.lower() != "bearer" or not credential:
            raise NotAuthenticated("send an access token: Authorization: Bearer <token>")
        caller = tokens.verify_access(credential, request.app.state.auth.public)
        request.state.caller = caller.org_id  # for the refusal's record, should one follow
        if scope not in caller.scopes:
            raise NotAuthorised("this organisation's token does not allow that")
        await limits.check_organisation(request, caller.org_id)
        return caller

    return principal


Publisher = Annotated[Principal, Depends(requires(PUBLISH))]
NoticeReader = Annotated[Principal, Depends(requires(READ_NOTICES))]
FrontDoor = Annotated[Principal, Depends(requires(FRONT_DOOR))]
Administrator = Annotated[Principal, Depends(requires(ADMIN))]


async def _unauthenticated(request: Request, exc: NotAuthenticated) -> JSONResponse:
    await record_refusal(request, 401)
    return JSONResponse({"detail": str(exc)}, status_code=401,
                        headers={"www-authenticate": "Bearer"})  # fmt: skip


async def _forbidden(request: Request, exc: NotAuthorised) -> JSONResponse:
    await record_refusal(request, 403)
    return JSONResponse({"detail": str(exc)}, status_code=403)


async def _too_many(request: Request, _exc: limits.TooManyRequests) -> JSONResponse:
    await record_refusal(request, 429)
    return JSONResponse({"detail": "too many requests from this organisation: slow down"},
                        status_code=429, headers={"retry-after": "1"})  # fmt: skip


def route_of(request: Request) -> str:
    """The template of the route the request matched: ids in it are named, never quoted."""
    route = request.scope.get("route")
    return str(getattr(route, "path", "(no route)"))


async def record_refusal(request: Request, status: int) -> None:
    """Every refused access is counted, and audited once per kind and window."""
    context: AuthContext = request.app.state.auth
    caller = getattr(request.state, "caller", refusals.ANONYMOUS)
    await refusals.record(context.sessions, route_of(request), request.method, status, caller,
                          datetime.now(UTC))  # fmt: skip
