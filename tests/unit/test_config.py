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


class TestRoutingSettings:
    def test_thresholds_come_from_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A partnership can set its own thresholds without code."""
        monkeypatch.setenv("SGB_ROUTING__CHILD_ED_ATTENDANCES", "4")
        monkeypatch.setenv("SGB_ROUTING__WNB_WINDOW_DAYS", "90")
        limits = Settings().routing.thresholds()
        assert limits.child_ed_attendances == 4
        assert limits.wnb_window.days == 90

    def test_pattern_thresholds_come_from_the_environment(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Repeated crises and the was-not-brought rate are the partnership's to set."""
        monkeypatch.setenv("SGB_ROUTING__REPEATED_CRISES", "4")
        monkeypatch.setenv("SGB_ROUTING__REPEATED_CRISES_WINDOW_DAYS", "365")
        monkeypatch.setenv("SGB_ROUTING__WNB_MIN_ATTENDANCE_RATE", "0.8")
        limits = Settings().routing.thresholds()
        assert (limits.repeated_crises, limits.repeated_crises_window.days) == (4, 365)
        assert limits.wnb_min_attendance_rate == 0.8

    def test_defaults_are_the_briefs(self) -> None:
        """By default: three crises in six months; under 75% of at least four booked."""
        limits = Settings().routing.thresholds()
        assert (limits.repeated_crises, limits.repeated_crises_window.days) == (3, 183)
        assert (limits.wnb_min_attendance_rate, limits.wnb_min_booked) == (0.75, 4)

    def test_deadline_period_per_notice_type(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Notice types without a statutory policy take the partnership's period; for GP,
        health visiting and agency notices 24 hours are one working day (second edition:
        they count the recipient's working days), due at the close of that day."""
        from datetime import UTC, datetime

        from broker.rules.deadlines import LONDON, deadline_for
        from schemas.notices import NoticeType, Severity

        monkeypatch.setenv("SGB_ROUTING__DEADLINE_HOURS", '{"gp_information": 24}')
        periods = Settings().routing.deadline_periods()
        start = datetime(2027, 5, 10, 9, tzinfo=UTC)  # Monday 10:00 in London
        gp = deadline_for(NoticeType.GP_INFORMATION, Severity.LOW, start, periods=periods)
        hv = deadline_for(NoticeType.HEALTH_VISITING, Severity.LOW, start, periods=periods)
        assert gp == datetime(2027, 5, 11, 17, tzinfo=LONDON)  # one working day
        assert hv == datetime(2027, 5, 13, 17, tzinfo=LONDON)  # the default, three

    def test_out_of_hours_period_stays_real_time(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The emergency duty team's period is real time, as configured, day and night."""
        from datetime import UTC, datetime, timedelta

        from broker.rules.deadlines import deadline_for
        from schemas.notices import NoticeType, Severity

        monkeypatch.setenv("SGB_ROUTING__DEADLINE_HOURS", '{"out_of_hours_referral": 0.5}')
        periods = Settings().routing.deadline_periods()
        start = datetime(2027, 5, 8, 2, tzinfo=UTC)  # Saturday night
        due = deadline_for(NoticeType.OUT_OF_HOURS, Severity.HIGH, start, periods=periods)
        assert due == start + timedelta(minutes=30)
