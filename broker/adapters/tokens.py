"""Access tokens (OAuth2 client credentials with ``private_key_jwt``), through PyJWT.

An organisation proves who it is with a short JWT assertion signed by its own registered
Ed25519 key (RFC 7523): no shared secret exists anywhere. The broker answers with a short-lived
access token, a JWT it signs with its token key. Only EdDSA is accepted, in both directions;
issuer, audience, expiry and key id are always checked.
"""

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from jwt.types import Options

from broker.errors import BrokerError

ALGORITHMS = ["EdDSA"]  # pinned: a token with any other algorithm is refused
ISSUER = "safeguarding-broker"
API_AUDIENCE = "safeguarding-broker-api"
TOKEN_AUDIENCE = "safeguarding-broker-token"  # noqa: S105  a name, not a secret
TOKEN_LIFETIME_S = 300
ASSERTION_MAX_LIFETIME_S = 300
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class NotAuthenticated(BrokerError):
    """No credential, or one that does not hold: a 401."""


class NotAuthorised(BrokerError):
    """A valid credential for something it does not allow: a 403."""


@dataclass(frozen=True)
class Principal:
    org_id: str
    scopes: frozenset[str]


KeyLookup = Callable[[str, str], Awaitable[Ed25519PublicKey]]


def assertion(org_id: str, key: Ed25519PrivateKey, key_id: str) -> str:
    """What an organisation's system sends to get a token (the SDK's side)."""
    now = int(time.time())
    claims = {"iss": org_id, "sub": org_id, "aud": TOKEN_AUDIENCE, "iat": now,
              "exp": now + 60, "jti": str(uuid.uuid4())}  # fmt: skip
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": key_id})


async def verify_assertion(token: str, find_key: KeyLookup, seen: "ReplayGuard") -> str:
    """The organisation the assertion proves, once its own key, lifetime and jti hold."""
    try:
        header = jwt.get_unverified_header(token)
        org_id = jwt.decode(token, options={"verify_signature": False})["iss"]
        key = await find_key(str(org_id), str(header.get("kid", "")))
        required: Options = {"require": ["exp", "iat", "jti", "sub"]}
        claims = jwt.decode(token, key, algorithms=ALGORITHMS, audience=TOKEN_AUDIENCE,
                            issuer=org_id, options=required)  # fmt: skip
    except (jwt.PyJWTError, KeyError, BrokerError) as exc:
        raise NotAuthenticated("the client assertion does not hold") from exc
    if claims["sub"] != org_id or claims["exp"] - claims["iat"] > ASSERTION_MAX_LIFETIME_S:
        raise NotAuthenticated("the client assertion does not hold")
    seen.check(str(claims["jti"]), int(claims["exp"]))
    return str(org_id)


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


class ReplayGuard:
    """Assertion ids seen and not yet expired, per process: an assertion works once."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def check(self, jti: str, expires: int) -> None:
        now = int(time.time())
        self._seen = {k: v for k, v in self._seen.items() if v > now}
        if jti in self._seen:
            raise NotAuthenticated("this client assertion was used before")
        self._seen[jti] = expires
