"""Alert settings: a channel configured halfway is refused at start, not at the first alert."""

import pytest
from pydantic import ValidationError

from broker.alert_settings import NotifySettings, SmtpSettings
from broker.config import Settings


class TestAlertSettings:
    def test_smtp_has_one_kind_of_tls(self) -> None:
        """STARTTLS and TLS from the first byte exclude each other."""
        with pytest.raises(ValidationError, match="exclude each other"):
            SmtpSettings(host="smtp.example.org", starttls=True, implicit_tls=True)

    def test_a_notify_key_needs_its_template(self) -> None:
        """A Notify API key without the SMS template would make every SMS fail."""
        with pytest.raises(ValidationError, match="sms_template_id"):
            NotifySettings(api_key="k")

    def test_from_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The relay, the Notify base URL and the inbox link come from SGB_* variables."""
        monkeypatch.setenv("SGB_ALERTS__SMTP__HOST", "smtp.partnership.example.org")
        monkeypatch.setenv("SGB_ALERTS__NOTIFY__BASE_URL", "http://127.0.0.1:9")
        monkeypatch.setenv("SGB_INBOX_BASE_URL", "https://inbox.partnership.example.org")
        settings = Settings()
        assert settings.alerts.smtp.host == "smtp.partnership.example.org"
        assert settings.alerts.notify.base_url == "http://127.0.0.1:9"
        assert settings.inbox_base_url == "https://inbox.partnership.example.org"
