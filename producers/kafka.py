"""Publishing to the broker's Kafka: the connection settings, the record, and an idempotent,
acks=all producer. The broker's own publisher (``broker.adapters.kafka``) is this one with
its metrics added, so an agency's records leave exactly as the broker's do.
"""

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.helpers import create_ssl_context
from pydantic import BaseModel, SecretStr

from producers.errors import PublishFailed


class KafkaSecurity(BaseModel):
    """How the broker's Kafka clients authenticate. Local development: PLAINTEXT on loopback.
    Production: SASL_SSL with SCRAM, or SSL with a client certificate (mutual TLS)."""

    protocol: Literal["PLAINTEXT", "SSL", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512"] = "SCRAM-SHA-512"
    username: str | None = None
    password: SecretStr | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None  # the client's certificate, for mutual TLS
    key_file: Path | None = None


def client_options(security: KafkaSecurity | None) -> dict[str, Any]:
    """aiokafka's connection options for the configured protocol (SCRAM, mutual TLS)."""
    if security is None or security.protocol == "PLAINTEXT":
        return {}
    options: dict[str, Any] = {
        "security_protocol": security.protocol,
        "ssl_context": create_ssl_context(
            cafile=str(security.ca_file) if security.ca_file else None,
            certfile=str(security.cert_file) if security.cert_file else None,
            keyfile=str(security.key_file) if security.key_file else None,
        ),
    }
    if security.protocol == "SASL_SSL":
        password = security.password.get_secret_value() if security.password else None
        options |= {"sasl_mechanism": security.sasl_mechanism,
                    "sasl_plain_username": security.username,
                    "sasl_plain_password": password}  # fmt: skip
    return options


def events_topic(prefix: str) -> str:
    """The topic events are published to, under the partnership's topic prefix."""
    return f"{prefix}events"


@dataclass(frozen=True)
class Message:
    topic: str
    key: str
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


# When the event was accepted, as ISO 8601 in UTC: the gateway's clock as it publishes an event
# it accepted, or the agency's as it publishes straight to Kafka with this package. The router
# copies it onto the event's notices, and the delivery worker observes the event-to-inbox
# latency from it. A measure alone: nothing the broker records or decides reads it.
ACCEPTED_AT = "sgb-accepted-at"


def accepted_at_header(at: datetime) -> tuple[str, bytes]:
    return ACCEPTED_AT, at.astimezone(UTC).isoformat().encode()


def accepted_at(headers: Iterable[tuple[str, bytes]]) -> datetime | None:
    """The acceptance time the headers carry; None when absent, or not a time with an offset
    (a record from before the header, or from another producer)."""
    for name, value in headers:
        if name == ACCEPTED_AT:
            try:
                at = datetime.fromisoformat(value.decode())
            except (UnicodeDecodeError, ValueError):
                return None
            return at if at.tzinfo is not None else None
    return None


# Longer than Kafka takes to restart or elect new leaders, so those only delay a publish.
PUBLISH_DEADLINE_S = 60.0

# The client settings the broker runs with. The benchmark's raw-aiokafka baseline takes the
# very same, so that the two are compared like for like.
PRODUCER_SETTINGS: dict[str, Any] = {
    "acks": "all",
    "enable_idempotence": True,
    "linger_ms": 5,
    "compression_type": None,
}


class KafkaPublisher:
    """An idempotent, acks=all producer. ``publish`` returns once Kafka has every record, or
    raises PublishFailed: a refusal, or no acknowledgement within ``deadline_s`` (Kafka away).
    A record not acknowledged in time may still be written later, so the caller's retry can
    put it on Kafka twice: every consumer keeps a record once by its id."""

    def __init__(
        self, bootstrap: str, security: KafkaSecurity | None = None, *,
        deadline_s: float = PUBLISH_DEADLINE_S, **overrides: Any,
    ) -> None:  # fmt: skip
        self._deadline_s = deadline_s
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            **client_options(security),
            **(PRODUCER_SETTINGS | overrides),
        )
        self.started = False

    async def start(self) -> None:
        await self._producer.start()
        self.started = True

    async def stop(self) -> None:
        self.started = False
        await self._producer.stop()

    async def publish(self, messages: Sequence[Message]) -> None:
        try:
            async with asyncio.timeout(self._deadline_s):
                futures = [
                    await self._producer.send(
                        m.topic, m.value, key=m.key.encode(), headers=list(m.headers)
                    )
                    for m in messages
                ]
                await asyncio.gather(*futures)
        except TimeoutError as exc:
            raise PublishFailed("Kafka did not acknowledge in time") from exc
        except KafkaError as exc:
            raise PublishFailed(f"Kafka did not acknowledge: {type(exc).__name__}") from exc
        self._published(messages)

    def _published(self, messages: Sequence[Message]) -> None:
        """Called once Kafka has every record: the broker counts them here."""
