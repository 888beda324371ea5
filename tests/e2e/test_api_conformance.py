"""schemathesis against the OpenAPI document of each HTTP API, served for real on loopback
and authenticated: every answer's status is one its operation documents, and every answer's
body matches the schema documented for that status (the problem details included). One test
per API; the number of cases each run made is printed."""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from broker.config import Settings
from deploy.ports import free_port
from tests.e2e.test_api_fuzzing import _cases, _stop, access_token, wait_healthy

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
# Enough to meet each operation's documented refusals, kept small for two loaded cores:
# the schema's own examples, then this many generated cases (valid and not) per operation.
# The coverage phase's boundary cases (some 3000 on the gateway's event union: minutes) are
# left to tests/e2e/test_api_fuzzing.py's depth and to a run by hand (``st run --phases
# coverage``), as are the stateful phase's sequences.
EXAMPLES = 10
PHASES = "examples,fuzzing"
CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance"
FRONT_DOOR = "la-front-door"


@pytest.fixture(scope="session", params=["sqlite"])
def database_backend(request: pytest.FixtureRequest) -> str:
    """On SQLite alone: the document is the same on either database, and the fuzzing test
    (test_api_fuzzing.py) looks for server errors on both."""
    backend: str = request.param
    return backend


@pytest.fixture
def serve(settings: Settings, directory: None, tmp_path: Path) -> Iterator[object]:
    """Starts one API (``serve(name)``) as its own process on loopback, on the test's
    database; the administrator is the demo's front door, whose token the run sends."""
    env = {**os.environ, "SGB_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
           "SGB_DATABASE_URL": settings.database_url, "SGB_KEYS_DIR": str(settings.keys_dir),
           "SGB_TOPIC_PREFIX": settings.topic_prefix, "SGB_TOPICS__PARTITIONS": "2",
           "SGB_ADMINISTRATORS": json.dumps([FRONT_DOOR]),
           "SGB_RATE_LIMIT": "100000/minute", "SGB_ORGANISATION_RATE_LIMIT": "100000/minute",
           "SGB_API_DOCS": "true", "SGB_LOG_JSON": "true"}  # fmt: skip
    started: list[subprocess.Popen[bytes]] = []

    def start(name: str) -> int:
        port = free_port()
        with (tmp_path / f"{name}.log").open("w") as log:
            started.append(subprocess.Popen(
                [sys.executable, "-m", "broker.entrypoints.cli", name, "--port", str(port)],
                env=env, stdout=log, stderr=subprocess.STDOUT,
            ))  # fmt: skip
        wait_healthy(port)
        return port

    yield start
    for process in started:
        _stop(process)


@pytest.mark.parametrize("api", ["gateway", "inbox", "admin"])
class TestApiConformance:
    def test_answers_match_the_document(
        self,
        api: str,
        serve: object,
        producer_keys: dict[str, Ed25519PrivateKey],
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """Generated requests to every operation get only documented statuses, each with a
        body that matches its documented schema."""
        assert callable(serve)
        port = serve(api)
        token = access_token(port, FRONT_DOOR, producer_keys[FRONT_DOOR])
        run = subprocess.run(
            [str(Path(sys.executable).with_name("st")), "run",
             f"http://127.0.0.1:{port}/openapi.json", "--checks", CHECKS,
             "--max-examples", str(EXAMPLES), "--header", f"Authorization: Bearer {token}",
             "--phases", PHASES, "--seed", "18", "--no-color", "--suppress-health-check", "all"],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        (tmp_path / f"{api}.st.txt").write_text(run.stdout)
        failures = run.stdout[run.stdout.find("FAILURES") :]
        assert run.returncode == 0, failures[:12000]
        with capsys.disabled():
            print(f"\nschemathesis conformance cases on the {api} API: {_cases(run.stdout)}")
        assert _cases(run.stdout) > 0
