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
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from ipaddress import ip_network
from pathlib import Path
from typing import TextIO

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console

from broker.adapters import db
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.demo import family, neighbour
from broker.demo.border import show_crossing
from broker.demo.show import show_inbox
from broker.keys import KeyStore, audit_key
from broker.rules import actors
from broker.services.directory_admin import load_directory
from broker.services.peers import register_peer
from broker.services.web_sign_in import issue_link
from deploy.ports import free_port
from producers import crypto
from producers.auth import OrganisationAuth
from producers.broker_keys import BrokerPublicKeys
from producers.sdk import signature_header
from schemas.events import EventAdapter
from schemas.peers import PeerSpec

# Wide enough for the chronology's columns, also when the output is not a terminal (rich
# then assumes 80 columns and cuts them).
console = Console(width=max(Console().width, 180))
SETTLE_TIMEOUT_S = 90
POLL_S = 0.2  # how often a wait asks again (a count in SQLite, a /health): cheap
LOOPBACK = "127.0.0.0/8"  # where the other broker listens, in the demo


def run_demo(keep_running: bool | None = None) -> int:
    """``keep_running``: keep the brokers (and the web inbox) up until Ctrl-C; by default
    only when run in a terminal, so that a script or a test's run stops by itself."""
    if keep_running is None:
        keep_running = sys.stdin.isatty() and sys.stdout.isatty()
    work = Path(tempfile.mkdtemp(prefix="sgb-demo-"))
    with ExitStack() as stack:
        bootstrap = os.environ.get("SGB_KAFKA_BOOTSTRAP_SERVERS") or stack.enter_context(
            _local_kafka(work / "kafka")
        )
        ports = {"demo": free_port(), "newport": free_port()}
        env = _environment(work, bootstrap, ports["demo"])
        newport_env = _neighbour_environment(work / "newport", bootstrap, ports["newport"])
        recipients = _recipient_keys(work / "recipients")
        producers = family.producer_keys()
        keys = KeyStore.create(work / "keys")
        newport_keys = neighbour.NeighbourKeys.made()
        newport_broker = KeyStore.create(work / "newport" / "keys")
        urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        asyncio.run(_load_directory(env["SGB_DATABASE_URL"], recipients, producers,
                                    audit_key(work / "keys"),
                                    neighbour.peer(neighbour.TITLE, (neighbour.AREA,),
                                                   urls["newport"], newport_broker.public,
                                                   neighbour.NEIGHBOUR_AS_PEER,
                                                   neighbour.DEMO_AS_PEER)))  # fmt: skip
        asyncio.run(_load_neighbour(newport_env["SGB_DATABASE_URL"], newport_keys,
                                    audit_key(work / "newport" / "keys"),
                                    neighbour.peer("The demo partnership", (family.AREA,),
                                                   urls["demo"], keys.public,
                                                   neighbour.DEMO_AS_PEER,
                                                   neighbour.NEIGHBOUR_AS_PEER)))  # fmt: skip
        commands = [(name, args, env) for name, args in _processes(ports["demo"]).items()]
        commands += [(f"newport-{name}", args, newport_env)
                     for name, args in _processes(ports["newport"]).items()]  # fmt: skip
        stack.enter_context(_running(commands, work))
        _wait_healthy(ports)
        expected = _replay(ports["demo"], producers)
        notices = asyncio.run(_settle(env["SGB_DATABASE_URL"], expected))
        console.rule(f"[bold]{expected} events routed into {notices} notices")
        private = {cid: key.private for cid, key in recipients.items()}
        show_inbox(console, ports["demo"], private, keys.public, producers)
        _show_crossing(urls, producers, newport_keys, newport_broker.public)
        links = asyncio.run(sign_in_links(env["SGB_DATABASE_URL"], audit_key(work / "keys"),
                                           urls["demo"]))  # fmt: skip
        print_web_inbox(console, urls["demo"], links)
        if keep_running:
            _until_interrupted()
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


def _environment(work: Path, bootstrap: str, port: int) -> dict[str, str]:
    # A run of its own on a shared Kafka (SGB_KAFKA_BOOTSTRAP_SERVERS) may set its own.
    prefix = os.environ.get("SGB_TOPIC_PREFIX", "demo.")
    return {
        **_broker_environment(work, bootstrap, prefix, port),
        # So that the demo shows escalation: GP notices fall due within a minute (28.8 s).
        "SGB_ROUTING__DEADLINE_HOURS__gp_information": "0.008",
        "SGB_FOLLOW_UP_INTERVAL_SECONDS": "1",
    }


def _neighbour_environment(work: Path, bootstrap: str, port: int) -> dict[str, str]:
    prefix = os.environ.get("SGB_TOPIC_PREFIX", "demo.") + "newport."
    return _broker_environment(work, bootstrap, prefix, port)


def _broker_environment(work: Path, bootstrap: str, prefix: str, port: int) -> dict[str, str]:
    """One broker's own database, keys, topics and consumer groups; its front on ``port``,
    which is also its web inbox's address (plain http on loopback for the demo only);
    transfers and receipts may go to loopback, where the other broker listens."""
    return {
        **os.environ,
        "SGB_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "SGB_DATABASE_URL": f"sqlite+aiosqlite:///{work / 'broker.db'}",
        "SGB_KEYS_DIR": str(work / "keys"),
        "SGB_TOPIC_PREFIX": prefix,
        "SGB_ROUTER_GROUP": f"{prefix}router",
        "SGB_DELIVERY_GROUP": f"{prefix}delivery",
        "SGB_INBOX_BASE_URL": f"http://localhost:{port}",  # passkeys need a host name
        "SGB_WEB_INSECURE_LOOPBACK": "true",
        "SGB_WEBHOOKS__ALLOWED_NETWORKS": json.dumps([LOOPBACK]),
        "SGB_WEBHOOKS__POLL_SECONDS": "0.5",
        "SGB_FOLLOW_UP_INTERVAL_SECONDS": "1",
        "SGB_LOG_JSON": "true",
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
    newport: PeerSpec,
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
        await register_peer(uow, newport, actors.operator("import"), now, [ip_network(LOOPBACK)])
    await engine.dispose()


async def _load_neighbour(
    url: str, keys: neighbour.NeighbourKeys, key: bytes, demo: PeerSpec
) -> None:
    """Newport's broker's directory, the demo partnership's broker its peer."""
    engine = db.make_engine(url)
    await db.create_schema(engine)
    async with SqlUnitOfWork(db.sessions(engine, key)) as uow:
        await load_directory(uow, neighbour.directory(keys, datetime.now(UTC).date()))
        await register_peer(uow, demo, actors.operator("import"), datetime.now(UTC),
                            [ip_network(LOOPBACK)])  # fmt: skip
    await engine.dispose()


def _processes(port: int) -> dict[str, list[str]]:
    cli = [sys.executable, "-m", "broker.entrypoints.cli"]
    return {
        "front": [sys.executable, "-m", "broker.demo.front", "--port", str(port)],
        "router": [*cli, "router"],
        "delivery": [*cli, "delivery"],
    }


def _show_crossing(
    urls: dict[str, str], producers: dict[str, Ed25519PrivateKey],
    newport: neighbour.NeighbourKeys, newport_broker: BrokerPublicKeys,
) -> None:  # fmt: skip
    demo_door = OrganisationAuth("la-front-door", producers["la-front-door"])
    newport_door = OrganisationAuth(neighbour.FRONT_DOOR,
                                    newport.organisations[neighbour.FRONT_DOOR])  # fmt: skip
    with (
        httpx.Client(base_url=urls["demo"], auth=demo_door, timeout=30) as demo,
        httpx.Client(base_url=urls["newport"], auth=newport_door, timeout=30) as there,
    ):
        show_crossing(console, demo, there, family.HOUSEHOLD,
                      newport.recipients[neighbour.DUTY_MANAGER], newport_broker)  # fmt: skip


async def sign_in_links(url: str, key: bytes, inbox_url: str) -> dict[str, str]:
    """A one-time sign-in link for each demo contact, issued as its administrator would."""
    engine = db.make_engine(url)
    now = datetime.now(UTC)
    links: dict[str, str] = {}
    async with SqlUnitOfWork(db.sessions(engine, key)) as uow:
        for contact_id, _, _ in family.contacts():
            issued = await issue_link(uow, contact_id, "la-front-door", now)
            links[contact_id] = f"{inbox_url}/inbox/sign-in/{issued.token}"
    await engine.dispose()
    return links


def print_web_inbox(console: Console, inbox_url: str, links: dict[str, str]) -> None:
    console.rule("[bold]The web inbox")
    console.print(f"Web inbox: {inbox_url}/inbox")
    console.print("One-time sign-in links, one per contact (each works once, within 15 "
                  "minutes; open it in a browser on this machine):")  # fmt: skip
    for contact_id, link in links.items():
        console.print(f"  {contact_id:<40} {link}", soft_wrap=True)


def _until_interrupted() -> None:
    """Until Ctrl-C (or a SIGTERM, as a service manager stops it): either way everything
    the demo started is stopped on the way out."""
    console.print("[bold]The brokers and the web inbox keep running: press Ctrl-C to stop.")
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        console.print("Stopping...")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@contextmanager
def _running(commands: list[tuple[str, list[str], dict[str, str]]], work: Path) -> Iterator[None]:
    """Starts each process; at the end asks them all to stop at once (each drains in
    parallel, not one after another), then waits for each, the last started first."""
    started: list[tuple[str, subprocess.Popen[bytes], TextIO]] = []
    try:
        for name, args, env in commands:
            log = (work / f"{name}.log").open("w")
            proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
            started.append((name, proc, log))
            console.print(f"Started {name} (pid {proc.pid}, log {log.name})")
        yield
    finally:
        for _, each, _ in started:
            each.send_signal(signal.SIGTERM)
        for stopping in reversed(started):
            _stopped(*stopping)


def _stopped(name: str, proc: "subprocess.Popen[bytes]", log: TextIO) -> None:
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()
    clean = proc.returncode in (0, -signal.SIGTERM)  # uvicorn re-raises SIGTERM when done
    console.print(f"Stopped {name}" + ("" if clean else f" (exit {proc.returncode})"))


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
            time.sleep(POLL_S)


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
    """Waits until the router has routed every event and each notice it made is in an inbox
    (follow-ups are not counted: see db.routing_progress)."""
    engine = db.make_engine(url)
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    try:
        while time.monotonic() < deadline:
            async with db.sessions(engine)() as session:
                done = await db.routing_progress(session)
            if done.events == events and done.produced == done.stored:
                return done.stored
            await asyncio.sleep(POLL_S)
    finally:
        await engine.dispose()
    raise RuntimeError(f"timed out: {done.events}/{events} events routed, "
                       f"{done.stored}/{done.produced} stored")  # fmt: skip
