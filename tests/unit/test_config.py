"""Settings come from the environment or from a TOML settings file."""

from pathlib import Path

import pytest

from broker.config import Settings


class TestSettings:
    def test_environment_overrides_defaults(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """SGB_* variables, nested ones with a double underscore, set the settings."""
        monkeypatch.setenv("SGB_TOPIC_PREFIX", "prod.")
        monkeypatch.setenv("SGB_TOPICS__PARTITIONS", "12")
        settings = Settings()
        assert settings.topic_prefix == "prod."
        assert settings.topics.partitions == 12

    def test_settings_file_is_read(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A TOML file named by SGB_SETTINGS_FILE supplies what the environment does not."""
        path = tmp_path / "broker.toml"
        path.write_text(
            'kafka_bootstrap_servers = "kafka.partnership.internal:9092"\n'
            "[topics]\npartitions = 3\n"
        )
        monkeypatch.setenv("SGB_SETTINGS_FILE", str(path))
        monkeypatch.setenv("SGB_TOPIC_PREFIX", "env.")
        settings = Settings()
        assert settings.kafka_bootstrap_servers == "kafka.partnership.internal:9092"
        assert settings.topics.partitions == 3
        assert settings.topic_prefix == "env."
