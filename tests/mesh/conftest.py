"""NHS England's mesh-sandbox, started once a session on a free loopback port, with the
broker's mailbox and a GP practice's mailbox of the tests' own (``SandboxMesh``).

mesh-sandbox pins its own FastAPI (0.150), older than the broker's, so it is installed apart
from the project, into ``<venv>/mesh-sandbox`` (``make`` does: ``pip install --target``), and
runs in a subprocess with that folder first on its path; ``SGB_MESH_SANDBOX_PATH`` names
another folder. The sandbox runs with full authentication (a shared key and each mailbox's
password, as mesh-client signs its requests) and its in-memory store: each session starts
empty.
"""

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from broker.mesh_settings import WORKFLOW_ID, MeshSettings
from deploy.ports import free_port

BROKER_MAILBOX = "X26SGB001"
GP_MAILBOX = "X26GP0001"
GP_ODS = "Y00001"
SHARED_KEY = "TestSharedKey"
PASSWORD = "password"
LAUNCHER = Path(__file__).with_name("sandbox_server.py")
SANDBOX_PATH = Path(os.environ.get("SGB_MESH_SANDBOX_PATH", Path(sys.prefix) / "mesh-sandbox"))
INSTALL = f"pip install --target {SANDBOX_PATH} mesh-sandbox==1.0.137"


@dataclass(frozen=True)
class SandboxMesh:
    url: str

    def settings(self, **changes: object) -> MeshSettings:
        """The broker's MESH settings for this sandbox: quick retries and tracking, and a
        breaker that lets a trial through a second after it opened."""
        base = MeshSettings(
            url=self.url,
            mailbox=BROKER_MAILBOX,
            password=PASSWORD,
            shared_key=SHARED_KEY,
            timeout_seconds=5,
            backoff_base_seconds=0.05,
            backoff_cap_seconds=0.2,
            track_every_seconds=0.1,
            breaker_cool_down_seconds=1,
            poll_seconds=0.05,
            max_attempts=50,
        )
        return base.model_copy(update=changes)


def write_data(folder: Path) -> Path:
    """The sandbox's mailboxes and the workflow the broker sends on."""
    folder.mkdir(parents=True, exist_ok=True)
    mailboxes = [
        {
            "mailbox_id": BROKER_MAILBOX,
            "mailbox_name": "Safeguarding broker",
            "ods_code": "X26",
            "org_code": "X26",
            "password": PASSWORD,
            "billing_entity": "England",
        },
        {
            "mailbox_id": GP_MAILBOX,
            "mailbox_name": "Riverside Surgery",
            "ods_code": GP_ODS,
            "org_code": GP_ODS,
            "password": PASSWORD,
            "billing_entity": "England",
        },
    ]
    workflows = [
        {"workflow_id": WORKFLOW_ID, "senders": [BROKER_MAILBOX], "receivers": [GP_MAILBOX]}
    ]
    (folder / "mailboxes.jsonl").write_text("\n".join(json.dumps(m) for m in mailboxes))
    (folder / "workflows.jsonl").write_text("\n".join(json.dumps(w) for w in workflows))
    return folder


def start_sandbox(data: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    if not (SANDBOX_PATH / "mesh_sandbox").is_dir():
        raise RuntimeError(f"mesh-sandbox is not installed in {SANDBOX_PATH}: {INSTALL}")
    env = os.environ | {
        "SGB_MESH_SANDBOX_DATA": str(data),
        "STORE_MODE": "memory",
        "AUTH_MODE": "full",
        "SHARED_KEY": SHARED_KEY,
        "PYTHONPATH": str(SANDBOX_PATH),
    }
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, str(LAUNCHER), str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mesh-sandbox exited; see {log}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"mesh-sandbox did not start within a minute; see {log}")


def stop_sandbox(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def mesh_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_data(tmp_path_factory.mktemp("mesh-sandbox"))


@pytest.fixture(scope="session")
def sandbox(mesh_data: Path) -> Iterator[SandboxMesh]:
    port = free_port()
    process = start_sandbox(mesh_data, port, mesh_data / "sandbox.log")
    try:
        yield SandboxMesh(f"http://127.0.0.1:{port}")
    finally:
        stop_sandbox(process)
