"""The projection's bookkeeping, without a database: records replaced one kind at a time end
where the same records loaded at once end; a change log it cannot apply record by record asks
for a whole reload; ids skipped in the change log are looked for again."""

import gc
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.adapters.directory_projection import (
    DirectoryProjection,
    _plan,
    keep_out_of_collections,
)
from broker.adapters.directory_records import Membership, PersonRow, PlanRow
from broker.adapters.directory_state import DirectoryState
from broker.rules.family import Tie
from schemas.events import PersonRef

PEOPLE = [f"p{i}" for i in range(6)]
HOMES = ["h0", "h1", "h2"]

people_ids = st.sampled_from(PEOPLE)
households = st.dictionaries(
    st.sampled_from(HOMES),
    st.lists(st.tuples(people_ids, st.sampled_from(["child", "parent_or_carer"])),
             unique_by=lambda m: m[0], max_size=4),
)  # fmt: skip
# A tie's key is its two people and its kind (the table's primary key).
ties = st.dictionaries(
    st.tuples(people_ids, st.sampled_from(["parent_of", "sibling_of"]), people_ids),
    st.sampled_from([None, True, False]),
    max_size=6,
).map(lambda found: {Tie(a, kind, b, pr) for (a, kind, b), pr in found.items()})


def fresh(homes: dict[str, list[tuple[str, str]]], all_ties: set[Tie]) -> DirectoryState:
    state = DirectoryState()
    state.put_households((), [(h, "E1") for h in homes], members_of(homes))
    state.put_ties((), all_ties)
    return state


def members_of(homes: dict[str, list[tuple[str, str]]]) -> list[Membership]:
    return [Membership(h, p, role) for h, members in homes.items() for p, role in members]


def ties_of(people: set[str], all_ties: set[Tie]) -> set[Tie]:
    return {t for t in all_ties if {t.person_id, t.related_person_id} & people}


class TestReplacingRecords:
    @given(households, households, ties, ties, st.sets(people_ids))
    def test_households_and_ties_replaced_equal_a_fresh_load(
        self,
        before: dict[str, list[tuple[str, str]]],
        changed: dict[str, list[tuple[str, str]]],
        ties_before: set[Tie],
        ties_after: set[Tie],
        retied: set[str],
    ) -> None:
        """Households replaced by id (members moving between them) and the ties of some
        people replaced leave the state a fresh load of the result would make."""
        state = fresh(before, ties_before)
        after = {**before, **changed}
        state.put_households(changed.keys(), [(h, "E1") for h in changed], members_of(changed))
        # The ties of the people named change to theirs among ``ties_after``.
        final_ties = (ties_before - ties_of(retied, ties_before)) | ties_of(retied, ties_after)
        state.put_ties(retied, ties_of(retied, final_ties))
        assert state == fresh(after, final_ties)

    def test_a_household_emptied_leaves_no_home_behind(self) -> None:
        """A person no longer in any household has no entry (not an empty one)."""
        state = fresh({"h0": [("p0", "child")]}, set())
        state.put_households({"h0"}, [("h0", "E1")], [])
        assert "p0" not in state.homes
        assert state.households_with(["p0"]) == []

    def test_a_changed_nhs_number_no_longer_matches(self) -> None:
        """A person's old identifiers stop matching once the person is read again."""
        state = DirectoryState()
        state.put_people((), [PersonRow("p0", "9990000018", None, None, None, None)])
        state.put_people({"p0"}, [PersonRow("p0", "9990000026", None, None, None, None)])
        assert state.match(PersonRef(nhs_number="9990000018"), "x") is None
        assert state.match(PersonRef(nhs_number="9990000026"), "x") == "p0"

    def test_a_plan_moved_to_another_child_leaves_the_first(self) -> None:
        plan = PlanRow("plan", "p0", "early_help", date(2026, 1, 1), None, None, None)
        state = DirectoryState()
        state.put_plans((), [plan])
        state.put_plans({"plan"}, [PlanRow("plan", "p1", "early_help", date(2026, 1, 1),
                                           None, None, None)])  # fmt: skip
        assert state.plans_for(["p0"]) == []
        assert [p.person_id for p in state.plans_for(["p1"])] == ["p1"]


class TestChangePlan:
    @pytest.mark.parametrize(
        ("entity", "entity_id", "reads"),
        [
            ("person", "p0", {"person": {"p0"}}),
            ("household", "h0", {"household": {"h0"}}),
            ("plan", "step-down:e:p0", {"plan": {"step-down:e:p0"}}),
            ("relationship", "p0/parent_of/p1", {"ties": {"p0", "p1"}}),
            ("registration", "p0/gp", {"registrations": {"p0"}}),
            ("involvement", "p0/org/2026-01-01", {"involvements": {"p0"}}),
            ("organisation", "org", {"organisations": {"org"}}),
            ("contact", "org:dsl", {"organisations": {"org:dsl"}}),
        ],
    )
    def test_each_kind_names_what_to_read_again(
        self, entity: str, entity_id: str, reads: dict[str, set[str]]
    ) -> None:
        """A change names the records (or people) whose rows are read again."""
        assert _plan([(1, entity, entity_id)]) == reads

    @pytest.mark.parametrize(
        ("entity", "entity_id", "reason"),
        [
            ("school_term", "x", "unknown_kind"),
            ("relationship", "p/0/parent_of/p1", "unparsed_id"),
            ("registration", "p0", "unparsed_id"),
        ],
    )
    def test_what_it_cannot_apply_asks_for_a_whole_reload(
        self, entity: str, entity_id: str, reason: str
    ) -> None:
        """A kind it does not know, or an id it cannot take apart, reloads everything."""
        assert _plan([(1, "person", "p0"), (2, entity, entity_id)]) == reason


class TestChangeLogPosition:
    def test_skipped_ids_are_looked_for_again(self) -> None:
        """An id below the newest seen that has not appeared (a transaction still to
        commit) is remembered, and forgotten once seen."""
        projection = DirectoryProjection()
        projection.seen = 4
        projection._advance([5, 7, 9])
        assert projection.seen == 9
        assert set(projection._gaps) == {6, 8}
        projection._advance([6])
        assert projection.seen == 9
        assert set(projection._gaps) == {8}


class TestKeptOutOfCollections:
    def test_freezes_once_per_process(self) -> None:
        """Only the first call freezes what is alive: a process starting routers again and
        again (the tests) freezes nothing more, and so keeps no later garbage for good."""
        keep_out_of_collections()
        frozen = gc.get_freeze_count()
        alive_since = [[n] for n in range(100)]  # tracked objects made after the first call
        keep_out_of_collections()
        assert gc.get_freeze_count() == frozen
        assert alive_since
