"""The raw-aiokafka baseline runs end to end on a real broker. Counts only: timings belong to
the benchmark, never to assertions."""

import math
from pathlib import Path

import pytest

from tests.benchmark.baseline import BaselineLoad, run_baseline

pytestmark = [pytest.mark.slow, pytest.mark.integration]


@pytest.mark.parametrize("rate", [None, 100.0])
async def test_every_notice_reaches_the_sink(
    kafka_bootstrap: str, tmp_path: Path, rate: float | None
) -> None:
    notice_sizes = [[300 + i % 7] * (1 + i % 4) for i in range(200)]
    load = BaselineLoad([100 + i for i in range(200)], notice_sizes, rate)

    result = await run_baseline(kafka_bootstrap, load, partitions=3, workdir=tmp_path)

    assert result["events"] == 200
    assert result["notices"] == sum(map(len, notice_sizes))
    for value in (result["seconds"], result["events_per_s"], result["notices_per_s"],
                  *result["latency_ms"].values()):  # fmt: skip
        assert math.isfinite(value)
        assert value > 0
    assert set(result["cpu_s"]) == {"publisher", "relay", "sink"}
