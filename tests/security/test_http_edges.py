"""Attacks on the broker's HTTP edges (issue 12: items 9, 11, 18, 19, 20, 23 and 26), each
through the real interface, each refused, audited and changing nothing.

The APIs are started with their lifespan and spoken to over ASGI as the other tests do, or
served by uvicorn on a loopback port where the attack is on the server itself (forwarded
headers); the CLI runs as a subprocess; the webhook attack runs the real router and delivery
worker on the real Kafka broker.
"""

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
import pytest
from aiokafka import AIOKafkaProducer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from support import OrgTokens, served

from broker.adapters import db, tokens
from broker.adapters.audit import AuditEntry
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.bootstrap import Runtime
from broker.config import Settings
from broker.entrypoints.admin_api import create_admin_api
from broker.entrypoints.gateway import create_gateway
from broker.entrypoints.inbox_api import create_inbox_api
from broker.services.directory_admin import put_contact
from producers import crypto
from producers.envelopes import seal_notice
from schemas.directory import ContactSpec
from schemas.notices import NoticeBody, NoticeHeader, NoticeType, SealedNotice, Severity

pytestmark = pytest.mark.integration

Keys = dict[str, Ed25519PrivateKey]
Sessions = async_sessionmaker[AsyncSession]
GP = "gp-riverside:safeguarding_lead"
ADMIN = "la-front-door"  # the demo partnership's administrator in these tests
TOKEN_PATH = "/v1/oauth/token"
ROOT = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- helpers


@asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[Sessions]:
    engine = db.make_engine(settings.database_url)
    try:
        yield db.sessions(engine)
    finally:
        await engine.dispose()


async def audit_entries(settings: Settings, action: str) -> list[AuditEntry]:
    async with database(settings) as sessions, sessions() as session:
        query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)
        return list((await session.scalars(query)).all())


async def audit_text(settings: Settings) -> str:
    """Everything the audit log holds, as one text to search."""
    async with database(settings) as sessions, sessions() as session:
        rows = (await session.scalars(select(AuditEntry))).all()
    return "\n".join(f"{r.actor} {r.subject_ref} {r.details}" for r in rows)


async def refusal_counts(settings: Settings) -> dict[tuple[str, int, str], int]:
    async with database(settings) as sessions, sessions() as session:
        rows = (await session.scalars(select(db.RefusalCount))).all()
    return {(r.route, r.status, r.caller): r.count for r in rows}


async def count_rows(settings: Settings, model: type[db.Base]) -> int:
    async with database(settings) as sessions, sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


@asynccontextmanager
async def started(app: FastAPI, auth: httpx.Auth | None = None) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test",
                                     auth=auth) as client:  # fmt: skip
            yield client


def claims_for(org: str, audience: str, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": org, "sub": org, "aud": audience, "iat": now, "exp": now + 60,
            "jti": str(uuid.uuid4())} | changes  # fmt: skip


def signed_assertion(claims: dict[str, Any], key: Ed25519PrivateKey) -> str:
    kid = crypto.key_id(key.public_key())
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": kid})


def token_form(assertion: str) -> dict[str, str]:
    return {"grant_type": "client_credentials", "client_assertion_type": tokens.ASSERTION_TYPE,
            "client_assertion": assertion}  # fmt: skip


class Listener:
    """A TCP port on loopback that counts the connections made to it (and answers none)."""

    def __init__(self) -> None:
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> "Listener":
        async def accepted(_r: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            writer.close()

        self.server = await asyncio.start_server(accepted, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])


def a_notice(rt: Runtime, recipient: str, key: Any) -> SealedNotice:
    now = datetime.now(UTC)
    header = NoticeHeader(
        notice_id=uuid.uuid4(), event_id=uuid.uuid4(), household="h", recipient_id=recipient,
        recipient_org=recipient.split(":")[0], notice_type=NoticeType.GP_INFORMATION,
        severity=Severity.MEDIUM, created_at=now,
        deadline=now + timedelta(hours=72), recipient_key_id="k",
        signing_key_id=rt.keys.public.signing_key_id,
    )  # fmt: skip
    body = NoticeBody(summary="s", event_type="ed_attendance", occurred_at=now, source_org="a-1")
    return seal_notice(header, body, key, rt.keys.signing)


async def publish_notice(rt: Runtime, notice: SealedNotice) -> str:
    """Onto the notices topic, as the router sends it; answers the notice's id."""
    header = NoticeHeader.model_validate_json(notice.header)
    async with AIOKafkaProducer(bootstrap_servers=rt.settings.kafka_bootstrap_servers) as kafka:
        await kafka.send_and_wait(rt.topics.notices, notice.model_dump_json().encode(),
                                  key=header.recipient_id.encode())  # fmt: skip
    return str(header.notice_id)


async def settled_delivery(rt: Runtime, notice_id: str) -> db.WebhookDelivery:
    async with asyncio.timeout(60):
        while True:
            async with rt.sessions() as session:
                row = await session.scalar(
                    select(db.WebhookDelivery).where(db.WebhookDelivery.notice_id == notice_id)
                )
            if row is not None and row.state != "pending":
                return row
            await asyncio.sleep(0.1)


# --------------------------------------------------------------------------- the attacks


class TestHttpEdges:
    async def test_09_webhook_into_the_brokers_network_is_refused(
        self, settings: Settings, running_broker: Runtime, recipient_pairs: dict[str, Any],
        producer_keys: Keys,
    ) -> None:  # fmt: skip
        """An administrator points a GP's webhook at loopback (the broker's own machine):
        the admin API refuses it with a 422 and an audit record, and the contact keeps its
        URL. A URL that got in anyway (written before the check, or a name that now
        resolves inwards) is judged at each send against the address it resolves to: the
        delivery worker connects to nothing, dead-letters the notice and audits why."""
        inward = "http://127.0.0.1:{port}/hook"
        admin_settings = settings.model_copy(update={"administrators": [ADMIN]})
        auth = OrgTokens(producer_keys, lambda _request: ADMIN)
        async with Listener() as listener:
            url = inward.format(port=listener.port)
            async with started(create_admin_api(admin_settings), auth) as admin:
                async with running_broker.sessions() as session:
                    contact = await session.get(db.Contact, GP)
                    assert contact is not None
                    spec = {"id": GP, "org_id": contact.org_id, "role": contact.role,
                            "hpke_public_key": contact.hpke_public_key,
                            "webhook_url": url}  # fmt: skip
                answer = await admin.put(f"/v1/admin/contacts/{GP}", json=spec)
            assert answer.status_code == 422
            [error] = answer.json()["errors"]
            assert (error["field"], error["type"]) == ("body.webhook_url", "unsafe_webhook")
            assert url not in answer.text
            [refused] = await audit_entries(settings, "access_refused")
            assert (refused.actor, refused.subject_ref) == (
                ADMIN,
                "/v1/admin/contacts/{contact_id}",
            )
            assert json.loads(refused.details)["status"] == 422
            async with running_broker.sessions() as session:
                assert (await session.get(db.Contact, GP)).webhook_url is None  # type: ignore[union-attr]

            async with running_broker.sessions.begin() as session:
                # As if it had got in: registered before the check (or a name that resolved
                # outwards then), through the directory's own service so that it is seen.
                spec["webhook_url"] = url
                await put_contact(SqlUnitOfWork.joined(session), ContactSpec.model_validate(spec),
                                  "before-the-check",
                                  webhook_networks=[IPv4Network("127.0.0.0/8")])  # fmt: skip
            key = recipient_pairs[GP].private.public_key()
            notice_id = await publish_notice(running_broker, a_notice(running_broker, GP, key))
            delivery = await settled_delivery(running_broker, notice_id)

            assert (delivery.state, delivery.last_error) == ("dead", "address_refused")
            assert listener.connections == 0
        [audited] = await audit_entries(settings, "webhook_refused")
        assert audited.subject_ref == notice_id
        assert json.loads(audited.details) == {"recipient_id": GP, "reason": "address_refused"}

    async def test_11_anonymous_refusals_write_no_chosen_text_and_are_counted(
        self, settings: Settings, inbox: httpx.AsyncClient
    ) -> None:
        """An anonymous caller sends many requests whose paths carry its own text (long
        enough to overflow the audit column on PostgreSQL): each is a 401; the audit log
        gets one entry naming the route's template, never the text, and the refusals are
        counted beside it; nothing else is written."""
        chosen = "Jess-Carter-born-1990-04-01-" + "x" * 4000
        before = await count_rows(settings, AuditEntry)
        answers = [await inbox.get(f"/v1/recipients/{chosen}{n}/notices") for n in range(5)]

        assert [a.status_code for a in answers] == [401] * 5
        route = "/v1/recipients/{recipient_id}/notices"
        [entry] = await audit_entries(settings, "access_refused")
        assert (entry.actor, entry.subject_ref) == ("anonymous", route)
        assert "Jess" not in await audit_text(settings)
        assert await refusal_counts(settings) == {(route, 401, "anonymous"): 5}
        assert await count_rows(settings, AuditEntry) == before + 1

    async def test_18_a_client_assertion_is_good_once_and_for_one_endpoint(
        self, settings: Settings, directory: None, producer_keys: Keys
    ) -> None:
        """A captured assertion replayed to the same API after a restart, or sent to another
        API than the one it names, is refused (401, audited); only the one it was made for
        answers, once."""
        key = producer_keys["la-front-door"]
        inbox_url = "http://inbox.test" + TOKEN_PATH
        assertion = signed_assertion(claims_for("la-front-door", inbox_url), key)

        async with started(create_gateway(settings)) as gateway:  # another service
            elsewhere = await gateway.post(TOKEN_PATH, data=token_form(assertion))
        async with started(create_inbox_api(settings)) as inbox:
            inbox.base_url = httpx.URL("http://inbox.test")
            first = await inbox.post(TOKEN_PATH, data=token_form(assertion))
        async with started(create_inbox_api(settings)) as restarted:
            restarted.base_url = httpx.URL("http://inbox.test")
            replayed = await restarted.post(TOKEN_PATH, data=token_form(assertion))

        assert (elsewhere.status_code, first.status_code, replayed.status_code) == (401, 200, 401)
        assert replayed.json() == {"error": "invalid_client"}
        assert await refusal_counts(settings) == {(TOKEN_PATH, 401, "anonymous"): 2}
        [entry] = await audit_entries(settings, "access_refused")
        assert entry.subject_ref == TOKEN_PATH
        assert await count_rows(settings, db.UsedAssertion) == 1

    async def test_19_malformed_token_requests_are_400_not_500(
        self, settings: Settings, inbox: httpx.AsyncClient, producer_keys: Keys
    ) -> None:
        """A body that is not UTF-8, and assertions whose exp or iat are strings, are
        answered 400 (never a 500), counted and audited; no assertion is remembered."""
        url = str(inbox.base_url.join(TOKEN_PATH))
        key = producer_keys["la-front-door"]
        now = int(time.time())
        bodies = [b"grant_type=client_credentials&client_assertion=\xff\xfe"] + [
            urlencode(token_form(signed_assertion(
                claims_for("la-front-door", url, **changes), key))).encode()
            for changes in ({"exp": str(now + 60)}, {"iat": "yesterday"}, {"exp": [now]})
        ]  # fmt: skip
        form = {"content-type": "application/x-www-form-urlencoded"}
        answers = [await inbox.post(TOKEN_PATH, content=body, headers=form) for body in bodies]

        assert [a.status_code for a in answers] == [400] * 4
        assert all(a.json() == {"error": "invalid_request"} for a in answers)
        assert await refusal_counts(settings) == {(TOKEN_PATH, 400, "anonymous"): 4}
        assert len(await audit_entries(settings, "access_refused")) == 1
        assert await count_rows(settings, db.UsedAssertion) == 0

    async def test_20_rotating_forwarded_addresses_does_not_escape_the_rate_limit(
        self, settings: Settings, directory: None, producer_keys: Keys
    ) -> None:
        """A client sends each request with a fresh ``X-Forwarded-For`` (the server trusts
        no proxy): it is still one client, refused past its rate (429, audited once); an
        organisation's token has a rate of its own (429 for it, audited with its id); the
        ops endpoint still answers."""
        limited = settings.model_copy(update={"rate_limit": "4/minute",
                                              "organisation_rate_limit": "2/minute"})  # fmt: skip
        async with served(create_gateway(limited), limited) as base, httpx.AsyncClient(
            base_url=base
        ) as client:  # fmt: skip
            spoofed = [
                await client.post(
                    TOKEN_PATH,
                    data={"grant_type": "password"},
                    headers={"x-forwarded-for": f"203.0.113.{n}"},
                )
                for n in range(6)
            ]
            health = await client.get("/health")
        assert [a.status_code for a in spoofed] == [400] * 4 + [429] * 2
        assert health.status_code == 200

        org = "acute-demo"
        async with started(create_gateway(limited), OrgTokens(producer_keys, lambda _r: org)) as gw:
            # No events: a 422 is enough to show the token held and was counted.
            answers = [await gw.post("/v1/events", json={}) for _ in range(3)]
        assert [a.status_code for a in answers] == [422, 422, 429]
        counts = await refusal_counts(settings)
        assert counts[("(rate limit, before authentication)", 429, "anonymous")] == 1
        assert counts[("/v1/events", 429, org)] == 1
        assert {e.actor for e in await audit_entries(settings, "access_refused")} >= {org}

    async def test_23_no_ops_no_documents_and_no_caching_on_the_public_ports(
        self, settings: Settings, inbox: httpx.AsyncClient, gateway: httpx.AsyncClient,
        producer_keys: Keys,
    ) -> None:  # fmt: skip
        """A stranger asks the public ports for the API documents, readiness and metrics:
        404 each (they live on the ops port; documents only where asked for), and nothing
        is recorded as anyone's access. Every answer, a personal one included, says
        ``no-store`` so that no proxy or browser keeps it."""
        before = await count_rows(settings, AuditEntry)
        for client in (inbox, gateway):
            for path in ("/docs", "/redoc", "/openapi.json", "/metrics", "/ready"):
                answer = await client.get(path, auth=None)
                assert answer.status_code == 404, path
                assert answer.headers["cache-control"] == "no-store"
        assert await count_rows(settings, AuditEntry) == before

        listing = await inbox.get(f"/v1/recipients/{GP}/notices")
        refused = await inbox.get(f"/v1/recipients/{GP}/notices", auth=None)
        assert listing.status_code == 200
        assert listing.headers["cache-control"] == "no-store"
        assert refused.headers["cache-control"] == "no-store"

    def test_26_a_crash_is_logged_without_its_message(self, tmp_path: Path) -> None:
        """A command crashes on input that quotes personal data (a database URL holding a
        name and NHS number, as a careless operator might pass one): the process exits
        non-zero, and what it writes is a log line with the exception's type and where,
        never a Typer or rich traceback quoting the value."""
        secret = "jess-carter-9990000018"
        env = {**os.environ, "SGB_DATABASE_URL": f"not a url {secret}",
               "SGB_LOG_JSON": "true", "COLUMNS": "200",
               "SGB_AUDIT_KEY": "ab" * 32}  # fmt: skip
        env.pop("SGB_SETTINGS_FILE", None)
        env["PYTHONPATH"] = str(ROOT)  # this checkout's code, wherever the package points
        run = subprocess.run([sys.executable, "-m", "broker.entrypoints.cli", "audit-verify",
                              "--without-anchor"],
                             capture_output=True, text=True, env=env, cwd=tmp_path,
                             timeout=120, check=False)  # fmt: skip

        assert run.returncode != 0
        output = run.stdout + run.stderr
        assert secret not in output
        assert "Traceback" not in output
        assert "╭" not in output  # rich's traceback frame
        [line] = [json.loads(text) for text in run.stderr.splitlines() if '"crashed"' in text]
        assert line["event"] == "crashed"
        assert line["exception"]["type"] == "ArgumentError"
