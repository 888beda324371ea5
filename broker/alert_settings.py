"""Settings of the alerts that tell a person a notice waits (``SGB_ALERTS__*``): the worker's
patience and retries, the SMTP relay for email, GOV.UK Notify for SMS (the partnership's own
Notify service: its API key and SMS template). A channel left unconfigured sends nothing: its
alerts are given up and reported as ``channel_not_configured``, never silently dropped."""

from datetime import timedelta
from typing import Self

from pydantic import BaseModel, Field, SecretStr, model_validator

from broker.delivery.backoff import Backoff

NOTIFY_API = "https://api.notifications.service.gov.uk"


class SmtpSettings(BaseModel):
    host: str = Field("", description="the mail relay; empty: no email alerts")
    port: int = Field(587, ge=1, le=65535)
    starttls: bool = Field(True, description="upgrade the connection with STARTTLS")
    implicit_tls: bool = Field(False, description="TLS from the first byte (port 465)")
    username: str = ""
    password: SecretStr = SecretStr("")
    from_address: str = "safeguarding-alerts@localhost"

    @model_validator(mode="after")
    def _one_kind_of_tls(self) -> Self:
        if self.starttls and self.implicit_tls:
            raise ValueError("starttls and implicit_tls exclude each other: choose one")
        return self


class NotifySettings(BaseModel):
    api_key: SecretStr = Field(SecretStr(""), description="empty: no SMS alerts")
    base_url: str = NOTIFY_API
    sms_template_id: str = Field("", description="a Notify SMS template whose whole text "
                                 "is ((body))")  # fmt: skip

    @model_validator(mode="after")
    def _a_template_with_a_key(self) -> Self:
        # Without its template every SMS would fail at Notify: refused at start instead.
        if self.api_key.get_secret_value() and not self.sms_template_id:
            raise ValueError("an api_key needs its sms_template_id")
        return self


class AlertSettings(BaseModel):
    timeout_seconds: float = Field(15, gt=0, description="for one send, connect to answer")
    max_attempts: int = Field(8, ge=1, description="then the alert is given up and reported")
    backoff_base_seconds: float = Field(30, gt=0)
    backoff_cap_seconds: float = Field(1800, gt=0)
    poll_seconds: float = Field(5, gt=0, description="the longest an idle worker waits for "
                                "alerts queued by another process")  # fmt: skip
    batch: int = Field(20, ge=1, description="alerts sent at once")
    failing_window_days: int = Field(7, ge=1, description="the failing-alerts report's reach")
    smtp: SmtpSettings = SmtpSettings()
    notify: NotifySettings = NotifySettings()

    def backoff(self) -> Backoff:
        return Backoff(timedelta(seconds=self.backoff_base_seconds),
                       timedelta(seconds=self.backoff_cap_seconds))  # fmt: skip
