"""Authentication and authorisation for every HTTP API: the token endpoint and the checks.

``POST /v1/oauth/token`` takes the client credentials grant with a ``private_key_jwt``
assertion (form-encoded, RFC 6749 and RFC 7523) and answers a short-lived EdDSA access token
carrying the organisation's scopes. Every other route (but ``/health``) names the scope it
needs with ``requires(...)``; a missing or bad token is a 401, a wrong scope a 403.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import parse_qs

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from fastapi import APIRouter, Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.adapters import audit, crypto, db, tokens
from broker.adapters.directory import SqlDirectory
from broker.adapters.tokens import NotAuthenticated, NotAuthorised, Principal
from broker.rules.family import OrgKind
from broker.rules.scopes import ADMIN, FRONT_DOOR, PUBLISH, READ_NOTICES, scopes_for

router = APIRouter()


def context_for(
    sessions: async_sessionmaker[AsyncSession], token_key: Ed25519PrivateKey,
    administrators: list[str],
) -> "AuthContext":  # fmt: skip
    return AuthContext(sessions, token_key, frozenset(administrators))


@dataclass
class AuthContext:
    sessions: async_sessionmaker[AsyncSession]
    token_key: Ed25519PrivateKey
    administrators: frozenset[str]
    replays: tokens.ReplayGuard = field(default_factory=tokens.ReplayGuard)

    @property
    def public(self) -> Ed25519PublicKey:
        return self.token_key.public_key()


def install(app: FastAPI) -> None:
    """The token endpoint and the error answers; the app's lifespan sets ``app.state.auth``."""
    app.include_router(router)
    app.add_exception_handler(NotAuthenticated, _unauthenticated)  # type: ignore[arg-type]
    app.add_exception_handler(NotAuthorised, _forbidden)  # type: ignore[arg-type]


@router.post("/v1/oauth/token")
async def token(request: Request) -> JSONResponse:
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
    if form.get("grant_type") != "client_credentials":
        return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
    if form.get("client_assertion_type") != tokens.ASSERTION_TYPE:
        return JSONResponse({"error": "invalid_client"}, status_code=401)
    context: AuthContext = request.app.state.auth
    async with context.sessions() as session:
        directory = SqlDirectory(session)

        async def find_key(org_id: str, key_id: str) -> Ed25519PublicKey:
            return await directory.signing_key(org_id, key_id, datetime.now(UTC))

        try:
            org_id = await tokens.verify_assertion(
                form.get("client_assertion", ""), find_key, context.replays
            )
        except NotAuthenticated:
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        org = await session.get(db.Organisation, org_id)
    if org is None:
        return JSONResponse({"error": "invalid_client"}, status_code=401)
    scopes = scopes_for(OrgKind(org.kind), org_id in context.administrators)
    issued = tokens.issue(org_id, scopes, context.token_key, crypto.key_id(context.public))
    body = {"access_token": issued, "token_type": "Bearer",
            "expires_in": tokens.TOKEN_LIFETIME_S, "scope": " ".join(sorted(scopes))}  # fmt: skip
    return JSONResponse(body, headers={"cache-control": "no-store"})


def requires(scope: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the calling organisation, once its token holds and grants ``scope``."""

    async def principal(
        request: Request, authorization: Annotated[str | None, Header()] = None
    ) -> Principal:
        kind, _, credential = (authorization or "").partition(" ")
        if kind.lower() != "bearer" or not credential:
            raise NotAuthenticated("send an access token: Authorization: Bearer <token>")
        caller = tokens.verify_access(credential, request.app.state.auth.public)
        if scope not in caller.scopes:
            raise NotAuthorised("this organisation's token does not allow that")
        return caller

    return principal


Publisher = Annotated[Principal, Depends(requires(PUBLISH))]
NoticeReader = Annotated[Principal, Depends(requires(READ_NOTICES))]
FrontDoor = Annotated[Principal, Depends(requires(FRONT_DOOR))]
Administrator = Annotated[Principal, Depends(requires(ADMIN))]


async def _unauthenticated(request: Request, exc: NotAuthenticated) -> JSONResponse:
    await _record_refusal(request, 401, "anonymous")
    return JSONResponse({"detail": str(exc)}, status_code=401,
                        headers={"www-authenticate": "Bearer"})  # fmt: skip


async def _forbidden(request: Request, exc: NotAuthorised) -> JSONResponse:
    await _record_refusal(request, 403, "authenticated")
    return JSONResponse({"detail": str(exc)}, status_code=403)


async def _record_refusal(request: Request, status: int, who: str) -> None:
    """Every refused access is audited: which route, which answer (the path names ids only)."""
    context: AuthContext = request.app.state.auth
    async with context.sessions.begin() as session:
        await audit.append(session, "access_refused", who, request.url.path,
                           {"status": status, "method": request.method},
                           datetime.now(UTC))  # fmt: skip
