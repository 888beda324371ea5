"""Runs the demo end to end on this machine, as a new user would see the system work.

Starts a real Kafka broker (or uses ``SGB_KAFKA_BOOTSTRAP_SERVERS``), then two brokers as
separate processes each: the demo partnership's and its neighbour's (Newport, in Wales), each
with its front (gateway and inbox API, ``broker.demo.front``), router and delivery worker, its
own database, keys and topics; registers each as the other's peer; posts the family's
timeline to the demo gateway over HTTP; waits until every notice is in its inbox; opens each
recipient's notices with that recipient's own private key; shows the family's transfer to
Newport and the receipts coming back; prints a one-time web inbox sign-in link for each demo
contact and, in a terminal, keeps the brokers running until Ctrl-C; stops it all.
"""

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console
from sqlalchemy import func, select

from broker.adapters import db
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.demo import family
from broker.demo.show import show_inbox
from broker.keys import KeyStore, audit_key
from broker.services.directory_admin import load_directory
from producers import crypto
from producers.auth import OrganisationAuth
from producers.sdk import signature_header
from schemas.events import EventAdapter

# Wide enough for the chronology's columns, also when the output is not a terminal (rich
# then assumes 80 columns and cuts them).
console = Console(width=max(Console().width, 180))
SETTLE_TIMEOUT_S = 90


def run_demo() -> int:
    work = Path(tempfile.mkdtemp(prefix="sgb-demo-"))
    with ExitStack() as stack:
        bootstrap = os.environ.get("SGB_KAFKA_BOOTSTRAP_SERVERS") or stack.enter_context(
            _local_kafka(work / "kafka")
        )
        env = _environment(work, bootstrap)
        recipients = _recipient_keys(work / "recipients")
        producers = family.producer_keys()
        keys = KeyStore.create(work / "keys")
        asyncio.run(_load_directory(env["SGB_DATABASE_URL"], recipients, producers,
                                    audit_key(work / "keys")))  # fmt: skip
        ports = {"gateway": _free_port(), "inbox": _free_port()}
        for name, args in _processes(ports).items():
            stack.enter_context(_process(name, args, env, work))
        _wait_healthy(ports)
        expected = _replay(ports["gateway"], producers)
        notices = asyncio.run(_settle(env["SGB_DATABASE_URL"], expected))
        console.rule(f"[bold]{expected} events routed into {notices} notices")
        private = {cid: key.private for cid, key in recipients.items()}
        show_inbox(console, ports["inbox"], private, keys.public, producers)
    console.print(f"[green]Demo finished; everything stopped. Working files: {work}")
    return 0


@contextmanager
def _local_kafka(workdir: Path) -> Iterator[str]:
    from deploy.localkafka import LocalKafkaCluster

    console.print("Starting a local Apache Kafka broker (KRaft, loopback only)...")
    with LocalKafkaCluster(workdir) as cluster:
        console.print(f"Kafka is up at {cluster.bootstrap_servers}")
        yield cluster.bootstrap_servers
    console.print("Kafka stopped.")


def _environment(work: Path, bootstrap: str) -> dict[str, str]:
    return {
        **os.environ,
        "SGB_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "SGB_DATABASE_URL": f"sqlite+aiosqlite:///{work / 'broker.db'}",
        "SGB_KEYS_DIR": str(work / "keys"),
        # A run of its own on a shared Kafka (SGB_KAFKA_BOOTSTRAP_SERVERS) may set its own.
        "SGB_TOPIC_PREFIX": os.environ.get("SGB_TOPIC_PREFIX", "demo."),
        "SGB_LOG_JSON": "true",
        # So that the demo shows escalation: GP notices fall due within a minute.
        "SGB_ROUTING__DEADLINE_HOURS__gp_information": "0.008",
        "SGB_FOLLOW_UP_INTERVAL_SECONDS": "1",
    }


def _recipient_keys(directory: Path) -> dict[str, family.RecipientKey]:
    """Each recipient's own key pair, kept in its own file; the broker sees public halves."""
    keys = family.recipient_keys()
    for contact_id, key in keys.items():
        crypto.write_secret(directory / f"{contact_id.replace(':', '_')}.key", key.secret_file)
    return keys


async def _load_directory(
    url: str,
    recipients: dict[str, family.RecipientKey],
    producers: dict[str, Ed25519PrivateKey],
    key: bytes,
) -> None:
    engine = db.make_engine(url)
    await db.create_schema(engine)
    public = {cid: key.public_text for cid, key in recipients.items()}
    now = datetime.now(UTC)
    hours = family.closed_front_door_hours(now)
    if hours:
        console.print(f"For the demo, the front door opens at {hours[0]:%H:%M} today: until "
                      "then its emergency duty team answers for it.")  # fmt: skip
    async with SqlUnitOfWork(db.sessions(engine, key)) as uow:
        spec = family.directory(public, now.date(), producers, front_door_hours=hours)
        await load_directory(uow, spec)
    await engine.dispose()


def _processes(ports: dict[str, int]) -> dict[str, list[str]]:
    cli = [sys.executable, "-m", "broker.entrypoints.cli"]
    return {
        "gateway": [*cli, "gateway", "--port", str(ports["gateway"])],
        "router": [*cli, "router"],
        "delivery": [*cli, "delivery"],
        "inbox": [*cli, "inbox", "--port", str(ports["inbox"])],
    }


@contextmanager
def _process(name: str, args: list[str], env: dict[str, str], work: Path) -> Iterator[None]:
    log = (work / f"{name}.log").open("w")
    proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
    console.print(f"Started {name} (pid {proc.pid}, log {log.name})")
    try:
        yield
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        clean = proc.returncode in (0, -signal.SIGTERM)  # uvicorn re-raises SIGTERM when done
        console.print(f"Stopped {name}" + ("" if clean else f" (exit {proc.returncode})"))


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_healthy(ports: dict[str, int]) -> None:
    deadline = time.monotonic() + 60
    for port in ports.values():
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the service on port {port} did not become healthy")
            time.sleep(0.3)


def _replay(gateway_port: int, producers: dict[str, Ed25519PrivateKey]) -> int:
    """Each agency signs its event with its own key and posts it."""
    console.rule("[bold]Agencies publish the family's timeline through the HTTP gateway")
    events = family.timeline(datetime.now(UTC))
    agencies = {org: OrganisationAuth(org, key) for org, key in producers.items()}
    with httpx.Client(base_url=f"http://127.0.0.1:{gateway_port}", timeout=30) as client:
        for said, event in events:
            body = EventAdapter.dump_json(event)
            signature = signature_header(body, producers[event.source_org])
            answer = client.post("/v1/events", content=body, auth=agencies[event.source_org],
                                 headers={"content-type": "application/json",
                                          "sgb-signature": signature})  # fmt: skip
            answer.raise_for_status()
            console.print(f"  {answer.status_code} {event.event_type.value:<28} {said}")
    return len(events)


async def _settle(url: str, events: int) -> int:
    """Waits until the router has routed every event and every notice is in an inbox."""
    engine = db.make_engine(url)
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    try:
        while time.monotonic() < deadline:
            async with db.sessions(engine)() as session:
                routed = await session.scalar(select(func.count(db.RoutedEvent.event_id)))
                produced = await session.scalar(select(func.sum(db.RoutedEvent.notices)))
                stored = await session.scalar(select(func.count(db.InboxNotice.notice_id)))
            if routed == events and produced == stored:
                return stored or 0
            await asyncio.sleep(0.5)
    finally:
        await engine.dispose()
    raise RuntimeError(f"timed out: {routed}/{events} events routed, {stored}/{produced} stored")
