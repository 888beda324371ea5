"""``sgb demo`` (``make demo``), as a new user runs it: the cross-border part of what it
prints (issue 16), the web inbox's sign-in links (issue 17), and that, not run in a
terminal, it stops by itself. (A printed link signing in: tests/web/test_demo_sign_in.py.)"""

import os
import re
import subprocess
import sys
import uuid

import pytest

pytestmark = pytest.mark.integration
STOPS_WITHIN_S = 600  # a bound on a hung run only: the demo's own waits fail it sooner


@pytest.fixture(scope="module")
def demo_output(kafka_bootstrap: str) -> tuple[int, str]:
    """The demo run once, on the tests' Kafka with topics of its own, its input not a
    terminal: its exit code and everything it printed."""
    env = {**os.environ, "SGB_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
           "SGB_TOPIC_PREFIX": f"demo-test-{uuid.uuid4().hex[:8]}."}  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "broker.entrypoints.cli", "demo"], env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=STOPS_WITHIN_S, check=False)  # fmt: skip
    return done.returncode, done.stdout + done.stderr


class TestDemoRun:
    def test_it_stops_by_itself_when_not_in_a_terminal(self, demo_output: tuple[int, str]) -> None:
        """Run from a script, the demo stops everything it started and exits 0."""
        code, printed = demo_output
        assert code == 0, printed[-3000:]
        assert "Demo finished; everything stopped." in printed
        assert "press Ctrl-C" not in printed

    def test_it_shows_the_transfer_crossing_to_newport_and_the_receipts_back(
        self, demo_output: tuple[int, str]
    ) -> None:
        """The family's move to Newport reaches Newport's broker: the transfer at its front
        door with the history (the early help plan the move lists), acknowledged, the
        transfer-in conference booked, and both receipts in the demo partnership's
        chronology, in that order."""
        _, printed = demo_output
        said = [
            "sent the transfer",
            "It arrived at Newport's front door",
            "to Newport (W06000022)",
            "history: early help plan",
            "Newport's duty manager acknowledged the transfer.",
            "Newport's front door booked the transfer-in conference.",
            "Both receipts came back into our own chronology",
            "Newport acknowledged the transfer",
            "Newport booked the transfer-in conference",
        ]
        places = [printed.find(line) for line in said]
        assert -1 not in places, [line for line, at in zip(said, places, strict=True) if at < 0]
        assert places == sorted(places)

    def test_it_prints_the_web_inbox_and_a_sign_in_link_per_contact(
        self, demo_output: tuple[int, str]
    ) -> None:
        """The web inbox's address, and a one-time link for each demo contact."""
        _, printed = demo_output
        assert re.search(r"Web inbox: http://127\.0\.0\.1:\d+/inbox", printed)
        links = re.findall(r"(\S+:\S+)\s+http://127\.0\.0\.1:\d+/inbox/sign-in/\S+", printed)
        assert "school-oakfield:key_adult" in links
        assert "la-front-door:duty_manager" in links

    def test_it_shows_the_lapsing_gps_notices_escalated(self, demo_output: tuple[int, str]) -> None:
        """The GP practice that leaves its two notices unacknowledged past their deadline: each
        escalates to the integrated care board, naming who did not acknowledge. (An escalation
        is shown again if it is already in the board's inbox when the demo first reads it.)"""
        _, printed = demo_output
        assert printed.count("Left unacknowledged: it escalates when its deadline passes.") == 2
        escalated = re.findall(r"follows\s+escalation \(level 1\) of notice (\S+)", printed)
        assert len(set(escalated)) >= 2
        assert "not_acknowledged_by=gp-hillview" in printed
