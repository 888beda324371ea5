"""Signing webhook requests, and the recipient's side verifying them."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from producers.broker_keys import BrokerPublicKeys
from producers.envelopes import seal_notice
from producers.receiver import NoticeReceiver
from producers.webhook_receiver import WebhookReceiver, WebhookRejected
from producers.webhook_signatures import signature_headers
from schemas.notices import NoticeBody, NoticeHeader, NoticeType, SealedNotice, Severity

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SIGNING = Ed25519PrivateKey.generate()
BROKER = BrokerPublicKeys(X25519PrivateKey.generate().public_key(), SIGNING.public_key())
RECIPIENT = X25519PrivateKey.generate()


def a_notice() -> SealedNotice:
    header = NoticeHeader(
        notice_id=uuid4(), event_id=uuid4(), household="h", recipient_id="school-1:key_adult",
        recipient_org="school-1", notice_type=NoticeType.SCHOOL_SUPPORT, severity=Severity.HIGH,
        created_at=NOW, deadline=NOW + timedelta(hours=20),
        recipient_key_id="k", signing_key_id=BROKER.signing_key_id,
    )  # fmt: skip
    body = NoticeBody(summary="s", event_type="ed_attendance", occurred_at=NOW, source_org="a-1")
    return seal_notice(header, body, RECIPIENT.public_key(), SIGNING)


def pushed(
    notice: SealedNotice, at: datetime = NOW, key: Ed25519PrivateKey = SIGNING,
    webhook_id: str | None = None,
) -> tuple[dict[str, str], bytes]:  # fmt: skip
    """A request as the dispatcher sends it: the sealed notice, signed."""
    body = notice.model_dump_json().encode()
    webhook_id = webhook_id or str(NoticeHeader.model_validate_json(notice.header).notice_id)
    headers = signature_headers(key, BROKER.signing_key_id, webhook_id, int(at.timestamp()), body)
    return headers, body


class TestWebhookReceiver:
    def test_accepts_a_signed_fresh_notice_which_then_opens(self) -> None:
        """A genuine push is accepted and opens with the recipient's key."""
        notice = a_notice()
        accepted = WebhookReceiver(BROKER).accept(*pushed(notice), NOW + timedelta(seconds=3))
        assert accepted == notice
        header, _ = NoticeReceiver(RECIPIENT, BROKER).open(accepted)
        assert header.recipient_id == "school-1:key_adult"

    def test_a_retry_of_the_same_notice_is_a_duplicate(self) -> None:
        """The broker's retry (new timestamp, same id) is recognised: None, answer 2xx."""
        receiver, notice = WebhookReceiver(BROKER), a_notice()
        assert receiver.accept(*pushed(notice), NOW) is not None
        later = NOW + timedelta(minutes=2)
        assert receiver.accept(*pushed(notice, at=later), later) is None

    def test_header_names_are_case_insensitive(self) -> None:
        """HTTP header names arrive in any case."""
        headers, body = pushed(a_notice())
        shouted = {name.upper(): value for name, value in headers.items()}
        assert WebhookReceiver(BROKER).accept(shouted, body, NOW) is not None

    @pytest.mark.parametrize("skew", [timedelta(minutes=6), -timedelta(minutes=6)])
    def test_refuses_a_stale_or_future_timestamp(self, skew: timedelta) -> None:
        """A request signed outside the tolerance (a replay, say) is refused."""
        with pytest.raises(WebhookRejected, match="too far"):
            WebhookReceiver(BROKER).accept(*pushed(a_notice()), NOW + skew)

    def test_refuses_a_tampered_body(self) -> None:
        """One byte changed breaks the signature."""
        headers, body = pushed(a_notice())
        with pytest.raises(WebhookRejected, match="not signed"):
            WebhookReceiver(BROKER).accept(headers, body.replace(b"ciphertext", b"ciphertexT"), NOW)

    def test_refuses_another_key(self) -> None:
        """A request signed by anyone but the broker is refused."""
        with pytest.raises(WebhookRejected, match="not signed"):
            WebhookReceiver(BROKER).accept(*pushed(a_notice(), key=Ed25519PrivateKey.generate()),
                                           NOW)  # fmt: skip

    def test_refuses_a_signature_moved_to_another_id(self) -> None:
        """The id is signed: the same body under another webhook id does not verify."""
        headers, body = pushed(a_notice())
        headers["webhook-id"] = str(uuid4())
        with pytest.raises(WebhookRejected, match="not signed"):
            WebhookReceiver(BROKER).accept(headers, body, NOW)

    def test_refuses_an_id_that_is_not_the_notice(self) -> None:
        """Signed or not, the webhook id must be the notice's own id."""
        with pytest.raises(WebhookRejected, match="not the notice"):
            WebhookReceiver(BROKER).accept(*pushed(a_notice(), webhook_id=str(uuid4())), NOW)

    @pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
    def test_refuses_a_request_missing_a_header(self, missing: str) -> None:
        """Each Standard Webhooks header is required."""
        headers, body = pushed(a_notice())
        del headers[missing]
        with pytest.raises(WebhookRejected, match="missing"):
            WebhookReceiver(BROKER).accept(headers, body, NOW)

    def test_signature_header_names_its_scheme(self) -> None:
        """The signature is Standard Webhooks' asymmetric v1a, and names the broker's key."""
        headers, _ = pushed(a_notice())
        assert headers["webhook-signature"].startswith("v1a,")
        assert headers["sgb-signing-key-id"] == BROKER.signing_key_id
