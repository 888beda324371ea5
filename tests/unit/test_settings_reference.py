"""docs/settings.md is generated from the Settings model, and list settings read commas."""

import pytest

from broker.config import Settings
from broker.settings_reference import REFERENCE, main, render


class TestSettingsReference:
    def test_the_committed_reference_is_current(self) -> None:
        """``python -m broker.config`` was run after the last change to a setting."""
        assert REFERENCE.read_text(encoding="utf-8") == render()

    def test_check_passes_on_the_current_reference(self) -> None:
        """What ``make lint`` runs: exit 0."""
        assert main(["--check"]) == 0

    def test_every_setting_is_listed_under_its_variable(self) -> None:
        """Nested settings joined with a double underscore, as the environment names them."""
        text = render()
        for variable in ("SGB_DATABASE_URL", "SGB_WEBHOOKS__ALLOWED_NETWORKS",
                         "SGB_ROUTING__CHILD_ED_ATTENDANCES", "SGB_ADMINISTRATORS"):  # fmt: skip
            assert f"`{variable}`" in text

    def test_a_secret_s_value_is_never_shown(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The reference shows defaults, not the environment's values."""
        monkeypatch.setenv("SGB_PSEUDONYM_KEY", "a-secret-XYZ")
        assert "XYZ" not in render()


class TestCommaLists:
    @pytest.mark.parametrize(("given", "read"), [
        ("la-front-door,icb-demo", ["la-front-door", "icb-demo"]),
        (" la-front-door , icb-demo ,", ["la-front-door", "icb-demo"]),
        ('["la-front-door", "icb-demo"]', ["la-front-door", "icb-demo"]),
        ("", []),
    ])  # fmt: skip
    def test_administrators_from_the_environment(
        self, monkeypatch: pytest.MonkeyPatch, given: str, read: list[str]
    ) -> None:
        """A comma list or a JSON list, spaces and a trailing comma forgiven."""
        monkeypatch.setenv("SGB_ADMINISTRATORS", given)
        assert Settings().administrators == read

    def test_a_nested_list_reads_commas(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """SGB_WEBHOOKS__ALLOWED_NETWORKS as networks."""
        monkeypatch.setenv("SGB_WEBHOOKS__ALLOWED_NETWORKS", "127.0.0.0/8,10.0.0.0/8")
        assert [str(n) for n in Settings().webhooks.allowed_networks] == ["127.0.0.0/8",
                                                                          "10.0.0.0/8"]  # fmt: skip

    def test_token_audiences_read_commas(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Two URLs the token endpoint is reached at."""
        monkeypatch.setenv("SGB_TOKEN_AUDIENCES", "https://a.example/token,https://b.example/token")
        assert len(Settings().token_audiences) == 2
