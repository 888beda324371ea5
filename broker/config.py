"""Settings from the environment (``SGB_*``) or a settings file (``SGB_SETTINGS_FILE``, TOML)."""

import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field, IPvAnyNetwork, PositiveFloat, SecretStr
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from broker.alert_settings import AlertSettings
from broker.delivery.backoff import Backoff
from broker.delivery.circuit_breaker import BreakerPolicy
from broker.mesh_settings import MeshSettings
from broker.rules.deadlines import OTHER_PERIODS
from broker.rules.escalation import ESCALATION_PERIOD, SCHOOL_ESCALATION_LEAD
from broker.rules.thresholds import Thresholds
from producers.kafka import KafkaSecurity
from schemas.notices import NoticeType


def _comma_list(value: Any) -> Any:
    """A list setting from the environment as ``a,b,c`` (or a JSON list, as before)."""
    if not isinstance(value, str):
        return value
    if value.strip().startswith("["):
        return json.loads(value)
    return [item.strip() for item in value.split(",") if item.strip()]


# A list the environment may give as a comma list; NoDecode: pydantic-settings would
# otherwise insist on JSON for it.
CommaList = [NoDecode, BeforeValidator(_comma_list)]


class TopicSettings(BaseModel):
    partitions: int = Field(6, ge=1)
    replication_factor: int = Field(1, ge=1)
    min_insync_replicas: int = Field(1, ge=1)
    events_retention_ms: int = 7 * 24 * 3600 * 1000
    notices_retention_ms: int = 30 * 24 * 3600 * 1000
    dead_letter_retention_ms: int = 30 * 24 * 3600 * 1000
    audit_retention_ms: int = -1  # the audit trail is kept until the partnership deletes it


class RoutingSettings(BaseModel):
    """The partnership's thresholds and deadline periods (defaults from the domain brief)."""

    child_ed_attendances: int = Field(3, ge=1)
    adult_ed_attendances: int = Field(5, ge=1)
    ed_window_days: int = Field(365, ge=1)
    not_yet_mobile_months: int = Field(12, ge=0)  # only when the attendance does not say
    wnb_window_days: int = Field(183, ge=1)
    wnb_min_booked: int = Field(4, ge=1)
    wnb_min_attendance_rate: float = Field(0.75, gt=0, le=1)
    co_occurrence_window_days: int = Field(365, ge=1)
    accumulation_window_days: int = Field(91, ge=1)
    accumulation_events: int = Field(3, ge=2)
    repeated_crises_window_days: int = Field(183, ge=1)
    repeated_crises: int = Field(3, ge=2)
    escalation_hours: float = Field(
        ESCALATION_PERIOD / timedelta(hours=1), gt=0, description="an escalation's own deadline"
    )
    school_escalation_lead_minutes: int = Field(
        SCHOOL_ESCALATION_LEAD // timedelta(minutes=1),
        ge=0,
        description="a school's notice escalates this long before its session starts",
    )
    # For GP, health visiting and agency notices (WORKING_DAY_TYPES) hours are read as working
    # days of the recipient, due at the close of its working day: 24 hours are one working day,
    # rounded up (36: two); under 24 hours stays real time. Others are real time (out of hours).
    deadline_hours: dict[NoticeType, PositiveFloat] = Field(
        default_factory=lambda: {
            kind: p.total_seconds() / 3600 for kind, p in OTHER_PERIODS.items()
        },
        description="per notice type; for GP, health visiting and agency, 24 = 1 working day",
    )

    def thresholds(self) -> Thresholds:
        return Thresholds(
            ed_window=timedelta(days=self.ed_window_days),
            child_ed_attendances=self.child_ed_attendances,
            adult_ed_attendances=self.adult_ed_attendances,
            not_yet_mobile_months=self.not_yet_mobile_months,
            wnb_window=timedelta(days=self.wnb_window_days),
            wnb_min_booked=self.wnb_min_booked,
            wnb_min_attendance_rate=self.wnb_min_attendance_rate,
            co_occurrence_window=timedelta(days=self.co_occurrence_window_days),
            accumulation_window=timedelta(days=self.accumulation_window_days),
            accumulation_events=self.accumulation_events,
            repeated_crises_window=timedelta(days=self.repeated_crises_window_days),
            repeated_crises=self.repeated_crises,
        )

    def escalation_period(self) -> timedelta:
        return timedelta(hours=self.escalation_hours)

    def school_escalation_lead(self) -> timedelta:
        return timedelta(minutes=self.school_escalation_lead_minutes)

    def deadline_periods(self) -> dict[NoticeType, timedelta]:
        return {kind: timedelta(hours=hours) for kind, hours in self.deadline_hours.items()}


class WebhookSettings(BaseModel):
    """Pushing notices to recipients' own systems: patience, retries and the circuit breaker."""

    timeout_seconds: float = Field(10, gt=0, description="for one POST, connect to answer")
    max_attempts: int = Field(8, ge=1, description="then the delivery is dead-lettered")
    backoff_base_seconds: float = Field(2, gt=0)
    backoff_cap_seconds: float = Field(600, gt=0)
    breaker_threshold: int = Field(5, ge=1, description="consecutive failures that open it")
    breaker_cool_down_seconds: float = Field(60, gt=0)
    poll_seconds: float = Field(5, gt=0, description="the longest an idle worker waits for "
                                "deliveries queued by another process")  # fmt: skip
    batch: int = Field(20, ge=1, description="deliveries (to distinct recipients) at once")
    allowed_networks: Annotated[list[IPvAnyNetwork], *CommaList] = Field(
        default_factory=list,
        description="networks webhooks may reach although not public (loopback, private): "
        "for tests and local development only; empty in production",
    )

    def backoff(self) -> Backoff:
        return Backoff(timedelta(seconds=self.backoff_base_seconds),
                       timedelta(seconds=self.backoff_cap_seconds))  # fmt: skip

    def breaker(self) -> BreakerPolicy:
        return BreakerPolicy(self.breaker_threshold,
                             timedelta(seconds=self.breaker_cool_down_seconds))  # fmt: skip


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SGB_", env_nested_delimiter="__")

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    topic_prefix: str = "sgb."
    topics: TopicSettings = TopicSettings()
    kafka_security: KafkaSecurity = KafkaSecurity()
    routing: RoutingSettings = RoutingSettings()
    database_url: str = "sqlite+aiosqlite:///./var/broker.db"
    keys_dir: Path = Path("var/keys")
    pseudonym_key: SecretStr = Field(
        default=SecretStr(""),
        description="HMAC key for Kafka message keys; generated into keys_dir when empty.",
    )
    router_group: str = "sgb-router"
    follow_up_interval_seconds: float = Field(
        5.0, gt=0, description="how often the router relays the outbox and escalates"
    )
    notice_gauges_interval_seconds: float = Field(
        30.0,
        gt=0,
        description="how often the router counts the open, overdue and escalated notices "
        "for /metrics (a scan of every open notice: a scrape seldom comes more often)",
    )
    matching_queue_retention_days: int = Field(
        90,
        ge=1,
        description="how long an event nobody matched stays in the matching queue: "
        "then the router's timer purges it (its sealed event and the people it names)",
    )
    delivery_group: str = "sgb-delivery"
    peer_receipt_max_attempts: int = Field(
        300,
        ge=1,
        description="attempts to send a receipt to the peer broker a transfer came from, at "
        "the webhooks' backoff (about a day once at its cap): a peer down for maintenance is "
        "waited for; then the receipt is dead-lettered for an operator to replay",
    )
    webhooks: WebhookSettings = WebhookSettings()
    alerts: AlertSettings = AlertSettings()
    mesh: MeshSettings = MeshSettings()  # NHS MESH delivery (issue 18)
    inbox_base_url: str = Field("http://localhost:8000", description="the web inbox as its "
                                "users reach it: alerts link to its notice pages")  # fmt: skip
    web_insecure_loopback: bool = Field(False, description="the web inbox's session cookie "
                                        "without Secure, only when inbox_base_url is http on "
                                        "127.0.0.1 or localhost (tests, the demo)")  # fmt: skip
    administrators: Annotated[list[str], *CommaList] = Field(
        default_factory=list, description="ids of the organisations that administer the directory"
    )
    unknown_person_retention_days: int = Field(
        90,
        ge=1,
        description="how long what is kept about someone the directory does not "
        "know stays readable after its last notice: ``sgb sweep-unknown-people`` then "
        "shreds the key",
    )
    key_change_expiry_hours: float = Field(
        72,
        gt=0,
        description="how long a key change awaits a second administrator's "
        "approval; older, it lapses and must be asked for again",
    )
    max_body_bytes: int = Field(1_048_576, ge=1024)
    rate_limit: str = Field(
        "600/minute", description="per peer address, before authentication (limits notation)"
    )
    organisation_rate_limit: str = Field("600/minute", description="per organisation, once "
                                         "its token holds")  # fmt: skip
    forwarded_allow_ips: str = Field(
        "",
        description="proxies (comma-separated addresses or networks) whose X-Forwarded-For "
        "names the client; empty: the connection's own address, whatever a header says",
    )
    token_audiences: Annotated[list[str], *CommaList] = Field(
        default_factory=list,
        description="the token endpoint's URLs as clients reach it (the audience their "
        "assertions name); empty: the URL each request came to (loopback use only)",
    )
    api_docs: bool = Field(False, description="serve /docs and /openapi.json (development)")
    log_level: str = "INFO"
    log_json: bool | None = None  # None: JSON unless writing to a terminal
    ops_host: str = Field("127.0.0.1", description="where every process serves ops")
    ops_port: int = Field(0, ge=0, le=65535, description="the ops port (/health, /ready, "
                          "/metrics), never an API's; 0: no ops server")  # fmt: skip

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


if __name__ == "__main__":  # python -m broker.config [--check]: the settings reference
    import sys

    from broker.settings_reference import main

    sys.exit(main(sys.argv[1:]))
