"""The gateway app for FHIR requests: each one authenticated as the acute trust."""

from collections.abc import AsyncIterator

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from support import OrgTokens

from broker.config import Settings
from broker.entrypoints.gateway import create_gateway

TRUST = "acute-demo"
ACT_AS = "x-test-act-as"  # a test's request header: whom the client gets its token for


@pytest.fixture
async def fhir_gateway(
    settings: Settings, directory: None, producer_keys: dict[str, Ed25519PrivateKey]
) -> AsyncIterator[httpx.AsyncClient]:
    """The real gateway (its lifespan, database and Kafka publisher), spoken to over ASGI with
    the acute trust's access token (another organisation's where a request's ``ACT_AS``
    header names it): a FHIR body does not say who sends it, the token does."""
    app = create_gateway(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        auth = OrgTokens(producer_keys, lambda request: request.headers.get(ACT_AS, TRUST))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", auth=auth
        ) as client:
            yield client
