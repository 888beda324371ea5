"""``sgb router`` and ``sgb delivery`` start light: run for real (the real Kafka broker, the
test's database) until ready, then stopped, neither imports a web framework, the FHIR models,
the client library of a channel nobody configured or the access tokens' library. The fault
suite, the demo, the benchmark and many tests start these processes again and again, and those
imports cost each start about half a second of CPU, on a machine of two cores."""

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from broker.config import Settings
from deploy.ports import free_port

from .test_drain import terminate

# None of HEAVY depends on the database a process opens: one backend is enough.
pytestmark = [pytest.mark.integration,
              pytest.mark.parametrize("database_backend", ["sqlite"], indirect=True)]  # fmt: skip

HEAVY = ("fastapi", "fhir.resources", "requests", "mesh_client",
         "notifications_python_client", "aiosmtplib", "jwt")  # fmt: skip

# ``sgb`` in a fresh interpreter that, as it exits, writes which of HEAVY it imported to the
# file named by its first argument.
PROBE = """
import atexit, json, sys
from pathlib import Path
out = Path(sys.argv.pop(1))
def heavy_imported():
    out.write_text(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))
atexit.register(heavy_imported)
from broker.entrypoints.cli import app
app(sys.argv[1:], prog_name="sgb")
"""


def process_env(settings: Settings, ops_port: int) -> dict[str, str]:
    return {
        "SGB_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "SGB_TOPIC_PREFIX": settings.topic_prefix,
        "SGB_DATABASE_URL": settings.database_url,
        "SGB_KEYS_DIR": str(settings.keys_dir),
        "SGB_ROUTER_GROUP": settings.router_group,
        "SGB_DELIVERY_GROUP": settings.delivery_group,
        "SGB_LOG_JSON": "true",
        "SGB_OPS_PORT": str(ops_port),
    }


async def until_ready(port: int, proc: asyncio.subprocess.Process) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        async with asyncio.timeout(60):
            while proc.returncode is None:
                try:
                    if (await client.get("/ready")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass  # not listening yet
                await asyncio.sleep(0.2)
    raise AssertionError(f"exited {proc.returncode} before it was ready")


async def imported_by(command: str, settings: Settings, folder: Path) -> list[str]:
    """Which of HEAVY ``sgb <command>`` imported, started until ready and then stopped."""
    port, found = free_port(), folder / f"{command}.imported.json"
    with (folder / f"{command}.log").open("ab") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", PROBE.format(heavy=HEAVY), str(found), command,
            env=os.environ | process_env(settings, port),
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            await until_ready(port, proc)
            assert await terminate(proc) == 0
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    result: list[str] = json.loads(found.read_text())
    return result


@pytest.mark.parametrize("command", ["router", "delivery"])
async def test_a_consumer_process_imports_nothing_heavy(
    command: str, settings: Settings, tmp_path: Path
) -> None:
    """From its start to its drain, the process imports none of FastAPI, the FHIR
    models, the MESH, Notify and SMTP clients (none configured here) or PyJWT (it checks no
    access tokens)."""
    assert await imported_by(command, settings, tmp_path) == []
