"""Authentication and authorisation on the HTTP APIs, through the real apps and database."""

import json
import time
import uuid

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from broker.adapters import audit, tokens
from broker.bootstrap import Runtime
from producers import crypto
from producers.auth import token_request

pytestmark = pytest.mark.integration

Keys = dict[str, Ed25519PrivateKey]
SCHOOL_INBOX = "/v1/recipients/school-oakfield:key_adult/notices"
INBOX_ROUTE = "/v1/recipients/{recipient_id}/notices"  # what a refusal records: the template


def access_token(key: Ed25519PrivateKey, algorithm: str = "EdDSA", **changes: object) -> str:
    now = int(time.time())
    claims = {"iss": tokens.ISSUER, "sub": "school-oakfield", "aud": tokens.API_AUDIENCE,
              "iat": now, "exp": now + 60, "scope": "notices:read", **changes}  # fmt: skip
    return jwt.encode(claims, key, algorithm=algorithm)


def front_door_asks(inbox: httpx.AsyncClient, keys: Keys) -> httpx.Request:
    url = inbox.base_url.join("/v1/oauth/token")
    return token_request(url, "la-front-door", keys["la-front-door"])


async def refusals(rt: Runtime) -> list[tuple[str, int]]:
    async with rt.sessions() as session:
        rows = (await session.scalars(
            select(audit.AuditEntry).where(audit.AuditEntry.action == "access_refused")
        )).all()  # fmt: skip
    return [(r.subject_ref, json.loads(r.details)["status"]) for r in rows]


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


class TestTokenEndpoint:
    async def test_organisation_gets_a_token_with_its_scopes(
        self, inbox: httpx.AsyncClient, producer_keys: Keys
    ) -> None:
        """A front door proving itself with its own key gets a short-lived token."""
        url = inbox.base_url.join("/v1/oauth/token")
        answer = await inbox.send(
            token_request(url, "la-front-door", producer_keys["la-front-door"])
        )
        assert answer.status_code == 200
        granted = answer.json()
        assert granted["token_type"] == "Bearer"
        assert granted["expires_in"] == 300
        assert set(granted["scope"].split()) == {"events:publish", "notices:read", "front-door"}

    async def test_assertion_by_an_unregistered_key_is_refused(
        self, inbox: httpx.AsyncClient
    ) -> None:
        """Only the organisation's registered key proves it."""
        url = inbox.base_url.join("/v1/oauth/token")
        answer = await inbox.send(token_request(url, "la-front-door", Ed25519PrivateKey.generate()))
        assert answer.status_code == 401
        assert answer.json() == {"error": "invalid_client"}

    async def test_an_assertion_works_once(
        self, inbox: httpx.AsyncClient, producer_keys: Keys
    ) -> None:
        """A replayed client assertion is refused."""
        request = token_request(inbox.base_url.join("/v1/oauth/token"), "la-front-door",
                                producer_keys["la-front-door"])  # fmt: skip
        first = await inbox.send(request)
        again = await inbox.send(token_request(request.url, "la-front-door",
                                               producer_keys["la-front-door"]))  # fmt: skip
        form = {"content-type": request.headers["content-type"]}
        replay = await inbox.post(request.url, content=request.content, headers=form)
        assert (first.status_code, again.status_code, replay.status_code) == (200, 200, 401)

    async def test_other_grants_are_unsupported(self, inbox: httpx.AsyncClient) -> None:
        """Only the client credentials grant is offered."""
        answer = await inbox.post("/v1/oauth/token", data={"grant_type": "password"}, auth=None)
        assert answer.status_code == 400


class TestAccessTokens:
    async def test_missing_token_is_401(
        self, inbox: httpx.AsyncClient, running_broker: Runtime
    ) -> None:
        """No token, no inbox; the answer says how to authenticate; the refusal is audited."""
        answer = await inbox.get(SCHOOL_INBOX, auth=None)
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"] == "Bearer"
        assert await refusals(running_broker) == [(INBOX_ROUTE, 401)]

    async def test_expired_token_is_401(
        self, inbox: httpx.AsyncClient, running_broker: Runtime
    ) -> None:
        """A token past its expiry is refused."""
        expired = access_token(running_broker.keys.token, exp=int(time.time()) - 10)
        assert (await inbox.get(SCHOOL_INBOX, headers=bearer(expired))).status_code == 401

    async def test_token_signed_by_another_key_is_401(self, inbox: httpx.AsyncClient) -> None:
        """A well-formed token the broker did not sign is refused."""
        forged = access_token(Ed25519PrivateKey.generate())
        assert (await inbox.get(SCHOOL_INBOX, headers=bearer(forged))).status_code == 401

    @pytest.mark.parametrize("algorithm", ["HS256", "none"])
    async def test_token_with_another_algorithm_is_401(
        self, inbox: httpx.AsyncClient, algorithm: str
    ) -> None:
        """The algorithm is pinned to EdDSA: an HMAC or unsigned token is refused."""
        key = b"a-secret-someone-guessed-0123456789" if algorithm == "HS256" else None
        claims = {"iss": tokens.ISSUER, "sub": "school-oakfield", "aud": tokens.API_AUDIENCE,
                  "exp": int(time.time()) + 60, "scope": "notices:read"}  # fmt: skip
        token = jwt.encode(claims, key, algorithm=algorithm)  # type: ignore[arg-type]
        assert (await inbox.get(SCHOOL_INBOX, headers=bearer(token))).status_code == 401


class TestAuthorisation:
    async def test_reading_another_organisations_inbox_is_403(
        self, inbox: httpx.AsyncClient, running_broker: Runtime
    ) -> None:
        """A GP practice cannot read a school's inbox, even with a valid token."""
        gp = access_token(running_broker.keys.token, sub="gp-riverside")
        assert (await inbox.get(SCHOOL_INBOX, headers=bearer(gp))).status_code == 403
        assert await refusals(running_broker) == [(INBOX_ROUTE, 403)]

    async def test_chronology_is_for_front_doors_only(
        self, inbox: httpx.AsyncClient, running_broker: Runtime
    ) -> None:
        """A school's token does not open a household's chronology."""
        school = access_token(running_broker.keys.token)
        answer = await inbox.get("/v1/households/h-carter/chronology", headers=bearer(school))
        assert answer.status_code == 403

    async def test_a_front_door_reads_only_its_own_queue(
        self, inbox: httpx.AsyncClient, running_broker: Runtime
    ) -> None:
        """One front door cannot read another's matching queue."""
        other = access_token(running_broker.keys.token, sub="other-front-door",
                             scope="front-door notices:read")  # fmt: skip
        answer = await inbox.get("/v1/front-doors/la-front-door/matching-queue",
                                 headers=bearer(other))  # fmt: skip
        assert answer.status_code == 403

    async def test_publishing_another_organisations_event_is_403(
        self, gateway: httpx.AsyncClient, producer_keys: Keys
    ) -> None:
        """The acute trust's token cannot carry the mental health service's event."""
        from support import OrgTokens, post_signed

        event = {"event_type": "service_withdrawal", "event_id": str(uuid.uuid4()),
                 "source_org": "mh-demo", "occurred_at": "2026-11-20T10:00:00+00:00",
                 "subject": {"nhs_number": "9990000018"}, "service": "x",
                 "reason": "completed", "withdrawn_on": "2026-11-20"}  # fmt: skip
        gateway.auth = OrgTokens(producer_keys, lambda _request: "acute-demo")
        answer = await post_signed(gateway, event, producer_keys)
        assert answer.status_code == 403

    async def test_token_key_id_names_the_broker_token_key(
        self, inbox: httpx.AsyncClient, producer_keys: Keys, running_broker: Runtime
    ) -> None:
        """Issued tokens carry the id of the key that signed them, for rotation."""
        url = inbox.base_url.join("/v1/oauth/token")
        answer = await inbox.send(
            token_request(url, "la-front-door", producer_keys["la-front-door"])
        )
        header = jwt.get_unverified_header(answer.json()["access_token"])
        assert header["alg"] == "EdDSA"
        assert header["kid"] == crypto.key_id(running_broker.keys.token.public_key())
