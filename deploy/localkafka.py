"""Run a real Apache Kafka (KRaft) on loopback without Docker, for tests and local development.

Version choice
--------------
``KAFKA_VERSION`` is pinned to **4.1.1**. It was checked here against aiokafka 0.14.0: topic
creation with ``AIOKafkaAdminClient``, an idempotent ``acks='all'`` producer, a consumer group
committing offsets, and a producer transaction (``transactional_id`` plus
``send_offsets_to_transaction``) read back by a ``read_committed`` consumer all work, on one
node and on three. 4.x is the line production brokers run, so the fallback to 3.9.1 was not needed.

Kafka 4.x logs through Log4j2 but its Maven artifact brings no Log4j2 implementation: we add
``log4j-core`` and the SLF4J binding. Kafka 4.1 still uses SLF4J 1.7 (``slf4j-api`` 1.7.36), so
the binding is ``log4j-slf4j-impl`` (the SLF4J 1.x one; it is also what the Kafka distribution
ships); ``log4j-slf4j2-impl`` would need a newer ``slf4j-api`` forced in. The config is
``deploy/log4j2.properties``: one file appender per node, nothing on stdout.

How it works
------------
1. :func:`resolve_jars` writes a tiny pom into a cache directory and lets Maven copy the runtime
   dependencies of ``org.apache.kafka:kafka_2.13`` there (offline first, then online). A second
   run finds the jars and never calls Maven.
2. :class:`LocalKafkaCluster` formats each node's KRaft storage with ``kafka.tools.StorageTool``
   in its own JVM (it calls ``System.exit``): ``--standalone`` for one node, the same cluster id
   and ``--initial-controllers`` for several. Then each node runs ``kafka.Kafka`` as a combined
   broker+controller bound to 127.0.0.1 only, and :meth:`LocalKafkaCluster.start` waits until a
   metadata request lists every broker.

CLI::

    python -m deploy.localkafka start [--nodes N] [--dir DIR] [--port P]
    python -m deploy.localkafka resolve
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Self

from deploy.ports import free_ports

KAFKA_VERSION = "4.1.1"
SCALA_VERSION = "2.13"
LOG4J_VERSION = "2.24.3"  # the Log4j2 version Kafka 4.1 is built against

HOST = "127.0.0.1"
HEAP = "-Xmx1g"  # a test session makes thousands of partitions: 512m ran out once
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 20.0
MAVEN_TIMEOUT_S = 600.0
LOG_TAIL_LINES = 40
LAYOUT_FILE = "cluster.json"  # cluster id, ports and directory ids of a workdir

# (groupId, artifactId, version) resolved with all their runtime dependencies.
_ARTIFACTS: tuple[tuple[str, str, str], ...] = (
    ("org.apache.kafka", f"kafka_{SCALA_VERSION}", KAFKA_VERSION),
    ("org.apache.logging.log4j", "log4j-core", LOG4J_VERSION),
    ("org.apache.logging.log4j", "log4j-slf4j-impl", LOG4J_VERSION),
)


class LocalKafkaError(RuntimeError):
    """Kafka could not be resolved, formatted or started."""


# --------------------------------------------------------------------------- jar resolution


def cache_dir(version: str = KAFKA_VERSION) -> Path:
    """Directory with ``pom.xml`` and ``libs/`` for one version (env ``SGB_KAFKA_CACHE``)."""
    root = os.environ.get("SGB_KAFKA_CACHE")
    base = Path(root) if root else Path.home() / ".cache" / "safeguarding-broker"
    return base / f"kafka-{version}"


def _libs_ready(libs: Path) -> bool:
    """True when ``libs`` holds a complete copy (it is only ever created by an atomic rename)."""
    return any(libs.glob(f"kafka_{SCALA_VERSION}-*.jar"))


def _pom_xml() -> str:
    deps = "".join(
        f"<dependency><groupId>{g}</groupId><artifactId>{a}</artifactId>"
        f"<version>{v}</version></dependency>\n    "
        for g, a, v in _ARTIFACTS
    )
    return (
        '<project xmlns="http://maven.apache.org/POM/4.0.0">\n'
        "  <modelVersion>4.0.0</modelVersion>\n"
        "  <groupId>local.sgb</groupId><artifactId>localkafka</artifactId>"
        "<version>1</version>\n"
        f"  <dependencies>\n    {deps.rstrip()}\n  </dependencies>\n</project>\n"
    )


def _run_maven(pom: Path, out: Path, offline: bool) -> subprocess.CompletedProcess[str]:
    cmd = ["mvn", "-q", "-B", *(["-o"] if offline else []), "-f", str(pom)]
    cmd += ["dependency:copy-dependencies", "-DincludeScope=runtime", f"-DoutputDirectory={out}"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=MAVEN_TIMEOUT_S, check=False)


def resolve_jars(version: str = KAFKA_VERSION) -> Path:
    """Return the directory of broker jars, running Maven only when it is not populated yet."""
    home = cache_dir(version)
    libs = home / "libs"
    if _libs_ready(libs):
        return libs
    if shutil.which("mvn") is None:
        raise LocalKafkaError("Maven (mvn) is not on PATH; it is needed once to fetch Kafka jars")
    home.mkdir(parents=True, exist_ok=True)
    pom = home / "pom.xml"
    pom.write_text(_pom_xml(), encoding="utf-8")
    staging = Path(tempfile.mkdtemp(prefix="libs-", dir=home))
    try:
        _copy_dependencies(pom, staging)
        with contextlib.suppress(OSError):  # a concurrent resolver may have won the race
            staging.rename(libs)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if not _libs_ready(libs):
        raise LocalKafkaError(f"Maven finished but {libs} holds no Kafka jar")
    return libs


def _copy_dependencies(pom: Path, out: Path) -> None:
    """Copy runtime jars into ``out``: offline from ~/.m2 when possible, else online."""
    if _run_maven(pom, out, offline=True).returncode == 0:
        return
    online = _run_maven(pom, out, offline=False)
    if online.returncode != 0:
        tail = (online.stdout + online.stderr)[-3000:]
        raise LocalKafkaError(f"mvn dependency:copy-dependencies failed:\n{tail}")


# --------------------------------------------------------------------------- helpers


def kafka_uuid() -> str:
    """A random id in Kafka's ``Uuid`` text form: 16 bytes, URL-safe base64, no padding.

    Like Kafka's own ``Uuid.randomUuid``, never one starting with '-': command-line parsers
    (StorageTool's among them) would take it for an option.
    """
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode("ascii")
        if not text.startswith("-"):
            return text


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    if not path.exists():
        return f"({path} does not exist)"
    text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return "\n".join(text[-lines:])


def _port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
        return True
    return False


def _write_properties(path: Path, props: dict[str, str]) -> None:
    path.write_text("".join(f"{k}={v}\n" for k, v in props.items()), encoding="utf-8")


async def _broker_count(bootstrap: str) -> int:
    """Number of brokers a metadata request returns (0 if the cluster does not answer yet)."""
    from aiokafka.admin import AIOKafkaAdminClient  # lazy: only needed at start-up

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        await admin.start()
        info = await admin.describe_cluster()
        return len(info.get("brokers", []))
    except Exception:  # any failure just means "not ready yet"
        return 0
    finally:
        await admin.close()


def _count_brokers(bootstrap: str) -> int:
    """Run :func:`_broker_count` on a private loop, so callers inside a running loop work too."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, _broker_count(bootstrap)).result()


# --------------------------------------------------------------------------- nodes


@dataclass(frozen=True)
class NodeSpec:
    """Fixed identity of one combined broker+controller node."""

    node_id: int
    broker_port: int
    controller_port: int
    directory_id: str  # Kafka Uuid of the metadata log dir, named in --initial-controllers
    home: Path

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def config(self) -> Path:
        return self.home / "server.properties"

    @property
    def server_log(self) -> Path:
        return self.home / "logs" / "server.log"

    @property
    def stdout_log(self) -> Path:
        return self.home / "logs" / "stdout.log"

    @property
    def voter(self) -> str:
        return f"{self.node_id}@{HOST}:{self.controller_port}:{self.directory_id}"


def _replication_props(nodes: int) -> dict[str, str]:
    """Internal topics and defaults: RF 1 on one node, RF 3 / min ISR 2 on three or more."""
    rf = min(nodes, 3)
    isr = 1 if nodes == 1 else 2
    return {
        "offsets.topic.replication.factor": str(rf),
        "transaction.state.log.replication.factor": str(rf),
        "transaction.state.log.min.isr": str(isr),
        "default.replication.factor": str(rf),
        "min.insync.replicas": str(isr),
    }


def _server_props(node: NodeSpec, all_nodes: Sequence[NodeSpec]) -> dict[str, str]:
    quorum = ",".join(f"{HOST}:{n.controller_port}" for n in all_nodes)
    return {
        "process.roles": "broker,controller",
        "node.id": str(node.node_id),
        "controller.quorum.bootstrap.servers": quorum,
        "controller.listener.names": "CONTROLLER",
        "listeners": f"PLAINTEXT://{HOST}:{node.broker_port},CONTROLLER://{HOST}:{node.controller_port}",
        "advertised.listeners": f"PLAINTEXT://{HOST}:{node.broker_port}",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(node.data_dir),
        "num.partitions": "1",
        # Fewer partitions for __consumer_offsets / __transaction_state: faster first use.
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.num.partitions": "10",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "false",
        **_replication_props(len(all_nodes)),
    }


def _java_cmd(libs: Path, node: NodeSpec, main: str, *args: str) -> list[str]:
    log4j = resources.files("deploy").joinpath("log4j2.properties")
    return [
        "java",
        HEAP,
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={log4j}",
        f"-Dkafka.logs.dir={node.home / 'logs'}",
        "-cp",
        f"{libs}{os.sep}*",  # expanded by the JVM itself, no shell involved
        main,
        *args,
    ]


# --------------------------------------------------------------------------- layout


def _plan_nodes(workdir: Path, count: int, base_port: int | None) -> list[NodeSpec]:
    """Node ids 1..count; per node a broker port then a controller port."""
    ports = (
        list(range(base_port, base_port + 2 * count))
        if base_port is not None
        else free_ports(2 * count)
    )
    return [
        NodeSpec(i + 1, ports[2 * i], ports[2 * i + 1], kafka_uuid(), workdir / f"node-{i}")
        for i in range(count)
    ]


def _save_layout(path: Path, cluster_id: str, nodes: Sequence[NodeSpec]) -> None:
    """Persist ids and ports: a formatted KRaft quorum remembers its controllers' endpoints."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = ("node_id", "broker_port", "controller_port", "directory_id")
    rows = [{f: getattr(n, f) for f in fields} for n in nodes]
    path.write_text(json.dumps({"cluster_id": cluster_id, "nodes": rows}, indent=2), "utf-8")


def _load_layout(path: Path) -> tuple[str, list[NodeSpec]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    nodes = [
        NodeSpec(
            node_id=int(row["node_id"]),
            broker_port=int(row["broker_port"]),
            controller_port=int(row["controller_port"]),
            directory_id=str(row["directory_id"]),
            home=path.parent / f"node-{i}",
        )
        for i, row in enumerate(data["nodes"])
    ]
    return str(data["cluster_id"]), nodes


def _check_reuse(path: Path, nodes: Sequence[NodeSpec], count: int, base_port: int | None) -> None:
    """Refuse to reuse a workdir whose recorded layout contradicts the arguments."""
    if len(nodes) != count:
        raise ValueError(f"{path} records {len(nodes)} nodes, not {count}")
    if base_port is not None and nodes[0].broker_port != base_port:
        raise ValueError(f"{path} records base port {nodes[0].broker_port}, not {base_port}")


# --------------------------------------------------------------------------- the cluster


class LocalKafkaCluster:
    """One or more combined KRaft nodes on 127.0.0.1, each a child JVM with its own directory."""

    def __init__(self, workdir: Path, nodes: int = 1, base_port: int | None = None) -> None:
        """Plan ``nodes`` nodes under ``workdir``; nothing runs until :meth:`start`.

        Ports are ``base_port``, ``base_port + 1``, ... (broker, controller per node), or free
        loopback ports. A workdir that already holds a cluster keeps its id, ports and data.
        """
        if nodes < 1:
            raise ValueError("nodes must be >= 1")
        self.workdir = Path(workdir).resolve()
        layout = self.workdir / LAYOUT_FILE
        if layout.exists():
            self.cluster_id, self.nodes = _load_layout(layout)
            _check_reuse(layout, self.nodes, nodes, base_port)
        else:
            self.cluster_id, self.nodes = kafka_uuid(), _plan_nodes(self.workdir, nodes, base_port)
        self._procs: dict[int, subprocess.Popen[bytes]] = {}
        self._libs: Path | None = None

    # -- public API --------------------------------------------------------------------

    @property
    def bootstrap_servers(self) -> str:
        """Comma-separated ``127.0.0.1:port`` of every broker listener."""
        return ",".join(f"{HOST}:{n.broker_port}" for n in self.nodes)

    def start(self, timeout: float = START_TIMEOUT_S) -> None:
        """Resolve jars, format storage where needed, start every node, wait until ready.

        Nodes already running are left alone. On failure every node is stopped again.
        """
        try:
            self._libs = resolve_jars()
            _save_layout(self.workdir / LAYOUT_FILE, self.cluster_id, self.nodes)
            for index, node in enumerate(self.nodes):
                if not self.is_running(index):
                    self._prepare(node, self.cluster_id)
                    self._spawn(index)
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM every running node, then SIGKILL whatever has not exited within ``timeout``."""
        for proc in self._procs.values():
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + timeout
        for proc in self._procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._procs.clear()

    def kill(self, node_index: int) -> None:
        """SIGKILL one node (crash simulation); its data and ports are kept for start_node."""
        proc = self._procs.pop(node_index, None)
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def start_node(self, node_index: int, timeout: float = START_TIMEOUT_S) -> None:
        """(Re)start one node on its ports and data, wait until ready; kills it first if running."""
        self.kill(node_index)
        self._spawn(node_index)
        self._wait_ready(timeout)

    def is_running(self, node_index: int) -> bool:
        """True while the node's JVM is alive."""
        proc = self._procs.get(node_index)
        return proc is not None and proc.poll() is None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- internals ---------------------------------------------------------------------

    def _prepare(self, node: NodeSpec, cluster_id: str) -> None:
        """Write the node's server.properties and format its storage unless already formatted."""
        (node.home / "logs").mkdir(parents=True, exist_ok=True)
        _write_properties(node.config, _server_props(node, self.nodes))
        if (node.data_dir / "meta.properties").exists():
            return
        self._format(node, cluster_id)

    def _format(self, node: NodeSpec, cluster_id: str) -> None:
        if len(self.nodes) == 1:
            quorum = ["--standalone"]
        else:
            quorum = ["--initial-controllers", ",".join(n.voter for n in self.nodes)]
        args = ["format", "-t", cluster_id, "-c", str(node.config), *quorum]
        cmd = _java_cmd(self._require_libs(), node, "kafka.tools.StorageTool", *args)
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise LocalKafkaError(
                f"formatting node {node.node_id} failed ({done.returncode}):\n"
                f"{done.stdout}{done.stderr}\n{_tail(node.server_log)}"
            )

    def _spawn(self, index: int) -> None:
        node = self.nodes[index]
        cmd = _java_cmd(self._require_libs(), node, "kafka.Kafka", str(node.config))
        with node.stdout_log.open("ab") as out:  # the child keeps its own copy of the fd
            self._procs[index] = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

    def _require_libs(self) -> Path:
        if self._libs is None:
            self._libs = resolve_jars()
        return self._libs

    def _wait_ready(self, timeout: float) -> None:
        """Poll until every broker port answers and metadata lists all brokers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            if self._ports_open() and _count_brokers(self.bootstrap_servers) >= len(self._procs):
                return
            time.sleep(0.5)
        raise LocalKafkaError(
            f"Kafka not ready after {timeout:.0f}s at {self.bootstrap_servers}\n{self._log_tails()}"
        )

    def _ports_open(self) -> bool:
        return all(_port_open(self.nodes[i].broker_port) for i in self._procs)

    def _check_alive(self) -> None:
        for index, proc in self._procs.items():
            if proc.poll() is not None:
                node = self.nodes[index]
                raise LocalKafkaError(
                    f"Kafka node {node.node_id} exited with {proc.returncode}\n"
                    f"--- {node.server_log}\n{_tail(node.server_log)}\n"
                    f"--- {node.stdout_log}\n{_tail(node.stdout_log)}"
                )

    def _log_tails(self) -> str:
        return "\n".join(f"--- {n.server_log}\n{_tail(n.server_log)}" for n in self.nodes)


# --------------------------------------------------------------------------- CLI


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m deploy.localkafka", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start", help="run a local cluster in the foreground until Ctrl-C")
    start.add_argument("--nodes", type=int, default=1, help="number of nodes (default 1)")
    start.add_argument("--dir", type=Path, default=None, help="work directory (default: temp)")
    start.add_argument("--port", type=int, default=None, help="first port (default: free ports)")
    sub.add_parser("resolve", help="only download the broker jars into the cache")
    return parser.parse_args(argv)


def bootstrap_lines(servers: str) -> list[str]:
    """What to export: the broker's processes (``sgb``) read SGB_KAFKA_BOOTSTRAP_SERVERS,
    the test suite KAFKA_BOOTSTRAP_SERVERS."""
    return [f"SGB_KAFKA_BOOTSTRAP_SERVERS={servers}", f"KAFKA_BOOTSTRAP_SERVERS={servers}"]


def _serve(nodes: int, workdir: Path, port: int | None) -> None:
    """Start, print the bootstrap line, block until SIGINT/SIGTERM, then stop."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM acts like Ctrl-C
    with LocalKafkaCluster(workdir, nodes=nodes, base_port=port) as cluster:
        print("\n".join(bootstrap_lines(cluster.bootstrap_servers)), flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                signal.pause()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    if args.command == "resolve":
        print(resolve_jars())
        return 0
    if args.dir is not None:
        _serve(args.nodes, args.dir, args.port)
        return 0
    with tempfile.TemporaryDirectory(prefix="localkafka-") as tmp:
        _serve(args.nodes, Path(tmp), args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
