"""A recipient's webhook endpoint in the directory: which URLs are allowed, and CSV import."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from broker.adapters.csv_import import read_directory
from schemas.directory import ContactSpec

KEY = "A" * 43 + "="


def contact(url: str | None) -> ContactSpec:
    return ContactSpec(id="s:key_adult", org_id="school-a", role="key_adult",
                       hpke_public_key=KEY, webhook_url=url)  # fmt: skip


class TestWebhookUrl:
    @pytest.mark.parametrize(
        "url",
        [
            "https://safeguarding.school.example/hooks/sgb",
            "https://x.example:8443/h?tenant=7",
            "http://127.0.0.1:8000/hook",
            "http://[::1]/hook",
            "http://localhost/hook",
        ],
    )
    def test_https_anywhere_or_http_on_loopback(self, url: str) -> None:
        """Production endpoints are https; plain http only for a system on this machine."""
        assert contact(url).webhook_url == url

    def test_optional(self) -> None:
        """A recipient without one reads its inbox only."""
        assert contact(None).webhook_url is None

    @pytest.mark.parametrize(
        ("url", "problem"),
        [
            ("http://school.example/hook", "loopback only"),
            ("http://10.0.0.5/hook", "loopback only"),
            ("ftp://school.example/hook", "https URL"),
            ("https:///no-host", "https URL"),
            ("https://school.example:99999999/", "https URL"),
            ("https://user:secret@school.example/hook", "no credentials"),
            ("https://school.example/hook#frag", "no credentials or fragment"),
        ],
    )
    def test_refused(self, url: str, problem: str) -> None:
        """Cleartext over a network, other schemes and credentials in the URL are refused."""
        with pytest.raises(ValidationError, match=problem):
            contact(url)


class TestCsvImport:
    def test_contacts_csv_may_name_a_webhook(self, tmp_path: Path) -> None:
        """The column is optional; an empty cell means none."""
        (tmp_path / "contacts.csv").write_text(
            "id,org_id,role,hpke_public_key,webhook_url\n"
            f"a:key_adult,school-a,key_adult,{KEY},https://a.example/hook\n"
            f"b:key_adult,school-b,key_adult,{KEY},\n"
        )
        contacts = read_directory(tmp_path).contacts
        assert [c.webhook_url for c in contacts] == ["https://a.example/hook", None]
