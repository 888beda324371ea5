"""The HTTP gateway against the real Kafka broker: acceptance, idempotency, validation."""

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from support import OrgTokens, batch_item, post_signed, rejected_at_the_gateway, sealed_events

from broker.adapters import audit, db
from broker.config import Settings
from broker.demo import family
from producers.sdk import signature_header

pytestmark = pytest.mark.integration

Keys = dict[str, Ed25519PrivateKey]


def withdrawal(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_type": "service_withdrawal",
        "event_id": str(uuid.uuid4()),
        "source_org": "mh-demo",
        "occurred_at": datetime.now(UTC).isoformat(),
        "subject": {"nhs_number": family.MOTHER, "given_name": "Jess"},
        "service": "Talking therapies",
        "reason": "non_engagement",
        "withdrawn_on": "2026-11-20",
    }
    return event | changes


class TestAccepting:
    async def test_accepted_event_is_on_kafka_sealed(
        self, gateway: httpx.AsyncClient, settings: Settings, producer_keys: Keys
    ) -> None:
        """A 202 means the event is on the events topic, with no personal data in clear."""
        event = withdrawal()
        answer = await post_signed(gateway, event, producer_keys)
        assert answer.status_code == 202
        assert answer.json() == {"event_id": event["event_id"], "status": "accepted"}
        [value] = await sealed_events(settings, 1)
        assert event["event_id"].encode() in value
        assert family.MOTHER.encode() not in value
        assert b"Jess" not in value
        assert b"Talking therapies" not in value

    async def test_repeated_event_is_a_duplicate(
        self, gateway: httpx.AsyncClient, producer_keys: Keys
    ) -> None:
        """Posting the same event twice publishes it once and says so the second time."""
        event = withdrawal()
        first = await post_signed(gateway, event, producer_keys)
        again = await post_signed(gateway, event, producer_keys)
        assert first.status_code == 202
        assert again.status_code == 200
        assert again.json() == {"event_id": event["event_id"], "status": "duplicate"}

    async def test_reused_event_id_with_other_content_conflicts(
        self, gateway: httpx.AsyncClient, producer_keys: Keys
    ) -> None:
        """An event id cannot be reused for a different event."""
        event = withdrawal()
        await post_signed(gateway, event, producer_keys)
        other = await post_signed(gateway, event | {"reason": "completed"}, producer_keys)
        assert other.status_code == 409

    async def test_batch_reports_each_event(
        self, gateway: httpx.AsyncClient, producer_keys: Keys
    ) -> None:
        """A batch answers per event, a repeated id inside it counted once."""
        key = producer_keys["mh-demo"]
        one, two = withdrawal(), withdrawal()
        items = [batch_item(one, key), batch_item(two, key), batch_item(one, key)]
        answer = await gateway.post("/v1/events/batch", json=items)
        assert answer.status_code == 202
        assert [r["status"] for r in answer.json()["results"]] == [
            "accepted", "accepted", "duplicate",
        ]  # fmt: skip


class TestSignatures:
    async def test_unsigned_event_is_refused(
        self, gateway: httpx.AsyncClient, settings: Settings
    ) -> None:
        """An event without its producer's signature is not accepted, and the audit log
        records the rejection."""
        answer = await gateway.post("/v1/events", json=withdrawal())
        assert answer.status_code == 401
        assert "Sgb-Signature" in answer.json()["detail"]
        engine = db.make_engine(settings.database_url)
        async with db.sessions(engine)() as session:
            rows = (await session.scalars(
                select(audit.AuditEntry).where(audit.AuditEntry.action == "event_rejected")
            )).all()  # fmt: skip
        await engine.dispose()
        assert [(r.action, r.actor) for r in rows] == [("event_rejected", "gateway")]

    async def test_forged_signature_is_refused(self, gateway: httpx.AsyncClient) -> None:
        """A signature by a key the organisation never registered is refused."""
        forger = {"mh-demo": Ed25519PrivateKey.generate()}
        answer = await post_signed(gateway, withdrawal(), forger)
        assert answer.status_code == 401

    async def test_another_organisations_key_is_refused(
        self, gateway: httpx.AsyncClient, producer_keys: Keys
    ) -> None:
        """An acute trust's key cannot sign for the mental health service."""
        impostor = {"mh-demo": producer_keys["acute-demo"]}
        answer = await post_signed(gateway, withdrawal(), impostor)
        assert answer.status_code == 401

    async def test_tampered_body_is_refused(
        self, gateway: httpx.AsyncClient, producer_keys: Keys
    ) -> None:
        """A body changed after signing no longer matches its signature."""
        body = json.dumps(withdrawal()).encode()
        signature = signature_header(body, producer_keys["mh-demo"])
        tampered = body.replace(b"non_engagement", b"completed")
        answer = await gateway.post("/v1/events", content=tampered,
                                    headers={"content-type": "application/json",
                                             "sgb-signature": signature})  # fmt: skip
        assert answer.status_code == 401

    async def test_wrong_kind_of_organisation_is_forbidden(
        self, gateway: httpx.AsyncClient, producer_keys: Keys, settings: Settings
    ) -> None:
        """A mental health service may not report an ED attendance, however well signed."""
        arrived = datetime.now(UTC).isoformat()
        attendance = withdrawal(
            event_type="ed_attendance", arrived_at=arrived, presenting_category="injury"
        )
        for field in ("service", "reason", "withdrawn_on"):
            attendance.pop(field)
        answer = await post_signed(gateway, attendance, producer_keys)
        assert answer.status_code == 403
        assert await rejected_at_the_gateway(settings) == ["EventNotPermitted"]

    async def test_batch_with_one_forged_event_is_refused(
        self, gateway: httpx.AsyncClient, producer_keys: Keys
    ) -> None:
        """One bad signature refuses the whole batch, so nothing is half accepted."""
        good = batch_item(withdrawal(), producer_keys["mh-demo"])
        bad = batch_item(withdrawal(), Ed25519PrivateKey.generate())
        answer = await gateway.post("/v1/events/batch", json=[good, bad])
        assert answer.status_code == 401


class TestRejecting:
    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"subject": {"nhs_number": "9990000019"}}, "subject.nhs_number"),
            ({"reason": "bored"}, "reason"),
            ({"occurred_at": "2026-11-20T10:00:00"}, "occurred_at"),
            ({"event_id": "not-a-uuid"}, "event_id"),
            ({"colour": "blue"}, "colour"),
            ({"reason": "stepped_down"}, "service_withdrawal"),
        ],
    )
    async def test_invalid_event_names_the_field(
        self, gateway: httpx.AsyncClient, changes: dict[str, Any], field: str
    ) -> None:
        """A 422 names the field at fault and never echoes what was sent."""
        answer = await gateway.post("/v1/events", json=withdrawal(**changes))
        assert answer.status_code == 422
        fields = [e["field"] for e in answer.json()["errors"]]
        assert any(field in f for f in fields), fields
        assert "9990000019" not in answer.text
        assert "Jess" not in answer.text

    async def test_invalid_event_in_a_batch_names_its_position(
        self, gateway: httpx.AsyncClient, producer_keys: Keys
    ) -> None:
        """In a batch, the 422 names the entry and the field, never the value."""
        bad = withdrawal(subject={"nhs_number": "9990000019"})
        items = [batch_item(withdrawal(), producer_keys["mh-demo"]),
                 batch_item(bad, producer_keys["mh-demo"])]  # fmt: skip
        answer = await gateway.post("/v1/events/batch", json=items)
        assert answer.status_code == 422
        assert answer.json()["errors"][0]["field"].startswith("body.1.event.")
        assert "9990000019" not in answer.text

    async def test_a_unix_time_is_not_a_datetime(
        self, gateway: httpx.AsyncClient, producer_keys: Keys
    ) -> None:
        """An event's times are RFC 3339 text, as its JSON Schema says: alone or in a batch,
        a number there is a 422 naming the field (issue 18)."""
        late = withdrawal(occurred_at=1_764_000_000)
        alone = await gateway.post("/v1/events", json=late)
        signed = batch_item(late, producer_keys["mh-demo"])
        in_batch = await gateway.post("/v1/events/batch", json=[signed])
        for answer in (alone, in_batch):
            assert answer.status_code == 422
            assert any(e["field"].endswith("occurred_at") for e in answer.json()["errors"])

    async def test_unknown_event_type_is_rejected(self, gateway: httpx.AsyncClient) -> None:
        """Only the event types in the schema are accepted."""
        answer = await gateway.post("/v1/events", json=withdrawal(event_type="gossip"))
        assert answer.status_code == 422

    async def test_empty_batch_is_rejected(
        self, gateway: httpx.AsyncClient, producer_keys: Keys
    ) -> None:
        """A batch must hold at least one event."""
        as_mh = OrgTokens(producer_keys, lambda _request: "mh-demo")
        answer = await gateway.post("/v1/events/batch", json=[], auth=as_mh)
        assert answer.status_code == 422
