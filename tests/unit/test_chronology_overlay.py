"""A group's chronology lines, not yet written, laid over the household history read from the
database (adapters/chronology.py ``with_lines``): a later event of the group must see the
history it would have read had each earlier event been written first."""

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from broker.adapters import db
from broker.adapters.chronology import history_of, with_lines
from broker.rules.family import HouseholdHistory

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
_NOTHING = dict.fromkeys(
    ("notice_id", "recipient_id", "notice_type", "severity", "rule_id", "facts", "signals")
)


def event_line(
    home: str, event_id: str, at: datetime, signals: str | None = None
) -> dict[str, Any]:
    return _NOTHING | {"household_id": home, "at": at, "kind": "event", "event_id": event_id,
                       "event_type": "ed_attendance", "source_org": "acute-demo",
                       "signals": signals}  # fmt: skip


def notice_line(home: str, event_id: str, notice_id: str, at: datetime) -> dict[str, Any]:
    return _NOTHING | {"household_id": home, "at": at, "kind": "notice", "event_id": event_id,
                       "event_type": "ed_attendance", "source_org": "acute-demo",
                       "notice_id": notice_id, "notice_type": "gp_information",
                       "severity": "low"}  # fmt: skip


def written(rows: list[dict[str, Any]], homes: set[str]) -> HouseholdHistory:
    """As the database answers: the households' lines in the order of (at, id)."""
    entries = [db.ChronologyEntry(id=i, **row) for i, row in enumerate(rows)
               if row["household_id"] in homes]  # fmt: skip
    return history_of(sorted(entries, key=lambda e: (e.at, e.id)))


class TestWithLines:
    def test_nothing_pending_is_the_history_read(self) -> None:
        """With no lines of the group's own, the history is the one read, unchanged."""
        read = written([event_line("h1", "e1", T0)], {"h1"})
        assert with_lines(read, [], {"h1"}) is read

    def test_pending_lines_of_other_households_do_not_count(self) -> None:
        """A line of another family's household, routed earlier in the group, is not this
        family's history."""
        read = written([event_line("h1", "e1", T0)], {"h1"})
        assert with_lines(read, [event_line("h2", "e2", T0)], {"h1"}) == read

    def test_a_pending_event_at_the_same_time_comes_after_those_read(self) -> None:
        """Written after everything read, the group's line is later among equals in time."""
        read = written([event_line("h1", "e1", T0)], {"h1"})
        merged = with_lines(read, [event_line("h1", "e2", T0)], {"h1"})
        assert [e.event_id for e in merged.events] == ["e1", "e2"]

    def test_an_event_already_read_keeps_its_first_line(self) -> None:
        """An event routed again (after its people were matched) that the database already
        holds is counted once, as read, not again from the group's line."""
        read = written([event_line("h1", "e1", T0, "crisis")], {"h1"})
        merged = with_lines(read, [event_line("h1", "e1", T0 + timedelta(days=1))], {"h1"})
        assert [(e.event_id, e.at) for e in merged.events] == [("e1", T0)]


@st.composite
def groups(draw: st.DrawFn) -> tuple[list[dict[str, Any]], int]:
    """Events, each with its lines in some of three households (an event line and its
    notices' lines in each), and where the group begins: the events before it written (an
    event's lines are all written in one transaction)."""
    rows: list[dict[str, Any]] = []
    starts = [0]
    for index in range(draw(st.integers(1, 8))):
        at = T0 + timedelta(hours=draw(st.integers(0, 5)))
        homes = draw(st.lists(st.sampled_from(["h1", "h2", "h3"]), min_size=1, unique=True))
        notices = draw(st.integers(0, 2))
        for home in homes:
            rows.append(event_line(home, f"e{index}", at))
            rows += [notice_line(home, f"e{index}", f"n{index}.{n}", at) for n in range(notices)]
        starts.append(len(rows))
    return rows, draw(st.sampled_from(starts))


class TestWithLinesProperty:
    @given(groups(), st.sets(st.sampled_from(["h1", "h2", "h3"]), min_size=1))
    def test_as_if_each_earlier_event_had_been_written_first(
        self, group: tuple[list[dict[str, Any]], int], homes: set[str]
    ) -> None:
        """Whatever the lines and wherever the group begins, the history read plus the
        group's lines is the history read had all of them been written."""
        rows, start = group
        merged = with_lines(written(rows[:start], homes), rows[start:], homes)
        assert merged == written(rows, homes)
