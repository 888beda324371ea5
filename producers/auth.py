"""Credentials for an agency's system calling the broker's HTTP APIs (httpx).

    client = httpx.Client(base_url=broker_url, auth=OrganisationAuth("mh-demo", signing_key))

It proves the organisation with a client assertion signed by its own Ed25519 key (OAuth2
client credentials with ``private_key_jwt``: no shared secret), keeps the short-lived access
token it gets back, and fetches a new one shortly before that expires.
"""

import base64
import json
import time
import uuid
from collections.abc import Generator, Mapping

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from producers import crypto

REFRESH_MARGIN_S = 30
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME_S = 60


def assertion(org_id: str, key: Ed25519PrivateKey, key_id: str, audience: str) -> str:
    """What an organisation's system sends to get a token: a JWT (RFC 7519) signed with its
    own key (EdDSA, RFC 8037); ``audience`` is the URL of the token endpoint it is sent to.
    Made here from ``cryptography`` alone, so the package needs no JWT library."""
    now = int(time.time())
    claims = {"iss": org_id, "sub": org_id, "aud": audience, "iat": now,
              "exp": now + ASSERTION_LIFETIME_S, "jti": str(uuid.uuid4())}  # fmt: skip
    header = {"alg": "EdDSA", "kid": key_id, "typ": "JWT"}
    signing_input = f"{_b64url_json(header)}.{_b64url_json(claims)}"
    signature = base64.urlsafe_b64encode(key.sign(signing_input.encode())).rstrip(b"=")
    return f"{signing_input}.{signature.decode()}"


def _b64url_json(value: Mapping[str, object]) -> str:
    text = json.dumps(value, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(text).rstrip(b"=").decode()


class OrganisationAuth(httpx.Auth):
    requires_response_body = True

    def __init__(self, org_id: str, signing_key: Ed25519PrivateKey) -> None:
        self.org_id, self.key = org_id, signing_key
        self.token: str | None = None
        self.expires_at = 0.0

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self.token is None or time.monotonic() > self.expires_at - REFRESH_MARGIN_S:
            answer = yield token_request(request.url.join("/v1/oauth/token"), self.org_id, self.key)
            answer.raise_for_status()
            granted = answer.json()
            self.token = str(granted["access_token"])
            self.expires_at = time.monotonic() + float(granted["expires_in"])
        request.headers["authorization"] = f"Bearer {self.token}"
        yield request


def token_request(url: httpx.URL, org_id: str, key: Ed25519PrivateKey) -> httpx.Request:
    """The request for the organisation's access token at the token endpoint ``url``, with a
    client assertion signed by its own key (private_key_jwt)."""
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        # The audience is the endpoint itself: an assertion made for one service is
        # worth nothing at another.
        "client_assertion": assertion(org_id, key, crypto.key_id(key.public_key()), str(url)),
    }
    return httpx.Request("POST", url, data=form)
