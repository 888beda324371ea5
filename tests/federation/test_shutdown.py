"""Two brokers stop cleanly: run in a module of its own, so that no other pair is running
while it counts the tasks left behind."""

import asyncio
from pathlib import Path

import httpx
import pytest

from .conftest import FederationDatabases, report_setup, started_federation

pytestmark = pytest.mark.federation


class TestShutdown:
    async def test_both_brokers_stop_leaving_no_task_and_no_port(
        self,
        request: pytest.FixtureRequest,
        kafka_bootstrap: str,
        federation_databases: FederationDatabases,
        tmp_path: Path,
    ) -> None:
        """A pair of its own, started and stopped: every task it started has ended and its
        HTTP ports no longer answer."""
        urls = (await federation_databases.new(), await federation_databases.new())
        before = asyncio.all_tasks()
        async with started_federation(kafka_bootstrap, urls, tmp_path) as pair:
            report_setup(request.config, request.node.nodeid, pair.setup_seconds)
            addresses = [
                url
                for broker in (pair.a, pair.b)
                for url in (broker.gateway_url, broker.inbox_url, broker.admin_url)
            ]
        assert await _left_running(before) == set()
        for address in addresses:
            with pytest.raises(httpx.ConnectError):
                async with httpx.AsyncClient() as client:
                    await client.get(f"{address}/v1/recipients/x/notices")


async def _left_running(before: set[asyncio.Task[object]]) -> set[str]:
    """The tasks started since ``before`` still running after a moment's grace (a stopped
    client's last callbacks), by name and coroutine."""
    current = asyncio.current_task()
    for _ in range(50):
        left = {t for t in asyncio.all_tasks() - before if t is not current and not t.done()}
        if not left:
            return set()
        await asyncio.sleep(0.1)
    return {f"{t.get_name()}: {t.get_coro()!r}" for t in left}
