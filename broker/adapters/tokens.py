"""Access tokens (OAuth2 client credentials with ``private_key_jwt``), through PyJWT.

An organisation proves who it is with a short JWT assertion signed by its own registered
Ed25519 key (RFC 7523): no shared secret exists anywhere. The broker answers with a short-lived
access token, a JWT it signs with its token key. Only EdDSA is accepted, in both directions;
issuer, audience, expiry and key id are always checked. An assertion's audience is the URL of
the token endpoint it is sent to, so one made for another service is no use here; its ``jti``
is remembered by the database until it expires (``Remember``), so it gets a token once.

    BrokerError
     └── NotAuthenticated       no credential, or one that does not hold: 401
          └── MalformedAssertion  an assertion whose claims are not even of the right types: 400

(A valid credential for something it does not allow is ``broker.errors.NotAuthorised``, a 403:
the services refuse that, with no token library.)
"""

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from jwt.types import Options

from broker.errors import BrokerError
from producers.auth import ASSERTION_TYPE as ASSERTION_TYPE

ALGORITHMS = ["EdDSA"]  # pinned: a token with any other algorithm is refused
ISSUER = "safeguarding-broker"
API_AUDIENCE = "safeguarding-broker-api"
TOKEN_LIFETIME_S = 300
ASSERTION_MAX_LIFETIME_S = 300


class NotAuthenticated(BrokerError):
    """No credential, or one that does not hold: a 401."""


class MalformedAssertion(NotAuthenticated):
    """An assertion whose claims are missing their types (a string ``exp``): a 400."""


@dataclass(frozen=True)
class Principal:
    org_id: str
    scopes: frozenset[str]


KeyLookup = Callable[[str, str], Awaitable[Ed25519PublicKey]]
# Records an assertion id until it expires (Unix seconds); False when it was recorded before.
Remember = Callable[[str, int], Awaitable[bool]]
MAX_JTI_CHARS = 200  # the column that remembers it


async def verify_assertion(
    token: str, find_key: KeyLookup, audiences: list[str], remember: Remember
) -> str:
    """The organisation the assertion proves, once its own key, audience (one of
    ``audiences``: this token endpoint's URLs), lifetime and single use hold."""
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise NotAuthenticated("the client assertion does not hold") from exc
    _check_types(unverified)
    org_id = unverified["iss"]
    try:
        key = await find_key(org_id, str(header.get("kid", "")))
        required: Options = {"require": ["exp", "iat", "jti", "sub"]}
        claims = jwt.decode(token, key, algorithms=ALGORITHMS, audience=audiences,
                            issuer=org_id, options=required)  # fmt: skip
    except (jwt.PyJWTError, BrokerError) as exc:
        raise NotAuthenticated("the client assertion does not hold") from exc
    exp, iat, jti = claims["exp"], claims["iat"], claims["jti"]
    if claims["sub"] != org_id or exp - iat > ASSERTION_MAX_LIFETIME_S:
        raise NotAuthenticated("the client assertion does not hold")
    if len(jti) > MAX_JTI_CHARS or not await remember(jti, int(exp)):
        raise NotAuthenticated("this client assertion was used before")
    return str(org_id)


def _check_types(claims: dict[str, object]) -> None:
    """Claims of the wrong type are a malformed request, not a failed proof (nor a crash)."""
    times_ok = all(_seconds(claims.get(name, 0)) for name in ("exp", "iat"))
    strings_ok = all(isinstance(claims.get(name, ""), str) for name in ("iss", "sub", "jti"))
    if not (times_ok and strings_ok):
        raise MalformedAssertion("exp and iat must be numbers of seconds; iss, sub, jti text")
    if "iss" not in claims:
        raise NotAuthenticated("the client assertion does not hold")


def _seconds(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def issue(org_id: str, scopes: frozenset[str], key: Ed25519PrivateKey, key_id: str) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "sub": org_id, "aud": API_AUDIENCE, "iat": now,
              "exp": now + TOKEN_LIFETIME_S, "scope": " ".join(sorted(scopes)),
              "jti": str(uuid.uuid4())}  # fmt: skip
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": key_id})


def verify_access(token: str, key: Ed25519PublicKey) -> Principal:
    try:
        required: Options = {"require": ["exp", "sub", "scope"]}
        claims = jwt.decode(token, key, algorithms=ALGORITHMS, audience=API_AUDIENCE,
                            issuer=ISSUER, options=required)  # fmt: skip
    except jwt.PyJWTError as exc:
        raise NotAuthenticated("the access token does not hold") from exc
    return Principal(str(claims["sub"]), frozenset(str(claims["scope"]).split()))
