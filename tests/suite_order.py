"""The order in which ``make test``'s xdist workers take the test files: the slowest first.
Under ``--dist loadfile`` a file stays on one worker, so a long file handed out last leaves
the other workers idle for its whole length; longest first, with the many short files
filling in behind, ends the workers within a short file of each other.

Refresh ``SLOWEST_FIRST`` from a full run's durations when files grow or are added:

    pytest -m "not faults" -n 3 --dist loadfile -p no:randomly --durations=0 > durations.log
    python tests/suite_order.py durations.log

(``make test`` and ``make test-slow`` both take their files in this order.)
"""

import re
import sys
from pathlib import Path

# Files whose tests read what one test process keeps (tests/scenario_runs.py replays each
# scenario once per process): under --dist loadfile they go to one worker, as if one file.
SAME_WORKER_AS = {"tests/integration/test_alert_content.py": "tests/integration/test_scenarios.py"}

# Every file of 10 s or more (its tests' summed setup, call and teardown, both backends), the
# longest first: the full run of 1 Dec, 23:13 UTC (pytest -m "not faults", three workers, a
# quiet machine: make test's files and make test-slow's), 1,914 s of test time.
SLOWEST_FIRST = (
    "tests/e2e/test_api_fuzzing.py",  # 256 s
    "tests/browser/test_whole_loop.py",  # 102 s
    "tests/integration/test_demo.py",  # 81 s
    "tests/browser/test_pages_accessible.py",  # 73 s
    "tests/integration/test_admin_api.py",  # 71 s
    "tests/integration/test_nothing_silent.py",  # 49 s
    "tests/benchmark/test_bench_command.py",  # 38 s
    "tests/e2e/test_api_conformance.py",  # 38 s
    "tests/integration/test_webhooks.py",  # 34 s
    "tests/integration/test_peer_transfers.py",  # 34 s
    "tests/integration/test_directory_projection.py",  # 33 s
    "tests/integration/test_escalation.py",  # 32 s
    "tests/integration/test_outcomes.py",  # 28 s
    "tests/integration/test_scenarios.py",  # 28 s
    "tests/integration/test_router.py",  # 26 s
    "tests/security/test_shredding.py",  # 26 s
    "tests/federation/test_cross_border.py",  # 25 s
    "tests/web/test_pages.py",  # 25 s
    "tests/integration/test_drain.py",  # 25 s
    "tests/browser/test_passkeys.py",  # 24 s
    "tests/integration/test_routing_on_fakes.py",  # 24 s
    "tests/security/test_front_door_reads.py",  # 23 s
    "tests/web/test_front_door_steps.py",  # 23 s
    "tests/browser/test_notice_crypto.py",  # 22 s
    "tests/integration/test_family_routing.py",  # 22 s
    "tests/integration/test_auth.py",  # 18 s
    "tests/web/test_passkeys.py",  # 18 s
    "tests/integration/test_rebalance.py",  # 18 s
    "tests/integration/test_directory_bulk.py",  # 18 s
    "tests/integration/test_migrations.py",  # 17 s
    "tests/integration/test_audit.py",  # 17 s
    "tests/web/test_own_passkeys.py",  # 17 s
    "tests/integration/test_routing_group.py",  # 17 s
    "tests/security/test_keys.py",  # 17 s
    "tests/browser/test_live_inbox.py",  # 16 s
    "tests/web/test_admin_passkeys.py",  # 14 s
    "tests/web/test_sign_in.py",  # 14 s
    "tests/integration/test_projection_own_writes.py",  # 13 s
    "tests/integration/test_school_references.py",  # 13 s
    "tests/integration/test_group_directory_writes.py",  # 13 s
    "tests/mesh/test_mesh_delivery.py",  # 12 s
    "tests/security/test_audit_and_admin.py",  # 12 s
    "tests/contracts/test_retry_queue.py",  # 12 s
    "tests/integration/test_gateway.py",  # 12 s
    "tests/integration/test_peer_receipts.py",  # 12 s
    "tests/fhir_r4/test_gateway.py",  # 12 s
    "tests/security/test_inbox_privilege.py",  # 11 s
    "tests/benchmark/test_baseline.py",  # 11 s
    "tests/integration/test_peer_push.py",  # 11 s
    "tests/federation/test_harness.py",  # 11 s
    "tests/integration/test_retry_wake.py",  # 11 s
    "tests/security/test_http_edges.py",  # 11 s
    "tests/e2e/test_event_to_inbox.py",  # 10 s
    "tests/web/test_admin_pages.py",  # 10 s
    "tests/e2e/test_latency_metrics.py",  # 10 s
    "tests/security/test_directory_trust.py",  # 10 s
)

DURATION = re.compile(r"^([0-9.]+)s +(?:setup|call|teardown) +([^:\s]+)::")


def summed_durations(log: str) -> dict[str, float]:
    """Seconds per file (files kept together counted as their partner) in a durations log."""
    per_file: dict[str, float] = {}
    for line in log.splitlines():
        if found := DURATION.match(line):
            path = SAME_WORKER_AS.get(found[2], found[2])
            per_file[path] = per_file.get(path, 0.0) + float(found[1])
    return per_file


def main(log_path: str, at_least_s: float = 10.0) -> None:
    """Prints the body of ``SLOWEST_FIRST`` for the durations log named."""
    per_file = summed_durations(Path(log_path).read_text())
    for path, seconds in sorted(per_file.items(), key=lambda item: -item[1]):
        if seconds >= at_least_s:
            print(f'    "{path}",  # {seconds:.0f} s')


if __name__ == "__main__":
    main(sys.argv[1])
