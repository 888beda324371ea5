"""Settings from the environment (``SGB_*``) or a settings file (``SGB_SETTINGS_FILE``, TOML)."""

import os
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class TopicSettings(BaseModel):
    partitions: int = Field(6, ge=1)
    replication_factor: int = Field(1, ge=1)
    min_insync_replicas: int = Field(1, ge=1)
    events_retention_ms: int = 7 * 24 * 3600 * 1000
    notices_retention_ms: int = 30 * 24 * 3600 * 1000
    dead_letter_retention_ms: int = 30 * 24 * 3600 * 1000
    audit_retention_ms: int = -1  # the audit trail is kept until the partnership deletes it


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SGB_", env_nested_delimiter="__")

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    topic_prefix: str = "sgb."
    topics: TopicSettings = TopicSettings()
    database_url: str = "sqlite+aiosqlite:///./var/broker.db"
    keys_dir: Path = Path("var/keys")
    pseudonym_key: SecretStr = Field(
        default=SecretStr(""),
        description="HMAC key for Kafka message keys; generated into keys_dir when empty.",
    )
    router_group: str = "sgb-router"
    delivery_group: str = "sgb-delivery"
    log_level: str = "INFO"
    log_json: bool | None = None  # None: JSON unless writing to a terminal

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: tuple[PydanticBaseSettingsSource, ...] = (init_settings, env_settings)
        settings_file = os.environ.get("SGB_SETTINGS_FILE")
        if settings_file:
            sources += (TomlConfigSettingsSource(settings_cls, toml_file=Path(settings_file)),)
        return sources
