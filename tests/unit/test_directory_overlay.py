"""A transaction's own directory state over the router's shared one (directory_state.py):
changes made in it read as if made to a copy, and the shared state is left as it was."""

from dataclasses import fields
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.adapters.directory_records import PlanRow
from broker.adapters.directory_state import DirectoryState, Layered
from broker.rules.family import Tie
from tests.unit.test_directory_projection import fresh, households, members_of, ties, ties_of

keys = st.sampled_from("abcdef")
# Operations on a mapping: set a key to a value, or delete it (when present).
operations = st.lists(st.tuples(st.booleans(), keys, st.integers(0, 3)), max_size=20)


def plain(state: DirectoryState) -> DirectoryState:
    """The same records in plain dicts, to compare with a state loaded afresh."""
    return DirectoryState(**{f.name: dict(getattr(state, f.name)) for f in fields(state)})


class TestLayered:
    @given(st.dictionaries(keys, st.integers(0, 3)), operations)
    def test_reads_as_a_copy_changed_alike_and_leaves_the_shared_index(
        self, shared: dict[str, int], ops: list[tuple[bool, str, int]]
    ) -> None:
        """Whatever is set and deleted, the layered index reads as a copy of the shared one
        changed the same way (items, length, membership, a missing key's KeyError), and the
        shared index is unchanged."""
        before = dict(shared)
        copy, layered = dict(shared), Layered(shared)
        for setting, key, value in ops:
            if setting:
                copy[key] = value
                layered[key] = value
            elif key in copy:
                del copy[key]
                del layered[key]
        assert dict(layered) == copy
        assert len(layered) == len(copy)
        assert all((k in layered) == (k in copy) for k in "abcdef")
        assert shared == before

    def test_deleting_a_missing_key_raises_as_a_dict_does(self) -> None:
        """A key held nowhere, or removed here already, is a KeyError."""
        layered = Layered({"a": 1})
        del layered["a"]
        for key in ("a", "b"):
            with pytest.raises(KeyError):
                del layered[key]


class TestOwnStateOverTheShared:
    @given(
        households, households, ties, ties, st.sets(st.sampled_from([f"p{i}" for i in range(6)]))
    )
    def test_records_replaced_over_the_shared_state_equal_a_fresh_load(
        self,
        before: dict[str, list[tuple[str, str]]],
        changed: dict[str, list[tuple[str, str]]],
        ties_before: set[Tie],
        ties_after: set[Tie],
        retied: set[str],
    ) -> None:
        """Households and ties replaced in a state over the shared one read as a fresh
        load of the result, and the shared state still reads as before."""
        shared = fresh(before, ties_before)
        own = DirectoryState.over(shared)
        own.put_households(changed.keys(), [(h, "E1") for h in changed], members_of(changed))
        final_ties = (ties_before - ties_of(retied, ties_before)) | ties_of(retied, ties_after)
        own.put_ties(retied, ties_of(retied, final_ties))
        assert plain(own) == fresh({**before, **changed}, final_ties)
        assert shared == fresh(before, ties_before)

    def test_a_plan_written_is_found_only_in_the_own_state(self) -> None:
        """A step-down's plan read back into the transaction's state is the child's there,
        and not in the shared state (other transactions, and a rollback, never see it)."""
        shared = DirectoryState()
        own = DirectoryState.over(shared)
        plan = PlanRow("step-down:e:p0", "p0", "child_in_need", date(2026, 1, 1), None, None, None)
        own.put_plans({plan.id}, [plan])
        assert own.plans_for(["p0"]) == [plan]
        assert shared.plans_for(["p0"]) == []
