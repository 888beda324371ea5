"""The notice page's plain-words view (static/js/notice-view.js) in Chromium, with the wording
catalogue as ``python -m broker.rules.wording`` writes it: Welsh first then English for a
reader in Wales where Welsh is written, English alone where it is not, and no raw key."""

import json
import re
from typing import Any

from playwright.sync_api import Page

from broker.rules import language, wording
from broker.rules.school_notice import QUIET_SUPPORT, RECORD
from schemas.notices import NoticeBody
from tests.browser import vectors

RENDER = """async ([body, catalogue]) => {
    const { render } = await import("/static/js/notice-view.js");
    const view = document.createElement("div");
    document.body.append(view);
    render(view, body, catalogue);
    return {
        text: view.innerText,
        welsh: [...view.querySelectorAll("[lang=cy]")].map((e) => e.textContent),
        order: [...view.querySelectorAll("p[lang]")].map((e) => e.lang),
    };
}"""


def rendered(page: Page, site: str, body: NoticeBody) -> dict[str, Any]:
    page.goto(f"{site}/pages/notices.html")
    result: dict[str, Any] = page.evaluate(
        RENDER, [json.loads(body.model_dump_json()), wording.catalogue()]
    )
    return result


def welsh_school_notice() -> NoticeBody:
    base = vectors.body()
    school = base.school.model_copy(update={"actions": (QUIET_SUPPORT, RECORD)})  # type: ignore[union-attr]
    return base.model_copy(
        update={
            "school": school,
            "languages": ("cy", "en"),
            "wording": ("relation.self.pupil", language.TERMS_REGISTER),
        }
    )


class TestNoticeView:
    def test_sentences_not_keys(self, page: Page, site: str) -> None:
        """The school's actions read as the catalogue's sentences; no wording key is shown."""
        text = rendered(page, site, welsh_school_notice())["text"]
        assert wording.english()[QUIET_SUPPORT] in text
        assert not re.search(r"school\.action\.|relation\.|transfer\.", text)

    def test_people_in_words(self, page: Page, site: str) -> None:
        """The child by name, the date of birth in words, the role."""
        text = rendered(page, site, welsh_school_notice())["text"]
        assert "Siân Ó Briain-Kowalczyk, born 14 March 2017, child" in text

    def test_welsh_first_where_written(self, page: Page, site: str) -> None:
        """A key with Welsh shows the Welsh, marked as Welsh, before the English."""
        result = rendered(page, site, welsh_school_notice())
        en, cy = language.CATALOGUE[language.TERMS_REGISTER]
        assert cy in result["welsh"]
        assert result["text"].index(cy) < result["text"].index(en)

    def test_english_alone_where_welsh_is_not_written(self, page: Page, site: str) -> None:
        """No Welsh is invented: a key without it is shown in English only."""
        result = rendered(page, site, welsh_school_notice())
        assert wording.english()[QUIET_SUPPORT] in result["text"]
        assert all(wording.english()[QUIET_SUPPORT] not in w for w in result["welsh"])

    def test_an_unknown_key_is_said_not_dropped(self, page: Page, site: str) -> None:
        """A key the catalogue lacks (the vector's act-by key) is said to be unworded."""
        text = rendered(page, site, vectors.body())["text"]
        assert "cannot put in words yet" in text
        assert "school.act_by" not in text
