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

``SCHEME`` declares all this to the OpenAPI document (the OAuth2 client credentials flow and
its scopes; each route's scope through ``requires``); the token endpoint's form and answers
are declared in ``TOKEN_DOCS``. Once the token holds, ``requires`` has the route's JSON body
judged (json_bodies.py): a stranger is told 401 whatever it sent.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from fastapi import APIRouter, Depends, FastAPI, Request, Security
from fastapi.responses import JSONResponse
from fastapi.security import OAuth2
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.adapters import db, refusals, tokens
from broker.adapters.directory import SqlDirectory
from broker.adapters.tokens import MalformedAssertion, NotAuthenticated, Principal
from broker.entrypoints import http_errors, json_bodies, limits
from broker.errors import NotAuthorised
from broker.rules.family import OrgKind
from broker.rules.scopes import ADMIN, FRONT_DOOR, PUBLISH, READ_NOTICES, scopes_for
from producers import crypto

router = APIRouter()
GRANT_PATH = "/v1/oauth/token"
SCOPES = {
    PUBLISH: "publish events (every organisation)",
    READ_NOTICES: "read the notices of the organisation's own recipients, and send receipts",
    FRONT_DOOR: "a local authority front door's queue, chronologies and decisions",
    ADMIN: "change the directory (the partnership's administrators)",
}
# Declared for the OpenAPI document (securitySchemes, each operation's scopes); it reads the
# Authorization header and nothing else: ``requires`` decides, as before.
SCHEME = OAuth2(
    flows={"clientCredentials": {"tokenUrl": GRANT_PATH, "scopes": SCOPES}},
    scheme_name="OAuth2",
    description="The client credentials grant with a private_key_jwt client assertion "
    "(RFC 7523: an EdDSA JWT signed with one of the organisation's signing keys, its audience "
    "this token endpoint's URL), posted form-encoded to the token endpoint; the access token "
    "is sent as Authorization: Bearer <token>. An organisation's scopes follow from its kind.",
    auto_error=False,
)


class ClientAssertionForm(BaseModel):
    """The token endpoint's form fields (application/x-www-form-urlencoded)."""

    grant_type: Literal["client_credentials"]
    client_assertion_type: Literal["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"]
    client_assertion: str = Field(
        description="a compact JWS (EdDSA): iss and sub the organisation's id, aud this "
        "endpoint's URL, a unique jti, exp within minutes; kid the signing key's id"
    )


class TokenGranted(BaseModel):
    access_token: str = Field(description="a compact JWS (EdDSA), short-lived")
    token_type: Literal["Bearer"]
    expires_in: int = Field(description="seconds")
    scope: str = Field(description="the granted scopes, space-separated")


class OAuthError(BaseModel):
    """RFC 6749 section 5.2: the token endpoint's refusals (not problem details)."""

    error: Literal["invalid_request", "invalid_client", "unsupported_grant_type"]


_OAUTH_ERROR = {"content": {"application/json": {"schema": OAuthError.model_json_schema()}}}
TOKEN_DOCS: dict[str, Any] = {
    "summary": "An access token for a client assertion",
    "tags": ["Authentication"],
    "response_model": TokenGranted,
    "responses": {
        400: {"description": "a body that is not form text, a grant other than "
              "client_credentials, or an assertion whose claims have the wrong types",
              **_OAUTH_ERROR},
        401: {"description": "an assertion that does not hold (signature, key, audience, "
              "expiry, a jti used before) or a wrong assertion type", **_OAUTH_ERROR},
        413: http_errors.problem_response(413),
        429: http_errors.problem_response(429),
    },
    "openapi_extra": {"requestBody": {"required": True, "content": {
        "application/x-www-form-urlencoded": {"schema": ClientAssertionForm.model_json_schema()}
    }}},
}  # fmt: skip


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


@router.post(GRANT_PATH, **TOKEN_DOCS)
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
        request: Request, authorization: Annotated[str | None, Security(SCHEME, scopes=[scope])]
    ) -> Principal:
        kind, _, credential = (authorization or "").partition(" ")
        if kind.lower() != "bearer" or not credential:
            raise NotAuthenticated("send an access token: Authorization: Bearer <token>")
        caller = tokens.verify_access(credential, request.app.state.auth.public)
        request.state.caller = caller.org_id  # for the refusal's record, should one follow
        if scope not in caller.scopes:
            raise NotAuthorised("this organisation's token does not allow that")
        await limits.check_organisation(request, caller.org_id)
        await json_bodies.check(request)  # once the caller is known: 415, strict 422
        return caller

    return principal


Publisher = Annotated[Principal, Depends(requires(PUBLISH))]
NoticeReader = Annotated[Principal, Depends(requires(READ_NOTICES))]
FrontDoor = Annotated[Principal, Depends(requires(FRONT_DOOR))]
Administrator = Annotated[Principal, Depends(requires(ADMIN))]


async def _unauthenticated(request: Request, exc: NotAuthenticated) -> JSONResponse:
    await record_refusal(request, 401)
    return http_errors.problem(401, str(exc), headers={"www-authenticate": "Bearer"})


async def _forbidden(request: Request, exc: NotAuthorised) -> JSONResponse:
    await record_refusal(request, 403)
    return http_errors.problem(403, str(exc))


async def _too_many(request: Request, _exc: limits.TooManyRequests) -> JSONResponse:
    await record_refusal(request, 429)
    return http_errors.problem(429, "too many requests from this organisation: slow down",
                               headers={"retry-after": "1"})  # fmt: skip


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
