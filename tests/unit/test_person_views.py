"""The directory's views of people as notices show them (adapters/directory.py), made once
per version of a person's record and household role."""

from dataclasses import replace
from datetime import date

import pytest
from pydantic import ValidationError

from broker.adapters.directory import _person_view
from broker.adapters.directory_records import PersonRow

ROW = PersonRow("p1", "9434765919", None, "Amy", "Carter", date(1990, 1, 1),
                preferred_language="pl", interpreter_needed=True)  # fmt: skip


class TestPersonView:
    def test_same_record_same_view(self) -> None:
        """The same record in the same role is one view, made once."""
        assert _person_view(ROW, "parent_or_carer") is _person_view(ROW, "parent_or_carer")

    def test_shows_the_record(self) -> None:
        """The view holds the record's name, birth date, NHS number, role and language need."""
        view = _person_view(ROW, "parent_or_carer")
        assert (view.given_name, view.family_name, view.date_of_birth, view.nhs_number) == (
            "Amy", "Carter", date(1990, 1, 1), "9434765919"
        )  # fmt: skip
        assert (view.role, view.preferred_language, view.interpreter_needed) == (
            "parent_or_carer", "pl", True
        )  # fmt: skip

    def test_changed_record_new_view(self) -> None:
        """A record changed since (a new name) is shown as it is now, never the old view."""
        _person_view(ROW, None)
        assert _person_view(replace(ROW, family_name="Jones"), None).family_name == "Jones"

    def test_changed_role_new_view(self) -> None:
        """The same record in another household role is shown in that role."""
        assert _person_view(ROW, "child").role == "child"

    def test_unstorable_text_refused_every_time(self) -> None:
        """A NUL in a name is refused at each read: a refusal is never remembered as a view."""
        bad = replace(ROW, given_name="A\x00my")
        for _ in range(2):
            with pytest.raises(ValidationError):
                _person_view(bad, None)
