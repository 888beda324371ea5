"""The wording catalogue: every key the rules can emit has an English text, Welsh only where
written, and the browser's copy is current."""

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.rules import (
    language,
    minimisation,
    next_steps,
    plan_bodies,
    school_contact,
    school_notice,
    wording,
)
from broker.rules.accuracy import wording_key
from schemas.notices import NoticeType, ReferralOutcome, Relation, SchoolMatter


def constants(module: object, prefix: str) -> set[str]:
    """The module's string constants that are wording keys under ``prefix``."""
    return {v for v in vars(module).values() if isinstance(v, str) and v.startswith(prefix)}


CODE_KEYS = sorted(
    constants(school_notice, "school.")
    | constants(school_contact, "school.call.")
    | constants(language, "transfer.")
    | {minimisation.THIRD_PARTY_WORDING, plan_bodies.CONCERN_RETURNED, plan_bodies.REVIEW_WORDING}
    | {key for keys in school_notice.ACTIONS.values() for key in keys}
    | set(minimisation.PROMPTS.values())
)


class TestEnglishForEveryKey:
    @pytest.mark.parametrize("key", CODE_KEYS)
    def test_code_key_has_english(self, key: str) -> None:
        """Every wording key the rules' modules declare has an English text."""
        assert wording.english()[key].strip()

    @given(st.sampled_from(list(Relation)), st.sampled_from(list(NoticeType)))
    def test_every_relation_key_has_english(self, relation: Relation, kind: NoticeType) -> None:
        """Whatever the relation and the reader, the relation key has an English sentence."""
        text = wording.english()[wording_key(relation, kind)]
        assert text.startswith("What happened concerns ")
        assert text.endswith(".")

    @pytest.mark.parametrize("matter", list(SchoolMatter))
    def test_every_school_matter_has_english(self, matter: SchoolMatter) -> None:
        """What a school is told happened is worded for every matter."""
        assert wording.english()[wording.MATTER_PREFIX + matter.value]

    def test_texts_are_sentences_not_keys(self) -> None:
        """No text is itself a key or holds one (a key shown is a key not worded)."""
        for text in wording.english().values():
            assert not re.search(r"\b[a-z_]+\.[a-z_]+\.[a-z_]+", text)

    def test_deadline_texts_hold_the_deadline(self) -> None:
        """An act-by text has the place the page fills with the deadline in words."""
        for key in (school_notice.TODAY, school_notice.ON_DAY, school_notice.WHEN_SCHOOL_REOPENS):
            assert "{when}" in wording.english()[key]

    @pytest.mark.parametrize("outcome", list(ReferralOutcome))
    def test_every_referral_outcome_has_english(self, outcome: ReferralOutcome) -> None:
        """The front door's decision, as its referrer is told it, is worded for every outcome."""
        assert wording.english()[next_steps.WORDING_PREFIX + outcome.value]


class TestWelsh:
    def test_written_welsh_is_kept(self) -> None:
        """The transfer keys keep the Welsh a Welsh speaker wrote."""
        assert wording.welsh() == {k: t[1] for k, t in language.CATALOGUE.items()}

    def test_no_welsh_is_invented(self) -> None:
        """Every other key lacks Welsh, and the report names it."""
        assert set(wording.lacking_welsh()) == set(wording.english()) - set(language.CATALOGUE)
        assert school_notice.QUIET_SUPPORT in wording.lacking_welsh()


class TestBrowserCopy:
    def test_wording_json_is_current(self) -> None:
        """static/js/wording.json is what ``python -m broker.rules.wording`` writes."""
        assert json.loads(wording.STATIC.read_text(encoding="utf-8")) == wording.catalogue()

    def test_check_fails_on_a_stale_copy(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """``--check`` exits 1 when the browser's copy is not current."""
        stale = tmp_path / "wording.json"
        stale.write_text("{}", encoding="utf-8")
        monkeypatch.setattr(wording, "STATIC", stale)
        assert wording.main(["--check"]) == 1
