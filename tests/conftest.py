"""Shared pytest fixtures.

Infrastructure fixtures live here, one small section each; add new ones below the existing
sections. Kafka is found in this order: ``KAFKA_BOOTSTRAP_SERVERS`` from the environment, a
testcontainers Kafka when a Docker engine answers, else a local JVM broker
(``deploy.localkafka``, jars from Maven, no Docker needed).
"""

from __future__ import annotations

import gc
import os
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

# Image for the Docker path; testcontainers' KafkaContainer drives Confluent's images.
KAFKA_TEST_IMAGE = os.environ.get("SGB_KAFKA_TEST_IMAGE", "confluentinc/cp-kafka:7.9.0")


# --------------------------------------------------------------------------- Kafka


def _docker_answers() -> bool:
    """True when a Docker engine responds to a ping (fails fast when there is none)."""
    if "DOCKER_HOST" not in os.environ and not Path("/var/run/docker.sock").exists():
        return False
    # docker-py leaks a socket when the engine does not answer; with warnings as errors that
    # ResourceWarning would fail the session, so collect it here with the warning ignored.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            import docker  # optional: only needed for this probe

            client = docker.from_env(timeout=3)
            try:
                return bool(client.ping())
            finally:
                client.close()
        except Exception:
            return False
        finally:
            gc.collect()


def _kafka_from_container() -> Iterator[str]:
    from testcontainers.community.kafka import KafkaContainer

    container = (
        KafkaContainer(KAFKA_TEST_IMAGE)
        .with_kraft()
        .with_env("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1")
        .with_env("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1")
        .with_env("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false")
    )
    with container:
        yield container.get_bootstrap_server()


def _kafka_from_jvm(workdir: Path) -> Iterator[str]:
    from deploy.localkafka import LocalKafkaCluster  # lazy: JVM path only

    with LocalKafkaCluster(workdir) as cluster:
        yield cluster.bootstrap_servers


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap servers of a Kafka broker shared by the whole session."""
    if env := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield env
    elif _docker_answers():
        yield from _kafka_from_container()
    else:
        yield from _kafka_from_jvm(tmp_path_factory.mktemp("kafka"))


@pytest.fixture
def topic_prefix() -> str:
    """A unique topic/group prefix per test, so tests never see each other's messages."""
    return f"t-{uuid.uuid4().hex[:10]}."
