"""What the web inbox shows of a notice without opening it: times in London time, status
from its receipts, newest first in pages of 20."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.entrypoints.web.views import PAGE_SIZE, NoticeRow, london, page

ROW = NoticeRow(
    "n",
    "School support",
    "High",
    "",
    "New",
    "",
    "",
    "",
    datetime(2026, 1, 1, tzinfo=UTC),
    (),
    False,
)


class TestLondon:
    @pytest.mark.parametrize(
        ("at", "words"),
        [
            (datetime(2026, 12, 7, 8, 45, tzinfo=UTC), "Monday 7 December 2026 at 08:45"),  # GMT
            (datetime(2026, 6, 1, 7, 45, tzinfo=UTC), "Monday 1 June 2026 at 08:45"),  # BST
            (
                datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
                "Sunday 29 March 2026 at 02:30",
            ),  # clocks go forward
        ],
    )
    def test_table(self, at: datetime, words: str) -> None:
        """The wall-clock time in London that day, GMT or BST."""
        assert london(at) == words


class TestPage:
    @given(count=st.integers(0, 95), number=st.integers(-3, 10))
    def test_every_notice_once_newest_first(self, count: int, number: int) -> None:
        """Across the pages every notice appears once, newest first; a page number out of
        range shows the nearest page."""
        start = datetime(2026, 1, 1, tzinfo=UTC)
        rows = [replace(ROW, notice_id=str(i), arrived_at=start + timedelta(minutes=i))
                for i in range(count)]  # fmt: skip
        shown = page(rows, number)
        assert 1 <= shown.number <= shown.count
        pages = [page(rows, n).rows for n in range(1, shown.count + 1)]
        flat = [r.notice_id for p in pages for r in p]
        assert flat == [str(i) for i in reversed(range(count))]
        assert all(len(p) <= PAGE_SIZE for p in pages)
