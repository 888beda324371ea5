"""The benchmark command runs the real system end to end and reports what it must. A small
load, and counts only: timings belong to the benchmark, never to assertions."""

import json
import os
import subprocess
import sys
from typing import Any

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def bench(kafka_bootstrap: str, *args: str) -> Any:
    """The command's standard output: one JSON document, and nothing else."""
    command = [sys.executable, "-m", "tests.benchmark", *args, "--people", "1000"]
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_a_run_reports_the_broker_beside_the_baseline(kafka_bootstrap: str) -> None:
    report = bench(kafka_bootstrap, "run", "--events", "60", "--partitions", "2")

    assert report["events"] == 60
    assert sum(report["event_mix"].values()) == 60
    assert report["notices"] > 0
    assert report["consumer_lag_at_end"] == 0
    assert report["crashed"] == {}
    latency = report["latency_ms"]
    assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"]
    assert {"router-0", "delivery-0", "kafka"} <= report["cpu_s_per_1000_events"].keys()
    assert report["peak_rss_mib"]["router-0"] > 0
    assert report["settings"]["people"] == 1000
    assert report["directory_import_records_per_s"] > 0  # its directory, loaded for the run
    # The floor (sealing and signing the same messages) beside the broker's own CPU.
    assert report["floor_cpu_ms_per_event"] > 0
    assert report["broker_cpu_ms_per_event"] > report["floor_cpu_ms_per_event"]
    assert report["efficiency"] == pytest.approx(
        report["floor_cpu_ms_per_event"] / report["broker_cpu_ms_per_event"], rel=0.02, abs=0.002
    )
    assert report["broker_events_per_s_per_core"] > 0
    # The baseline moved exactly as many messages, of the broker's own sizes.
    assert report["baseline"]["events"] == 60
    assert report["baseline"]["notices"] == report["notices"]
    ratio = report["throughput_ratio_to_baseline"]
    expected = report["events_per_s"] / report["baseline"]["events_per_s"]
    assert ratio == pytest.approx(expected, rel=0.02, abs=0.001)  # both are rounded


def test_the_gateway_mode_reports_what_it_accepted(kafka_bootstrap: str) -> None:
    report = bench(kafka_bootstrap, "gateway", "--events", "40", "--concurrency", "4")

    assert report["requests"] == report["accepted"] == 40
    assert report["answers"] == {"202": 40}
    assert report["events_per_s"] > 0
    assert 0 < report["latency_ms"]["p50"] <= report["latency_ms"]["p99"]
    assert report["cpu_s"]["gateway"] > 0


def test_the_import_mode_reports_the_records_it_loaded(kafka_bootstrap: str) -> None:
    report = bench(kafka_bootstrap, "import")

    assert (report["mode"], report["people"], report["database"]) == ("import", 1000, "sqlite")
    assert report["records"] > report["people"]  # households, registrations... as well
    assert report["directory_import_records_per_s"] > 0


def test_the_delivery_mode_splits_the_cost_of_a_batch_from_a_notices(
    kafka_bootstrap: str,
) -> None:
    """Every notice is stored, those delivered one per batch for the split as well."""
    command = [sys.executable, "-m", "tests.benchmark", "delivery", "--notices", "30",
               "--batch", "10", "--split"]  # fmt: skip
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)

    assert (report["mode"], report["batch"], report["stored"]) == ("delivery", 10, 33)
    assert {"cpu_ms_per_batch", "cpu_ms_per_notice_in_batch"} <= report.keys()


def test_the_routing_mode_counts_its_groups_statements(kafka_bootstrap: str) -> None:
    """Every event routed in groups of the batch asked for, the statements of each counted."""
    report = bench(kafka_bootstrap, "routing", "--events", "30", "--batch", "4")

    assert (report["mode"], report["database"], report["batch"]) == ("routing", "sqlite", 4)
    assert report["events"] == 30
    assert report["notices"] > 0
    assert report["statements_per_batch"] > 0
