"""schemathesis against the OpenAPI document of every HTTP API, served for real on loopback
(gateway, inbox and front door, directory admin), authenticated: no server error (5xx) in
the whole run. The gateway is fuzzed as a producer that may publish, each generated event
sent and signed as a demo organisation that may publish its type (fuzz_signing.py), and its
HAR report must show events refused as invalid (422) and events accepted (202, 200), accepted
events of every type the gateway offers: the validation and acceptance behind the token, not
only a 401 or 403. The number of cases each run made, and those answers, are printed."""

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from broker.config import Settings
from deploy.ports import free_port
from producers import auth as agency_auth
from producers import crypto

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
# Generated cases per operation in the fuzzing and stateful phases: each operation is still
# met with valid and invalid requests, on both databases; the coverage phase's boundary cases
# (every operation's, most of the run: some 3,000 on the gateway alone) are not counted here.
# Five, not ten: the gateway's coverage phase now publishes some 300 events (Kafka, acks=all,
# and their audit rows), and the fuzzing phases pay for that time.
EXAMPLES = 5
SERVICES = ("gateway", "inbox", "admin")
# The inbox's and the admin API's runs go as the front door, an administrator; the gateway's
# as whichever demo organisation may publish what each case carries (fuzz_signing.py).
ADMINISTRATOR = "la-front-door"


@pytest.fixture
def live(settings: Settings, directory: None, tmp_path: Path) -> Iterator[dict[str, int]]:
    """The three APIs as separate processes on loopback, sharing the test's database."""
    env = {**os.environ, "SGB_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
           "SGB_DATABASE_URL": settings.database_url, "SGB_KEYS_DIR": str(settings.keys_dir),
           "SGB_TOPIC_PREFIX": settings.topic_prefix, "SGB_TOPICS__PARTITIONS": "2",
           "SGB_ADMINISTRATORS": json.dumps(["la-front-door"]),
           "SGB_RATE_LIMIT": "100000/minute", "SGB_ORGANISATION_RATE_LIMIT": "100000/minute",
           "SGB_API_DOCS": "true", "SGB_LOG_JSON": "true"}  # fmt: skip
    ports = {name: free_port() for name in SERVICES}
    with ExitStack() as stack:
        for name, port in ports.items():
            log = stack.enter_context((tmp_path / f"{name}.log").open("w"))
            process = subprocess.Popen(
                [sys.executable, "-m", "broker.entrypoints.cli", name, "--port", str(port)],
                env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
            stack.callback(_stop, process)
        for port in ports.values():
            wait_healthy(port)
        yield ports


def _stop(process: subprocess.Popen[Any]) -> None:
    process.terminate()
    process.wait(timeout=20)


def wait_healthy(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.3)
    raise RuntimeError(f"nothing healthy on port {port}")


def access_token(port: int, org: str, key: Ed25519PrivateKey) -> str:
    """The organisation's access token from this API's own token endpoint."""
    url = httpx.URL(f"http://127.0.0.1:{port}/v1/oauth/token")
    with httpx.Client() as client:
        answer = client.send(agency_auth.token_request(url, org, key))
    answer.raise_for_status()
    return str(answer.json()["access_token"])


class TestApiFuzzing:
    def test_no_server_error_on_any_api(
        self,
        live: dict[str, int],
        producer_keys: dict[str, Ed25519PrivateKey],
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """Generated requests to every operation of every API never meet a 5xx, and the
        gateway's generated events get past authentication and the signature check."""
        runs = {name: _st_run(name, port, producer_keys, tmp_path) for name, port in live.items()}
        # The three runs at once: each waits on its server half the time, so together they
        # keep both cores busy (one after another they took 40-140 s each on two cores).
        counts = {}
        with ExitStack() as stack:
            started = {}
            for name, (command, env) in runs.items():
                output = stack.enter_context((tmp_path / f"{name}.st.txt").open("w+"))
                run = subprocess.Popen(command, env=env, stdout=output,
                                       stderr=subprocess.STDOUT, text=True)  # fmt: skip
                stack.callback(_stop, run)  # a no-op once it has exited
                started[name] = (run, output)
            for name, (run, output) in started.items():
                run.wait(timeout=600)
                output.seek(0)
                stdout = output.read()
                assert run.returncode == 0, stdout[-3000:]
                counts[name] = _cases(stdout)
        # Every run's cases went with a token that held: each API answered some with a 2xx.
        succeeded = {name: sum(200 <= status < 300 for status in statuses(tmp_path / f"{name}.har"))
                     for name in runs}  # fmt: skip
        events = posts(tmp_path / "gateway.har", "/v1/events")
        answers = Counter(entry["response"]["status"] for entry in events)
        accepted = accepted_types(events)
        with capsys.disabled():
            print(f"\nschemathesis cases run per API (no 5xx): {counts}; "
                  f"POST /v1/events answered: {dict(sorted(answers.items()))}; "
                  f"accepted per event type: {dict(sorted(accepted.items()))}; "
                  f"answered 2xx per API: {succeeded}")  # fmt: skip
        assert all(n > 0 for n in counts.values())
        assert all(n > 0 for n in succeeded.values())
        # Generated events meet the validation (422) and the acceptance (202, or 200 for
        # the same event again), not only the authentication in front of them.
        assert answers[422] > 0
        assert answers[202] + answers[200] > 0
        # Each event type is sent as an organisation that may publish it, so each is accepted.
        assert offered_event_types(live["gateway"]) - set(accepted) == set()


def _st_run(
    name: str, port: int, producer_keys: dict[str, Ed25519PrivateKey], tmp_path: Path
) -> tuple[list[str], dict[str, str]]:
    """The command and environment of one API's run, each with the hook (fuzz_signing.py),
    which sends every case with a token it keeps fresh: the inbox's and the admin API's as
    the front door, an administrator; the gateway's as an organisation that may publish
    what the case carries, with a HAR report that lists every answer."""
    command = [str(Path(sys.executable).with_name("st")), "run",
               f"http://127.0.0.1:{port}/openapi.json", "--checks", "not_a_server_error",
               "--max-examples", str(EXAMPLES),
               "--report-junit-path", str(tmp_path / f"{name}.xml"), "--no-color"]  # fmt: skip
    keys = tmp_path / f"{name}-keys"
    for org, key in producer_keys.items():
        crypto.write_private_key(keys / f"{org}.pem", key)
    hook = {"SCHEMATHESIS_HOOKS": str(Path(__file__).with_name("fuzz_signing.py")),
            "SGB_FUZZ_KEYS": str(keys),
            "SGB_FUZZ_TOKEN_URL": f"http://127.0.0.1:{port}/v1/oauth/token"}  # fmt: skip
    har = ["--report", "junit,har", "--report-har-path", str(tmp_path / f"{name}.har")]
    if name != "gateway":
        return [*command, *har], {**os.environ, **hook, "SGB_FUZZ_CALLER": ADMINISTRATOR}
    return [*command, *har], {**os.environ, **hook}


def statuses(har: Path) -> list[int]:
    """The status of every answer in a run's HAR report."""
    entries: list[dict[str, Any]] = json.loads(har.read_text())["log"]["entries"]
    return [entry["response"]["status"] for entry in entries]


def posts(har: Path, path: str) -> list[dict[str, Any]]:
    """A run's HAR report's entries of a POST to ``path``."""
    entries: list[dict[str, Any]] = json.loads(har.read_text())["log"]["entries"]
    return [
        entry
        for entry in entries
        if entry["request"]["method"] == "POST" and urlsplit(entry["request"]["url"]).path == path
    ]


def accepted_types(events: list[dict[str, Any]]) -> Counter[str]:
    """How many events of each type were accepted (202) or found again (200) among these
    entries of POST /v1/events (an event's type is in the body it was sent as)."""
    return Counter(
        json.loads(entry["request"]["postData"]["text"])["event_type"]
        for entry in events
        if entry["response"]["status"] in (200, 202)
    )


def offered_event_types(port: int) -> set[str]:
    """The event types the gateway's OpenAPI document offers for POST /v1/events."""
    document = httpx.get(f"http://127.0.0.1:{port}/openapi.json").json()
    body = document["paths"]["/v1/events"]["post"]["requestBody"]["content"]
    return set(body["application/json"]["schema"]["discriminator"]["mapping"])


def _cases(output: str) -> int:
    """The number of generated test cases the run reports."""
    found = re.search(r"(\d+) generated", output) or re.search(r"Test cases:\s*(\d+)", output)
    return int(found.group(1)) if found else 0
