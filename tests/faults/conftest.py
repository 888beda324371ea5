"""Fixtures for the fault-injection suite: Kafka clusters of its own, on ports 29092 and up.

Faults that leave Kafka whole share one single-node cluster (module scope); each fault still
gets its own topics, consumer groups, keys and database. Every fault's counts are printed at
the end of the run, passed or failed.
"""

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from deploy.localkafka import LocalKafkaCluster
from deploy.localpostgres import LocalPostgres, bin_dir

SHARED_KAFKA_PORT = 29092  # 29092-29093: the cluster faults share
RESTART_KAFKA_PORT = 29100  # 29100-29101: the one the restart fault stops and starts
THREE_NODE_KAFKA_PORT = 29110  # 29110-29115: three nodes, one of them lost for a while

COUNTS_KEY = pytest.StashKey[list[str]]()
ClusterFactory = Callable[[int, int], LocalKafkaCluster]


@pytest.fixture(scope="module")
def shared_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafkaCluster]:
    with LocalKafkaCluster(tmp_path_factory.mktemp("kafka-shared"), 1, SHARED_KAFKA_PORT) as c:
        yield c


@pytest.fixture
def kafka_cluster_factory(tmp_path: Path) -> Iterator[ClusterFactory]:
    """A cluster the test may break, stopped however the test ends."""
    started: list[LocalKafkaCluster] = []

    def make(nodes: int, base_port: int) -> LocalKafkaCluster:
        cluster = LocalKafkaCluster(tmp_path / f"kafka-{nodes}", nodes, base_port)
        started.append(cluster)
        cluster.start()
        return cluster

    yield make
    for cluster in started:
        cluster.stop()


@pytest.fixture
def postgres() -> Iterator[LocalPostgres]:
    """A PostgreSQL server of the test's own, free to be stopped and started (from Debian's
    packages; ``python3 -m deploy.localpostgres install``)."""
    if bin_dir() is None:
        message = "PostgreSQL is not installed (python3 -m deploy.localpostgres install)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    server = LocalPostgres.temporary()
    server.start()
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture
def report(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Prints a fault's line of counts now and again in the run's summary."""
    lines = request.config.stash.setdefault(COUNTS_KEY, [])

    def add(line: str) -> None:
        lines.append(line)
        print(f"\n{line}", flush=True)

    return add


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = terminalreporter.config.stash.get(COUNTS_KEY, [])
    if lines:
        terminalreporter.section("fault injection counts")
        for line in lines:
            terminalreporter.write_line(line)
