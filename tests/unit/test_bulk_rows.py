"""The bulk import's in-memory picture of a table judges each record as the per-record
writes do (``directory_writes.put_row`` and ``replace_rows``): what is created, what
changed, and what is left alone. No database: the rows read are given."""

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from broker.adapters.directory_rows import shape_of
from broker.services.bulk_rows import Children, Rows, complete


def people(*rows: dict[str, object]) -> Rows:
    table = Rows("people", shape_of("people"))
    for row in rows:
        full = complete(shape_of("people"), row)
        table.before[(row["id"],)] = full
        table.after[(row["id"],)] = dict(full)
    return table


class TestRowsPut:
    def test_a_new_row_is_created_naming_the_fields_it_sets(self) -> None:
        """A row not on record is created; its changed fields are those given a value."""
        delta = people().put(("p-1",), {"given_name": "Ann", "family_name": None})
        assert (delta.created, delta.fields) == (True, ["given_name"])

    def test_an_unchanged_row_changes_nothing(self) -> None:
        """The same values again: not created, no fields."""
        table = people({"id": "p-1", "given_name": "Ann"})
        delta = table.put(("p-1",), {"given_name": "Ann"})
        assert (delta.created, delta.fields) == (False, [])

    def test_a_changed_row_names_only_the_fields_that_changed(self) -> None:
        """Only the fields whose values differ are named."""
        table = people({"id": "p-1", "given_name": "Ann", "date_of_birth": date(2015, 1, 1)})
        delta = table.put(("p-1",), {"given_name": "Anne", "date_of_birth": date(2015, 1, 1)})
        assert delta.fields == ["given_name"]

    def test_a_record_named_twice_is_judged_against_the_first(self) -> None:
        """The second of two records under one key sees what the first left."""
        table = people()
        table.put(("p-1",), {"given_name": "Ann"})
        delta = table.put(("p-1",), {"given_name": "Ann"})
        assert (delta.created, delta.fields) == (False, [])

    def test_a_new_row_has_every_column(self) -> None:
        """Rows written together in one statement carry the same columns, defaults filled."""
        table = Rows("contacts", shape_of("contacts"))
        table.put(("c-1",), {"org_id": "o", "role": "dsl", "hpke_public_key": "k", "key_id": "i"})
        assert table.after[("c-1",)]["daily_digest"] is False
        assert table.after[("c-1",)]["webhook_url"] is None


class TestChildrenReplace:
    def test_the_same_rows_in_another_order_change_nothing(self) -> None:
        """An owner's rows are compared as a set."""
        terms = Children("school_terms", shape_of("school_terms"), "org_id")
        rows = [{"org_id": "s", "starts_on": date(2026, m, 1), "ends_on": date(2026, m, 20)}
                for m in (1, 4)]  # fmt: skip
        terms.before = {"s": {terms._tuple(r) for r in rows}}
        assert not terms.replace("s", list(reversed(rows)))

    def test_fewer_rows_are_a_change(self) -> None:
        """Dropping one of an owner's rows replaces them."""
        terms = Children("school_terms", shape_of("school_terms"), "org_id")
        row = {"org_id": "s", "starts_on": date(2026, 1, 1), "ends_on": date(2026, 1, 20)}
        terms.before = {"s": {terms._tuple(row)}}
        assert terms.replace("s", [])


@given(st.lists(st.sampled_from(["Ann", "Anne", None]), min_size=1, max_size=6))
def test_only_the_first_put_of_a_key_creates(names: list[str | None]) -> None:
    """However often a key is put, exactly the first put creates it, and a put names a
    field only when its value differs from the one before."""
    table, previous = people(), None
    for i, name in enumerate(names):
        delta = table.put(("p-1",), {"given_name": name})
        assert delta.created == (i == 0)
        if i:
            assert delta.fields == (["given_name"] if name != previous else [])
        previous = name
