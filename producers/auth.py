"""Credentials for an agency's system calling the broker's HTTP APIs (httpx).

    client = httpx.Client(base_url=broker_url, auth=OrganisationAuth("mh-demo", signing_key))

It proves the organisation with a client assertion signed by its own Ed25519 key (OAuth2
client credentials with ``private_key_jwt``: no shared secret), keeps the short-lived access
token it gets back, and fetches a new one shortly before that expires.
"""

import time
from collections.abc import Generator

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from broker.adapters import crypto, tokens

REFRESH_MARGIN_S = 30


class OrganisationAuth(httpx.Auth):
    requires_response_body = True

    def __init__(self, org_id: str, signing_key: Ed25519PrivateKey) -> None:
        self.org_id, self.key = org_id, signing_key
        self.token: str | None = None
        self.expires_at = 0.0

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self.token is None or time.monotonic() > self.expires_at - REFRESH_MARGIN_S:
            answer = yield self._token_request(request.url.join("/v1/oauth/token"))
            answer.raise_for_status()
            granted = answer.json()
            self.token = str(granted["access_token"])
            self.expires_at = time.monotonic() + float(granted["expires_in"])
        request.headers["authorization"] = f"Bearer {self.token}"
        yield request

    def _token_request(self, url: httpx.URL) -> httpx.Request:
        key_id = crypto.key_id(self.key.public_key())
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": tokens.ASSERTION_TYPE,
            # The audience is the endpoint itself: an assertion made for one service is
            # worth nothing at another.
            "client_assertion": tokens.assertion(self.org_id, self.key, key_id, str(url)),
        }
        return httpx.Request("POST", url, data=form)
