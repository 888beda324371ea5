"""The helper a recipient's system uses to take notices the broker pushes to its webhook.

    receiver = WebhookReceiver(broker_keys)              # from broker-public.txt
    notice = receiver.accept(request.headers, await request.body(), datetime.now(UTC))
    if notice is not None:                               # None: already taken, answer 2xx
        header, body = NoticeReceiver(my_key, broker_keys).open(notice)

``accept`` checks, in order: the Standard Webhooks headers are there; the timestamp is within
the tolerance of the receiver's clock (a replayed old request is refused); the broker's
Ed25519 signature over id, timestamp and body verifies with the key it names (a retired key
only up to its ``not_after``: it signs no fresh request); and the
webhook id (the notice id) was not taken before. Any refusal raises ``WebhookRejected``:
answer it with a 4xx. Answer a duplicate with a 2xx, or the broker keeps retrying it.

The broker retries with a fresh timestamp and signature but the same webhook id, so the ids
seen must be kept longer than the broker's retries last: pass a ``SeenIds`` backed by the
system's own database, written in the transaction that stores the notice.
"""

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Protocol

from pydantic import ValidationError

from producers import webhook_signatures as webhooks
from producers.broker_keys import BrokerPublicKeys
from producers.errors import BrokerError
from schemas.notices import NoticeHeader, SealedNotice

DEFAULT_TOLERANCE = timedelta(minutes=5)


class WebhookRejected(BrokerError):
    """A pushed request that is not an authentic, fresh notice from the broker."""


class SeenIds(Protocol):
    def first_time(self, webhook_id: str) -> bool:
        """Records the id; True unless it was recorded before."""
        ...


class InMemorySeenIds:
    """Ids seen since the process started: enough for a test or a demo, not for production."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def first_time(self, webhook_id: str) -> bool:
        if webhook_id in self._seen:
            return False
        self._seen.add(webhook_id)
        return True


class WebhookReceiver:
    def __init__(
        self,
        broker_keys: BrokerPublicKeys,
        seen: SeenIds | None = None,
        tolerance: timedelta = DEFAULT_TOLERANCE,
    ) -> None:
        self._broker = broker_keys
        self._seen = seen or InMemorySeenIds()
        self._tolerance = tolerance

    def accept(self, headers: Mapping[str, str], body: bytes, now: datetime) -> SealedNotice | None:
        """The pushed notice, verified; None when this webhook id was accepted before."""
        lowered = {name.lower(): value for name, value in headers.items()}
        webhook_id, timestamp = self._fresh(lowered, now)
        try:
            signed_at = datetime.fromtimestamp(timestamp, UTC)
            key = self._broker.signing_key(lowered.get(webhooks.KEY_ID_HEADER, ""), signed_at)
            webhooks.verify_signature(
                key, webhook_id, timestamp, body, lowered[webhooks.SIGNATURE_HEADER]
            )
            notice = SealedNotice.model_validate_json(body)
            notice_id = str(NoticeHeader.model_validate_json(notice.header).notice_id)
        except (BrokerError, ValidationError) as exc:
            raise WebhookRejected("not signed by the broker, or not a sealed notice") from exc
        if notice_id != webhook_id:
            raise WebhookRejected("the webhook id is not the notice's id")
        return notice if self._seen.first_time(webhook_id) else None

    def _fresh(self, headers: Mapping[str, str], now: datetime) -> tuple[str, int]:
        needed = (webhooks.ID_HEADER, webhooks.TIMESTAMP_HEADER, webhooks.SIGNATURE_HEADER)
        if any(not headers.get(name) for name in needed):
            raise WebhookRejected("a webhook header is missing")
        try:
            timestamp = int(headers[webhooks.TIMESTAMP_HEADER])
        except ValueError:
            raise WebhookRejected("the webhook timestamp is not a number") from None
        if abs(now.timestamp() - timestamp) > self._tolerance.total_seconds():
            raise WebhookRejected("the webhook timestamp is too far from now")
        return headers[webhooks.ID_HEADER], timestamp
