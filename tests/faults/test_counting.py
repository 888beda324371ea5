"""The suite's own verdict: a loss, a duplicate or a stray notice is never counted as clean.
(Pure, so it runs with the ordinary tests, not under the ``faults`` marker.)"""

from collections import Counter

import pytest

from .counting import Counts

A = ("e1", "gp-1:safeguarding_lead", "crisis.gp", None)
B = ("e1", "school-1:key_adult", "crisis.child", None)
C = ("e2", "school-1:key_adult", "crisis.child", None)


class TestCounts:
    def test_exactly_what_was_expected_is_clean(self) -> None:
        counts = Counts.of(Counter({A: 1, B: 1}), Counter({A: 1, B: 1}))
        assert counts == Counts(expected=2, delivered=2, duplicates=0, lost=0, unexpected=0)
        assert counts.exact

    @pytest.mark.parametrize(
        ("seen", "extra", "wrong"),
        [
            (Counter({A: 1}), 0, Counts(2, 1, 0, 1, 0)),  # B lost
            (Counter({A: 2, B: 1}), 0, Counts(2, 2, 1, 0, 0)),  # A twice
            (Counter({A: 1, B: 1, C: 1}), 0, Counts(2, 2, 0, 0, 1)),  # C never expected
            (Counter({A: 1, B: 1}), 1, Counts(2, 2, 1, 0, 0)),  # one notice stored twice
        ],
    )
    def test_a_loss_a_duplicate_or_a_stray_is_not(
        self, seen: Counter[object], extra: int, wrong: Counts
    ) -> None:
        counts = Counts.of(Counter({A: 1, B: 1}), seen, extra)
        assert counts == wrong
        assert not counts.exact
