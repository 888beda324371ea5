"""Settings of NHS MESH delivery (``SGB_MESH__*``): the broker's own MESH mailbox and its
credentials, the workflow its notices travel under, and the worker's patience. Without a
mailbox the MESH worker does not run, and notices for contacts with a MESH mailbox stay
queued (pending, counted), never silently dropped."""

from datetime import timedelta
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr

from broker.delivery.backoff import Backoff
from broker.delivery.circuit_breaker import BreakerPolicy

# The workflow id the broker's notices travel under; MESH routes and reports by it, so a
# recipient's system can take safeguarding notices apart from its other MESH traffic.
WORKFLOW_ID = "SGB_SAFEGUARDING_NOTICE"
# A subject the recipient's MESH client shows: fixed, so it can never carry personal data.
SUBJECT = "Safeguarding notice (sealed)"


class MeshSettings(BaseModel):
    url: str = Field("", description="the MESH API, e.g. https://mesh-sync.spineservices.nhs.uk")
    mailbox: str = Field("", description="the broker's MESH mailbox id; empty: MESH is off")
    password: SecretStr = SecretStr("")
    shared_key: SecretStr = SecretStr("")
    client_cert: Path | None = Field(None, description="the mailbox's TLS client certificate")
    client_key: Path | None = None
    ca_bundle: Path | None = Field(None, description="CA to verify MESH by; None: the default")
    workflow_id: str = WORKFLOW_ID
    timeout_seconds: float = Field(30, gt=0, description="for one MESH request")
    max_attempts: int = Field(8, ge=1, description="sends, then the send is dead-lettered")
    backoff_base_seconds: float = Field(2, gt=0)
    backoff_cap_seconds: float = Field(600, gt=0)
    breaker_threshold: int = Field(5, ge=1, description="consecutive failures that open it")
    breaker_cool_down_seconds: float = Field(60, gt=0)
    track_every_seconds: float = Field(60, gt=0, description="how often tracking is polled")
    give_up_after_hours: float = Field(
        120, gt=0, description="undownloaded this long after MESH accepted it: non-delivery"
    )
    poll_seconds: float = Field(5, gt=0, description="the longest an idle worker waits for "
                                "work queued by another process")  # fmt: skip
    batch: int = Field(20, ge=1)

    @property
    def enabled(self) -> bool:
        return bool(self.url and self.mailbox)

    def backoff(self) -> Backoff:
        return Backoff(
            timedelta(seconds=self.backoff_base_seconds),
            timedelta(seconds=self.backoff_cap_seconds),
        )

    def breaker(self) -> BreakerPolicy:
        return BreakerPolicy(
            self.breaker_threshold, timedelta(seconds=self.breaker_cool_down_seconds)
        )
