"""Wales: bilingual wording for recipients in Wales, and a person's language need in every
view of that person."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.rules.language import (
    CATALOGUE,
    REGISTERED_CHILD_MOVES,
    SEND_HISTORY,
    TELL_CUSTODIAN,
    TERMS_PLAN,
    TERMS_REGISTER,
    languages_for,
    transfer_wording,
)
from broker.rules.minimisation import PERSON_FIELDS, THIRD_PARTY_VIEWS
from schemas.notices import NoticeType


class TestLanguagesFor:
    @pytest.mark.parametrize(
        ("area", "languages"),
        [("W06000015", ("cy", "en")), ("E09000099", ("en",)), (None, ("en",))],
        ids=["cardiff", "england", "unknown_area"],
    )
    def test_by_the_recipients_nation(self, area: str | None, languages: tuple[str, ...]) -> None:
        """A recipient in Wales renders the wording keys in Welsh and English, Welsh first;
        any other recipient in English."""
        assert languages_for(area) == languages

    @given(st.from_regex(r"[EW][0-9]{8}", fullmatch=True))
    def test_english_always_and_welsh_exactly_in_wales(self, area: str) -> None:
        """Every recipient can read the notice in English; Welsh comes first exactly for a
        recipient whose area is in Wales."""
        languages = languages_for(area)
        assert "en" in languages
        assert (languages[0] == "cy") is area.startswith("W")


LANGUAGE_NEED = {"preferred_language", "interpreter_needed"}


class TestLanguageNeedIsStated:
    @pytest.mark.parametrize("kind", [k for k in NoticeType if PERSON_FIELDS[k]])
    def test_every_reader_who_sees_a_person_sees_the_need(self, kind: NoticeType) -> None:
        """Whoever may see a person at all may see that person's language need."""
        assert PERSON_FIELDS[kind] >= LANGUAGE_NEED

    @pytest.mark.parametrize("kind", list(THIRD_PARTY_VIEWS))
    def test_third_party_views_state_it_too(self, kind: NoticeType) -> None:
        """A practice told about a patient's parent can speak with that parent too."""
        assert THIRD_PARTY_VIEWS[kind].person >= LANGUAGE_NEED


class TestTransferWording:
    @pytest.mark.parametrize(
        ("facts", "keys"),
        [
            ({"receiving_nation": "WLS"}, (TERMS_REGISTER,)),
            ({"receiving_nation": "ENG"}, (TERMS_PLAN,)),
            ({"receiving_nation": "WLS", "child_protection_register": True},
             (TERMS_REGISTER, REGISTERED_CHILD_MOVES)),
            ({"receiving_nation": "ENG", "send_history_to": "E06000063"},
             (TERMS_PLAN, SEND_HISTORY)),
            ({"receiving_nation": "WLS", "send_history_to": "W06000023",
              "child_protection_register": True}, (TERMS_REGISTER, SEND_HISTORY, TELL_CUSTODIAN)),
            ({"to_authority": "unknown"}, ()),
            ({"suicidal_ideation": True}, ()),
        ],
        ids=["wales", "england", "registered_child", "history_by_hand",
             "registered_child_by_hand", "no_destination", "not_a_move"],
    )  # fmt: skip
    def test_terms_follow_the_receiving_nation(
        self, facts: dict[str, str | bool], keys: tuple[str, ...]
    ) -> None:
        """A move into Wales speaks of the child protection register, into England of the
        child protection plan; a task by hand adds its key, and a registered child one for
        the register's custodian, or, on a task, one asking its reader to tell the custodian."""
        assert transfer_wording(facts) == keys

    @pytest.mark.parametrize("key", sorted(CATALOGUE))
    def test_every_key_has_english_and_welsh(self, key: str) -> None:
        """Each key the broker ships has an English and a Welsh text in the catalogue."""
        english, welsh = CATALOGUE[key]
        assert english
        assert welsh != english
