"""Structured logs: JSON lines with personal fields redacted and exception messages dropped."""

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from broker.logging import PERSONAL_FIELDS, REDACTED, configure_logging


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    """Restores logging's global state after a test that configures it."""
    saved_config = structlog.get_config()
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    yield capsys
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)
    structlog.reset_defaults()
    structlog.configure(**saved_config)


def production_logging() -> None:
    # Configured inside the test body: only then is sys.stderr the stream capsys reads.
    configure_logging(json=True)


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]


PERSONAL = {
    "nhs_number": "9990000018",
    "given_name": "Jess",
    "clinical_summary": "took an overdose",
}


class TestRedaction:
    def test_lines_are_json_with_the_event_name(
        self, json_logs: pytest.CaptureFixture[str]
    ) -> None:
        """Each log call writes one JSON line naming the event and its ids."""
        production_logging()
        structlog.get_logger("test").info("notice_sealed", notice_id="n-1")
        [line] = lines(json_logs)
        assert (line["event"], line["notice_id"], line["level"]) == ("notice_sealed", "n-1", "info")

    @pytest.mark.parametrize(("field", "value"), list(PERSONAL.items()))
    def test_personal_field_is_redacted(
        self, json_logs: pytest.CaptureFixture[str], field: str, value: str
    ) -> None:
        """A personal field passed to a log call is replaced before it is written."""
        production_logging()
        structlog.get_logger("test").info("event_received", **{field: value})
        output = json_logs.readouterr().err
        assert value not in output
        assert json.loads(output)[field] == REDACTED

    def test_bound_personal_fields_are_redacted(
        self, json_logs: pytest.CaptureFixture[str]
    ) -> None:
        """Personal fields bound to a logger are redacted too."""
        production_logging()
        structlog.get_logger("test").bind(**PERSONAL).info("event_received")
        output = json_logs.readouterr().err
        assert not [value for value in PERSONAL.values() if value in output]

    def test_context_variables_are_redacted(self, json_logs: pytest.CaptureFixture[str]) -> None:
        """Personal fields bound through contextvars are redacted too."""
        production_logging()
        with structlog.contextvars.bound_contextvars(nhs_number="9990000018", event_id="e-1"):
            structlog.get_logger("test").info("routing")
        [line] = lines(json_logs)
        assert (line["nhs_number"], line["event_id"]) == (REDACTED, "e-1")

    def test_ids_are_kept(self, json_logs: pytest.CaptureFixture[str]) -> None:
        """Fields that are not personal pass through unchanged."""
        production_logging()
        structlog.get_logger("test").info("x", event_id="e-1", recipient_org="gp-riverside")
        [line] = lines(json_logs)
        assert (line["event_id"], line["recipient_org"]) == ("e-1", "gp-riverside")

    def test_the_named_fields_are_covered(self) -> None:
        """The fields this suite checks are among those the processor removes."""
        assert set(PERSONAL) <= PERSONAL_FIELDS


class TestExceptions:
    def test_exception_message_never_written(self, json_logs: pytest.CaptureFixture[str]) -> None:
        """log.exception keeps the exception's type, never its message."""
        production_logging()
        log = structlog.get_logger("test")
        try:
            raise ValueError("Jess Carter")
        except ValueError:
            log.exception("routing_failed")
        output = json_logs.readouterr().err
        assert "Jess Carter" not in output
        assert json.loads(output)["exception"]["type"] == "ValueError"

    def test_exception_instance_as_exc_info(self, json_logs: pytest.CaptureFixture[str]) -> None:
        """An exception passed as exc_info is summarised by type only."""
        production_logging()
        structlog.get_logger("test").error("routing_failed", exc_info=ValueError("Jess Carter"))
        output = json_logs.readouterr().err
        assert "Jess Carter" not in output
        assert json.loads(output)["exception"]["type"] == "ValueError"

    def test_exception_says_where(self, json_logs: pytest.CaptureFixture[str]) -> None:
        """The summary says where the exception was raised, by file and function."""
        production_logging()
        try:
            raise KeyError("9990000018")
        except KeyError:
            structlog.get_logger("test").exception("lookup_failed")
        output = json_logs.readouterr().err
        assert "9990000018" not in output
        where = json.loads(output)["exception"]["where"]
        assert any("test_logging.py" in frame for frame in where)

    def test_standard_library_exception_message_never_written(
        self, json_logs: pytest.CaptureFixture[str]
    ) -> None:
        """A library logging through the standard library has its exception summarised too."""
        production_logging()
        try:
            raise ValueError("Jess Carter")
        except ValueError:
            logging.getLogger("aiokafka").exception("consumer_error")
        output = json_logs.readouterr().err
        assert "Jess Carter" not in output
        assert json.loads(output)["exception"]["type"] == "ValueError"
