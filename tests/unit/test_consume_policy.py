"""The consume loop's policy: which failures it waits out, when it is ready, and what its
metrics call a topic. (How long it waits is broker.delivery.backoff, tested on its own.)"""

import sqlite3

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError

from broker.adapters.kafka import ConsumerHealth, Topics, is_transient, topic_role
from broker.config import TopicSettings
from broker.errors import PublishFailed, SignatureInvalid


class _PostgresShuttingDown(Exception):
    sqlstate = "57P03"  # what asyncpg's CannotConnectNowError carries


def _invalidated() -> DBAPIError:
    return DBAPIError("SELECT 1", None, sqlite3.OperationalError("gone"),
                      connection_invalidated=True)  # fmt: skip


class TestTransient:
    @pytest.mark.parametrize(
        "exc",
        [
            PublishFailed("Kafka did not acknowledge: KafkaTimeoutError"),
            OperationalError("SELECT 1", None, sqlite3.OperationalError("database is locked")),
            InterfaceError("SELECT 1", None, sqlite3.InterfaceError("closed")),
            _invalidated(),
            DBAPIError("SELECT 1", None, _PostgresShuttingDown("shutting down")),
            ConnectionRefusedError(),
        ],
    )
    def test_the_database_or_kafka_away_is_waited_out(self, exc: Exception) -> None:
        assert is_transient(exc)

    @pytest.mark.parametrize(
        "exc",
        [
            IntegrityError("INSERT", None, sqlite3.IntegrityError("UNIQUE")),
            DBAPIError("SELECT 1", None, sqlite3.ProgrammingError("syntax")),
            SignatureInvalid("forged"),
            KeyError("bug"),
            ValueError("bug"),
        ],
    )
    def test_a_bug_is_not(self, exc: Exception) -> None:
        assert not is_transient(exc)


class TestTopicRole:
    def test_every_topic_has_its_role_whatever_the_prefix(self) -> None:
        topics = Topics.with_prefix("t-1234.")
        assert [topic_role(t) for t in topics.retention_ms(TopicSettings())] == [
            "events", "notices", "acknowledgements", "dead_letters", "audit",
        ]  # fmt: skip

    @given(st.text(max_size=40))
    def test_labels_stay_few(self, topic: str) -> None:
        assert topic_role(topic) in {
            "events", "notices", "acknowledgements", "dead_letters", "audit", "other",
        }  # fmt: skip


class TestConsumerHealth:
    def test_ready_only_when_running_joined_and_not_retrying(self) -> None:
        health = ConsumerHealth()
        assert health.problem() == "consumer not running"
        health.running = True
        assert health.problem() == "consumer has not joined its group"
        health.joined = True
        assert health.problem() is None
        health.retrying = "OperationalError"
        assert health.problem() == "retrying a batch after OperationalError"
