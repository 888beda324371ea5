"""The order in which ``make test``'s two xdist workers take the test files: the slowest
first. Under ``--dist loadfile`` a file stays on one worker, so a long file handed out last
leaves the other worker idle for its whole length; longest first, with the many short files
filling in behind, ends the two workers within a short file of each other.

Refresh ``SLOWEST_FIRST`` from a full run's durations when files grow or are added:

    pytest -m "not faults" -n 2 --dist loadfile -p no:randomly --durations=0 > durations.log
    python tests/suite_order.py durations.log
"""

import re
import sys
from pathlib import Path

# Files whose tests read what one test process keeps (tests/scenario_runs.py replays each
# scenario once per process): under --dist loadfile they go to one worker, as if one file.
SAME_WORKER_AS = {"tests/integration/test_alert_content.py": "tests/integration/test_scenarios.py"}

# Every file of 12 s or more (its tests' summed setup, call and teardown, both backends), the
# longest first: the full run of 30 Nov, 12:53 UTC, two workers, 2,555 s of test time.
SLOWEST_FIRST = (
    "tests/e2e/test_api_fuzzing.py",  # 172 s
    "tests/integration/test_scenarios.py",  # 117 s
    "tests/browser/test_whole_loop.py",  # new since: 109 s alone at load 14
    "tests/integration/test_demo.py",  # 87 s
    "tests/benchmark/test_bench_command.py",  # 77 s
    "tests/integration/test_admin_api.py",  # 74 s
    "tests/web/test_pages.py",  # 72 s
    "tests/security/test_keys.py",  # 71 s
    "tests/integration/test_routing_on_fakes.py",  # 67 s
    "tests/integration/test_drain.py",  # 63 s
    "tests/integration/test_rebalance.py",  # 61 s
    "tests/integration/test_escalation.py",  # 59 s
    "tests/integration/test_nothing_silent.py",  # 59 s
    "tests/integration/test_directory_projection.py",  # 57 s
    "tests/integration/test_outcomes.py",  # 54 s
    "tests/integration/test_peer_transfers.py",  # 53 s
    "tests/web/test_front_door_steps.py",  # 53 s
    "tests/integration/test_webhooks.py",  # 50 s
    "tests/fhir_r4/test_gateway.py",  # 44 s
    "tests/browser/test_pages_accessible.py",  # 43 s
    "tests/security/test_shredding.py",  # 41 s
    "tests/e2e/test_api_conformance.py",  # 38 s
    "tests/integration/test_peer_receipts.py",  # 36 s
    "tests/integration/test_router.py",  # 35 s
    "tests/browser/test_notice_crypto.py",  # 35 s
    "tests/integration/test_migrations.py",  # 33 s
    "tests/integration/test_family_routing.py",  # 31 s
    "tests/integration/test_directory_bulk.py",  # 30 s
    "tests/security/test_front_door_reads.py",  # 29 s
    "tests/web/test_front_door_pages.py",  # 28 s
    "tests/integration/test_projection_own_writes.py",  # 27 s
    "tests/web/test_admin_pages.py",  # 27 s
    "tests/browser/test_passkeys.py",  # 26 s
    "tests/web/test_passkeys.py",  # 24 s
    "tests/integration/test_http_contract.py",  # 23 s
    "tests/web/test_sign_in.py",  # 22 s
    "tests/security/test_http_edges.py",  # 22 s
    "tests/security/test_audit_and_admin.py",  # 22 s
    "tests/integration/test_auth.py",  # 21 s
    "tests/security/test_directory_trust.py",  # 20 s
    "tests/browser/test_live_inbox.py",  # 20 s
    "tests/integration/test_school_references.py",  # 18 s
    "tests/integration/test_gateway.py",  # 18 s
    "tests/integration/test_peer_registry.py",  # 17 s
    "tests/integration/test_audit.py",  # 17 s
    "tests/security/test_inbox_privilege.py",  # 17 s
    "tests/integration/test_delivery.py",  # 17 s
    "tests/unit/test_rules_patterns.py",  # 16 s
    "tests/browser/test_notice_view.py",  # 16 s
    "tests/e2e/test_event_to_inbox.py",  # 15 s
    "tests/integration/test_routing_group.py",  # 15 s
    "tests/integration/test_group_directory_writes.py",  # 15 s
    "tests/federation/test_cross_border.py",  # 14 s
    "tests/unit/test_app.py",  # 13 s
    "tests/integration/test_peer_push.py",  # 13 s
    "tests/mesh/test_mesh_delivery.py",  # 13 s
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


def main(log_path: str, at_least_s: float = 12.0) -> None:
    """Prints the body of ``SLOWEST_FIRST`` for the durations log named."""
    per_file = summed_durations(Path(log_path).read_text())
    for path, seconds in sorted(per_file.items(), key=lambda item: -item[1]):
        if seconds >= at_least_s:
            print(f'    "{path}",  # {seconds:.0f} s')


if __name__ == "__main__":
    main(sys.argv[1])
