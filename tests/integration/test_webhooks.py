"""Signed webhook delivery through the real Kafka broker, the real database, the delivery
process's own dispatcher, and a real HTTP endpoint served on loopback."""

import asyncio
import functools
import json
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Network
from typing import Any
from uuid import uuid4

import httpx
import pytest
import uvicorn
from aiokafka import AIOKafkaProducer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI, Request, Response
from sqlalchemy import select
from support import post_signed
from typer.testing import CliRunner

from broker.adapters import db
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.bootstrap import Runtime
from broker.config import Settings, WebhookSettings
from broker.demo import family
from broker.entrypoints.dead_letters_cli import app as dead_letters_app
from broker.entrypoints.dead_letters_cli import described, read_all, replay_letters
from broker.services import webhook_dispatch
from broker.services.dead_letters import Replayed
from broker.services.directory_admin import put_contact
from producers.broker_keys import BrokerPublicKeys
from producers.envelopes import seal_notice
from producers.receiver import NoticeReceiver
from producers.webhook_receiver import WebhookReceiver, WebhookRejected
from schemas.directory import ContactSpec
from schemas.events import ParentMentalHealthCrisis
from schemas.notices import NoticeBody, NoticeHeader, NoticeType, SealedNotice, Severity

pytestmark = pytest.mark.integration

SCHOOL = "school-oakfield:key_adult"
GP = "gp-riverside:safeguarding_lead"
THRESHOLD = 3
COOL_DOWN = 3.0
LOOPBACK = IPv4Network("127.0.0.0/8")  # the endpoints here are served on loopback


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Quick retries, so that a test sees several; a breaker that opens after three; the
    endpoints' loopback allowed (it never is in production)."""
    webhooks = WebhookSettings(
        timeout_seconds=2, max_attempts=30, backoff_base_seconds=0.02, backoff_cap_seconds=0.1,
        breaker_threshold=THRESHOLD, breaker_cool_down_seconds=COOL_DOWN, poll_seconds=0.05,
        allowed_networks=[LOOPBACK],
    )  # fmt: skip
    return settings.model_copy(update={"webhooks": webhooks})


# --------------------------------------------------------------------------- the endpoint


class _Remembers:
    def first_time(self, webhook_id: str) -> bool:
        return True


@dataclass
class Seen:
    webhook_id: str
    status: int
    duplicate: bool = False


@dataclass
class Endpoint:
    """A recipient's system: verifies each push as a real receiver would, answers with the
    status ``answer`` gives for the notice, and keeps a log of what it saw."""

    broker: BrokerPublicKeys
    answer: Callable[[str], int] = lambda _id: 200
    log: list[Seen] = field(default_factory=list)
    notices: list[SealedNotice] = field(default_factory=list)
    url: str = ""

    def app(self) -> FastAPI:
        taker, checker = WebhookReceiver(self.broker), WebhookReceiver(self.broker, _Remembers())
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request) -> Response:
            body, now = await request.body(), datetime.now(UTC)
            webhook_id = request.headers.get("webhook-id", "")
            status = self.answer(webhook_id)
            try:
                notice = (taker if 200 <= status < 300 else checker).accept(
                    request.headers, body, now
                )
            except WebhookRejected:
                status = 401
                notice = None
            self.log.append(Seen(webhook_id, status, duplicate=notice is None and status < 300))
            if notice is not None and status < 300:
                self.notices.append(notice)
            return Response(status_code=status)

        return app

    def statuses(self, webhook_id: str) -> list[int]:
        return [seen.status for seen in self.log if seen.webhook_id == webhook_id]

    def delivered(self) -> list[str]:
        """Ids answered 2xx, in order."""
        return [seen.webhook_id for seen in self.log if seen.status < 300]


@asynccontextmanager
async def serving(endpoint: Endpoint) -> AsyncIterator[Endpoint]:
    """Serves the endpoint with uvicorn on a loopback port of its own."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(endpoint.app(), log_config=None, access_log=False, lifespan="off",
                            ws="none")  # fmt: skip
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    async with asyncio.timeout(10):
        while not server.started:
            await asyncio.sleep(0.01)
    endpoint.url = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    try:
        yield endpoint
    finally:
        server.should_exit = True
        await task
        sock.close()


@pytest.fixture
async def endpoint(running_broker: Runtime) -> AsyncIterator[Endpoint]:
    async with serving(Endpoint(running_broker.keys.public)) as served:
        yield served


# --------------------------------------------------------------------------- helpers


async def give_webhook(rt: Runtime, contact_id: str, url: str) -> None:
    """Through the directory's admin service, as an administrator would."""
    async with rt.sessions.begin() as session:
        contact = await session.get(db.Contact, contact_id)
        assert contact is not None
        spec = ContactSpec(id=contact.id, org_id=contact.org_id, role=contact.role,
                           hpke_public_key=contact.hpke_public_key, webhook_url=url)  # fmt: skip
        await put_contact(SqlUnitOfWork.joined(session), spec, "test", webhook_networks=[LOOPBACK])


def a_notice(rt: Runtime, recipient: str, key: Any) -> SealedNotice:
    now = datetime.now(UTC)
    org = recipient.split(":")[0]
    header = NoticeHeader(
        notice_id=uuid4(), event_id=uuid4(), household="h", recipient_id=recipient,
        recipient_org=org, notice_type=NoticeType.GP_INFORMATION, severity=Severity.MEDIUM,
        created_at=now, deadline=now + timedelta(hours=72),
        recipient_key_id="k", signing_key_id=rt.keys.public.signing_key_id,
    )  # fmt: skip
    body = NoticeBody(summary="s", event_type="ed_attendance", occurred_at=now, source_org="a-1")
    return seal_notice(header, body, key, rt.keys.signing)


def notice_id(notice: SealedNotice) -> str:
    return str(NoticeHeader.model_validate_json(notice.header).notice_id)


async def send(rt: Runtime, *notices: SealedNotice) -> None:
    """Onto the notices topic, one key per recipient, as the router sends them."""
    producer = AIOKafkaProducer(bootstrap_servers=rt.settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        for notice in notices:
            recipient = NoticeHeader.model_validate_json(notice.header).recipient_id
            await producer.send_and_wait(rt.topics.notices, notice.model_dump_json().encode(),
                                         key=recipient.encode())  # fmt: skip
    finally:
        await producer.stop()


async def deliveries(rt: Runtime) -> dict[str, db.WebhookDelivery]:
    async with rt.sessions() as session:
        rows = (await session.scalars(select(db.WebhookDelivery))).all()
    return {row.notice_id: row for row in rows}


async def until(check: Callable[[], Any], timeout: float = 60) -> None:
    """Waits for ``check`` (sync or async) to be true."""
    async with asyncio.timeout(timeout):
        while True:
            result = check()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return
            await asyncio.sleep(0.05)


async def settled(rt: Runtime, *ids: str) -> dict[str, db.WebhookDelivery]:
    """The deliveries, once each of ``ids`` is delivered or dead."""

    async def done() -> bool:
        rows = await deliveries(rt)
        return all(i in rows and rows[i].state != "pending" for i in ids)

    await until(done)
    return await deliveries(rt)


# --------------------------------------------------------------------------- the tests


class TestWebhookDelivery:
    async def test_delivered_once_with_a_valid_signature(
        self, running_broker: Runtime, endpoint: Endpoint, recipient_pairs: dict[str, Any]
    ) -> None:
        """Each notice reaches the endpoint once, signed by the broker, and opens with the
        recipient's key, even when Kafka delivers its record twice."""
        await give_webhook(running_broker, GP, endpoint.url)
        key = recipient_pairs[GP].private.public_key()
        first, second = a_notice(running_broker, GP, key), a_notice(running_broker, GP, key)
        await send(running_broker, first, first, second)
        rows = await settled(running_broker, notice_id(first), notice_id(second))

        assert endpoint.delivered() == [notice_id(first), notice_id(second)]
        assert not any(seen.duplicate for seen in endpoint.log)
        assert [r.state for r in rows.values()] == ["delivered", "delivered"]
        receiver = NoticeReceiver(recipient_pairs[GP].private, running_broker.keys.public)
        assert [str(receiver.open(n)[0].notice_id) for n in endpoint.notices] == [
            notice_id(first),
            notice_id(second),
        ]

    async def test_an_endpoint_failing_then_recovering_gets_each_notice_once_in_order(
        self, running_broker: Runtime, endpoint: Endpoint, recipient_pairs: dict[str, Any]
    ) -> None:
        """Transient failures are retried; the next notice waits for the one before it."""
        await give_webhook(running_broker, GP, endpoint.url)
        failures = iter([503, 500])  # fewer than the breaker's threshold
        endpoint.answer = lambda _id: next(failures, 200)
        key = recipient_pairs[GP].private.public_key()
        first, second = a_notice(running_broker, GP, key), a_notice(running_broker, GP, key)
        await send(running_broker, first, second)
        rows = await settled(running_broker, notice_id(first), notice_id(second))

        assert endpoint.statuses(notice_id(first)) == [503, 500, 200]
        assert endpoint.statuses(notice_id(second)) == [200]
        assert [seen.webhook_id for seen in endpoint.log] == [notice_id(first)] * 3 + [
            notice_id(second)
        ]
        assert (rows[notice_id(first)].attempts, rows[notice_id(first)].last_error) == (
            3, "http_500"
        )  # fmt: skip

    async def test_a_rejected_notice_is_dead_lettered_and_the_queue_moves_on(
        self, running_broker: Runtime, endpoint: Endpoint, recipient_pairs: dict[str, Any]
    ) -> None:
        """A 4xx is permanent: dead-lettered with its reason at once, the next notice goes."""
        await give_webhook(running_broker, GP, endpoint.url)
        key = recipient_pairs[GP].private.public_key()
        poison, after = a_notice(running_broker, GP, key), a_notice(running_broker, GP, key)
        endpoint.answer = lambda i: 422 if i == notice_id(poison) else 200
        await send(running_broker, poison, after)
        rows = await settled(running_broker, notice_id(poison), notice_id(after))

        assert rows[notice_id(poison)].state == "dead"
        assert rows[notice_id(after)].state == "delivered"
        assert endpoint.statuses(notice_id(poison)) == [422]
        [letter] = await read_all(running_broker.settings)
        assert dict(letter.reason) == {
            "reason": "webhook_rejected", "channel": "webhook", "notice_id": notice_id(poison),
            "attempts": 1, "error": "http_422", "status": 422,
        }  # fmt: skip
        assert SealedNotice.model_validate_json(letter.value) == poison


class DispatcherClock:
    """The webhook dispatcher's clock: the real time, put forward when the test says. The
    test ends the breaker's cool-down by moving the clock past it instead of waiting it out
    (2-3 s a test); the cool-down still lasts long enough (``COOL_DOWN``) for the test to
    see the endpoint hear nothing meanwhile, however slowly the machine runs."""

    def __init__(self) -> None:
        self.ahead = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.ahead


@pytest.fixture
def dispatcher_clock(monkeypatch: pytest.MonkeyPatch) -> DispatcherClock:
    """Asked for before ``running_broker``: the delivery process then builds its dispatcher
    (the real one) on this clock."""
    clock = DispatcherClock()
    dispatcher = functools.partial(webhook_dispatch.Dispatcher, clock=clock)
    monkeypatch.setattr(webhook_dispatch, "Dispatcher", dispatcher)
    return clock


class TestCircuitBreaker:
    async def test_opens_after_the_threshold_and_closes_on_a_successful_trial(
        self,
        dispatcher_clock: DispatcherClock,
        running_broker: Runtime,
        endpoint: Endpoint,
        recipient_pairs: dict[str, Any],
    ) -> None:
        """After three failures in a row the endpoint hears nothing until the cool-down is
        over (though retries fall due every tenth of a second, and another recipient's
        notice waits for it too); then one trial, and on its success everything goes."""
        rt, clock = running_broker, dispatcher_clock
        await give_webhook(rt, GP, endpoint.url)
        await give_webhook(rt, SCHOOL, endpoint.url)  # the same endpoint
        endpoint.answer = lambda _id: 503
        gp_notice = a_notice(rt, GP, recipient_pairs[GP].private.public_key())
        await send(rt, gp_notice)
        await until(lambda: held_by_breaker(rt, clock, notice_id(gp_notice), THRESHOLD))
        school_notice = a_notice(rt, SCHOOL, recipient_pairs[SCHOOL].private.public_key())
        await send(rt, school_notice)
        await until(lambda: held_by_breaker(rt, clock, notice_id(school_notice), 0))

        assert [(s.webhook_id, s.status) for s in endpoint.log] == [
            (notice_id(gp_notice), 503)
        ] * THRESHOLD
        endpoint.answer = lambda _id: 200
        clock.ahead = timedelta(seconds=COOL_DOWN)  # the cool-down is over: one trial goes
        await until(lambda: any_settled(rt, notice_id(gp_notice), notice_id(school_notice)))
        # The other notice, put off while the trial was out (for a request's timeout at most),
        # falls due at once rather than 2 s later.
        clock.ahead += timedelta(seconds=rt.settings.webhooks.timeout_seconds)
        await settled(rt, notice_id(gp_notice), notice_id(school_notice))
        assert sorted(endpoint.log[THRESHOLD:], key=lambda s: s.webhook_id) == sorted(
            [Seen(notice_id(gp_notice), 200), Seen(notice_id(school_notice), 200)],
            key=lambda s: s.webhook_id,
        )


async def any_settled(rt: Runtime, *ids: str) -> bool:
    """Whether one of ``ids`` is delivered or dead: the breaker has heard its answer."""
    rows = await deliveries(rt)
    return any(i in rows and rows[i].state != "pending" for i in ids)


async def held_by_breaker(rt: Runtime, clock: DispatcherClock, notice: str, attempts: int) -> bool:
    """The delivery waits for the breaker's cool-down: put off by more than any backoff
    (a tenth of a second) and no further than the cool-down, so not the lease of an attempt
    under way (which is longer); its attempts not counting up meanwhile."""
    row = (await deliveries(rt)).get(notice)
    if row is None or row.attempts != attempts:
        return False
    wait = row.next_attempt_at - clock()
    return timedelta(seconds=0.5) < wait <= timedelta(seconds=COOL_DOWN)


class TestReceipts:
    async def test_a_2xx_is_the_delivered_receipt_never_an_acknowledgement(
        self,
        gateway: httpx.AsyncClient,
        producer_keys: dict[str, Ed25519PrivateKey],
        running_broker: Runtime,
        endpoint: Endpoint,
    ) -> None:
        """A routed notice pushed to the school's system is recorded as delivered by
        webhook; it stays unacknowledged until a person acknowledges it."""
        await give_webhook(running_broker, SCHOOL, endpoint.url)
        assert (await post_signed(gateway, crisis(), producer_keys)).status_code == 202
        await until(lambda: endpoint.delivered())
        [pushed] = endpoint.delivered()
        await settled(running_broker, pushed)  # the endpoint answered; now the broker records
        async with running_broker.sessions() as session:
            record = await session.get(db.NoticeRecord, pushed)
        assert record is not None
        assert (record.recipient_id, record.delivered_via) == (SCHOOL, "webhook")
        assert record.delivered_at is not None
        assert record.acknowledged_at is None


class TestDeadLetters:
    async def test_a_router_letter_is_listed_shown_and_replayed_to_its_topic(
        self, running_broker: Runtime
    ) -> None:
        """An unreadable event's letter names its origin and reason, shows no content, and
        replays byte for byte to the events topic (where it fails again, so is lettered
        again, from its new position)."""
        rt = running_broker
        producer = AIOKafkaProducer(bootstrap_servers=rt.settings.kafka_bootstrap_servers)
        await producer.start()
        await producer.send_and_wait(rt.topics.events, b"not an event", key=b"k")
        await producer.stop()
        await until(lambda: _letters(rt, 1))
        [letter] = await read_all(rt.settings)
        assert letter.source is not None
        assert (letter.reason_name, letter.source.topic) == ("ValidationError", rt.topics.events)
        shown = described(letter)
        assert "not an event" not in str(shown)
        assert shown["value_bytes"] == len(b"not an event")

        [(_, outcome)] = await replay_letters(rt.settings, letter.position, None)
        assert outcome is Replayed.REPUBLISHED
        await until(lambda: _letters(rt, 2))
        first, again = await read_all(rt.settings)
        assert again.value == first.value == b"not an event"
        assert again.source is not None
        assert again.source.offset != letter.source.offset

    async def test_a_webhook_letter_replayed_queues_its_delivery_again(
        self, running_broker: Runtime, endpoint: Endpoint, recipient_pairs: dict[str, Any]
    ) -> None:
        """Once the endpoint is fixed, replaying its letters delivers the notice."""
        await give_webhook(running_broker, GP, endpoint.url)
        endpoint.answer = lambda _id: 404
        notice = a_notice(running_broker, GP, recipient_pairs[GP].private.public_key())
        await send(running_broker, notice)
        await settled(running_broker, notice_id(notice))
        endpoint.answer = lambda _id: 200

        replayed = await replay_letters(running_broker.settings, None, "webhook_rejected")
        assert [outcome for _, outcome in replayed] == [Replayed.REQUEUED]
        rows = await settled(running_broker, notice_id(notice))
        assert rows[notice_id(notice)].state == "delivered"
        assert endpoint.statuses(notice_id(notice)) == [404, 200]

    async def test_the_commands_list_and_show(self, running_broker: Runtime) -> None:
        """``sgb dead-letters list`` and ``show`` read the real topic."""
        rt = running_broker
        producer = AIOKafkaProducer(bootstrap_servers=rt.settings.kafka_bootstrap_servers)
        await producer.start()
        await producer.send_and_wait(rt.topics.events, b"\x00garbage", key=b"k")
        await producer.stop()
        await until(lambda: _letters(rt, 1))
        [letter] = await read_all(rt.settings)
        env = {"SGB_KAFKA_BOOTSTRAP_SERVERS": rt.settings.kafka_bootstrap_servers,
               "SGB_TOPIC_PREFIX": rt.settings.topic_prefix}  # fmt: skip
        runner = CliRunner()
        listed = await asyncio.to_thread(runner.invoke, dead_letters_app, ["list"], env=env)
        assert listed.exit_code == 0, listed.output
        assert "ValidationError" in listed.output
        assert letter.position in listed.output
        shown = await asyncio.to_thread(
            runner.invoke, dead_letters_app, ["show", letter.position], env=env
        )
        assert shown.exit_code == 0, shown.output
        assert json.loads(shown.output)["reason"]["reason"] == "ValidationError"
        assert "garbage" not in shown.output


def crisis() -> ParentMentalHealthCrisis:
    return ParentMentalHealthCrisis(
        event_type="parent_mental_health_crisis", event_id=uuid4(), source_org="mh-demo",
        occurred_at=datetime.now(UTC), subject=family.person(family.MOTHER),
        suicidal_ideation=True, clinical_summary="Expressed plans to end her life.",
    )  # fmt: skip


async def _letters(rt: Runtime, count: int) -> bool:
    return len(await read_all(rt.settings)) >= count


async def _queued(rt: Runtime, notice: str) -> bool:
    return notice in await deliveries(rt)
