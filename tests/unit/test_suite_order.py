"""The order make test's workers take the files in (tests/suite_order.py): it names files
that exist, and its refresh sums a durations log per file as the scheduler groups them."""

from pathlib import Path

from suite_order import SAME_WORKER_AS, SLOWEST_FIRST, summed_durations

ROOT = Path(__file__).parents[2]


class TestSlowestFirst:
    def test_names_only_files_that_exist(self) -> None:
        """A renamed or removed file would silently fall back to collection order."""
        assert [path for path in SLOWEST_FIRST if not (ROOT / path).is_file()] == []

    def test_names_each_file_once_and_no_file_kept_with_a_partner(self) -> None:
        """A file kept with its partner goes where the partner goes, so it is not listed."""
        assert len(set(SLOWEST_FIRST)) == len(SLOWEST_FIRST)
        assert not set(SAME_WORKER_AS) & set(SLOWEST_FIRST)


class TestSummedDurations:
    def test_sums_setup_call_and_teardown_per_file(self) -> None:
        """Every phase of every test counts towards its file; other lines are ignored."""
        log = "\n".join([
            "1.50s call     tests/a/test_one.py::TestX::test_y[sqlite]",
            "0.25s setup    tests/a/test_one.py::TestX::test_y[sqlite]",
            "0.25s teardown tests/a/test_one.py::test_z",
            "2.00s call     tests/b/test_two.py::test_w",
            "(12 durations < 0.005s hidden.  Use -vv to show these durations.)",
            "4330 passed, 5 skipped in 1315.03s (0:21:55)",
        ])  # fmt: skip
        assert summed_durations(log) == {"tests/a/test_one.py": 2.0, "tests/b/test_two.py": 2.0}

    def test_counts_a_file_kept_with_a_partner_as_the_partner(self) -> None:
        """The scheduler hands such files out together, so their times add up as one."""
        [(kept, partner)] = list(SAME_WORKER_AS.items())[:1]
        log = f"3.00s call     {kept}::test_a\n1.00s call     {partner}::test_b[x]"
        assert summed_durations(log) == {partner: 4.0}
