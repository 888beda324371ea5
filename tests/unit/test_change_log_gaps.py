"""The change log position shared by the router's projection and each process's copy of
the organisations: ids skipped below the newest read are looked for again for a while."""

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.adapters.change_log_gaps import (
    GAP_PATIENCE,
    RECENT_IDS,
    advanced,
    missing_recently,
    runs,
    unexpired,
)

NOW = 1000.0
EARLIER = NOW - 10


class TestAdvanced:
    @pytest.mark.parametrize(
        ("seen", "gaps", "read", "expected"),
        [
            (4, {}, [5, 6], (6, {})),
            (4, {}, [5, 7, 9], (9, {6: NOW, 8: NOW})),
            (9, {6: EARLIER, 8: EARLIER}, [6], (9, {8: EARLIER})),
            (9, {6: EARLIER, 8: EARLIER}, [8, 11], (11, {6: EARLIER, 10: NOW})),
            (9, {6: EARLIER}, [], (9, {6: EARLIER})),
            (0, {}, [3], (3, {1: NOW, 2: NOW})),
        ],
        ids=[
            "read in order: no gap",
            "ids skipped below the newest read are gaps from now",
            "a gap that appears is closed",
            "gaps kept with when first missed, new ones from now",
            "nothing read: where it was",
            "from the start of the log, every skipped id",
        ],
    )
    def test_the_position_after_a_read(
        self,
        seen: int,
        gaps: dict[int, float],
        read: list[int],
        expected: tuple[int, dict[int, float]],
    ) -> None:
        """The newest id seen, and the ids below it still missing with when first missed."""
        assert advanced(seen, gaps, read, NOW) == expected

    def test_a_gap_missed_longer_than_the_patience_is_forgotten(self) -> None:
        """A transaction open that long is taken to have rolled back: its id is no longer
        looked for."""
        old = NOW - GAP_PATIENCE - 1
        assert advanced(9, {6: old, 8: EARLIER}, [10], NOW) == (10, {8: EARLIER})

    @given(
        start=st.integers(0, 1000),
        committed=st.lists(st.integers(1, 60), unique=True),
        cut=st.integers(0, 60),
    )
    def test_in_two_reads_what_was_never_read_is_missing(
        self, start: int, committed: list[int], cut: int
    ) -> None:
        """However the committed ids fall between two reads (in commit order, which is not
        id order), the position is the newest read and the gaps are exactly the ids after
        the start never read."""
        ids = [start + offset for offset in committed]
        seen, gaps = advanced(start, {}, ids[:cut], NOW)
        seen, gaps = advanced(seen, gaps, ids[cut:], NOW + 1)
        assert seen == max(ids, default=start)
        assert set(gaps) == set(range(start + 1, seen)) - set(ids)


class TestMissingRecently:
    @given(top=st.integers(0, 3 * RECENT_IDS), present=st.sets(st.integers(1, 3 * RECENT_IDS)))
    def test_the_ids_just_below_the_top_not_present_are_gaps_from_now(
        self, top: int, present: set[int]
    ) -> None:
        gaps = missing_recently(top, present, 5.0)
        below = range(max(top - RECENT_IDS, 0) + 1, top)
        assert set(gaps) == set(below) - present
        assert set(gaps.values()) <= {5.0}

    def test_a_load_from_an_empty_log_looks_for_nothing(self) -> None:
        assert missing_recently(0, [], 1.0) == {}


class TestUnexpired:
    def test_keeps_only_gaps_younger_than_the_patience(self) -> None:
        """A gap first missed GAP_PATIENCE ago or longer is dropped; a younger one kept."""
        gaps = {1: NOW - GAP_PATIENCE, 2: NOW - GAP_PATIENCE + 1}
        assert unexpired(gaps, NOW) == {2: NOW - GAP_PATIENCE + 1}


class TestRuns:
    @pytest.mark.parametrize(
        ("ids", "expected"),
        [
            ([], []),
            ([7], [(7, 7)]),
            ([3, 1, 2], [(1, 3)]),
            ([1, 2, 4, 6, 7], [(1, 2), (4, 4), (6, 7)]),
        ],
        ids=["none", "one", "consecutive, in any order", "broken runs"],
    )
    def test_ids_as_runs(self, ids: list[int], expected: list[tuple[int, int]]) -> None:
        """Consecutive ids make one run; a missing id starts another."""
        assert runs(ids) == expected

    @given(st.sets(st.integers(min_value=1, max_value=500)))
    def test_the_runs_hold_exactly_the_ids_and_never_touch(self, ids: set[int]) -> None:
        """Expanded, the runs are the ids; between two runs at least one id is missing."""
        found = runs(ids)
        assert {i for first, last in found for i in range(first, last + 1)} == ids
        assert all(a[1] + 1 < b[0] for a, b in itertools.pairwise(found))
