"""End to end: an Encounter posted at the gateway's FHIR route travels through the real Kafka
broker, the router and the delivery worker, and lands as ED-attendance notices in the right
inboxes, readable only there."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from support import fetch_sealed, wait_for_notices

from broker.bootstrap import Runtime
from broker.errors import DecryptionFailed
from broker.rules.fhir_mapping import events_from_fhir
from producers.receiver import NoticeReceiver

from .conftest import TRUST
from .resources import ENCOUNTER, body, post_fhir, resource

pytestmark = [pytest.mark.fhir, pytest.mark.e2e]

HEALTH_VISITING = "hv-demo:safeguarding_lead"
FRONT_DOOR = "la-front-door:duty_manager"
SCHOOL = "school-oakfield:key_adult"


def bruised_baby_now() -> bytes:
    """The example: a five-month-old twin brought with bruising, arriving half an hour ago."""
    data = resource(ENCOUNTER)
    data["period"] = {"start": (datetime.now(UTC) - timedelta(minutes=30)).isoformat()}
    return body(data)


class TestEncounterEndToEnd:
    async def test_bruised_baby_reaches_health_visiting_and_the_front_door(
        self,
        fhir_gateway: httpx.AsyncClient,
        producer_keys: dict[str, Ed25519PrivateKey],
        inbox: httpx.AsyncClient,
        running_broker: Runtime,
        recipient_keys: dict[str, X25519PrivateKey],
    ) -> None:
        """Bruising to a baby not yet mobile is always high: the health visiting team and the
        front door each get an ED-attendance notice about the baby, the front door's high."""
        raw = bruised_baby_now()
        [event] = events_from_fhir(raw, "Encounter", TRUST)
        posted = await post_fhir(fhir_gateway, "Encounter", raw, producer_keys[TRUST])
        assert posted.status_code == 202

        broker_key = running_broker.keys.public
        for recipient in (HEALTH_VISITING, FRONT_DOOR):
            receiver = NoticeReceiver(recipient_keys[recipient], broker_key)
            listed = await wait_for_notices(inbox, recipient, 1)  # this event's only
            sealed = await fetch_sealed(inbox, recipient, listed[0]["notice_id"])
            header, notice = receiver.open(sealed)
            assert header.event_id == event.event_id
            assert notice.event_type == "ed_attendance"
            assert [p.given_name for p in notice.about] == ["Noah"]
            if recipient == FRONT_DOOR:
                assert header.severity.value == "high"
            with pytest.raises(DecryptionFailed):
                NoticeReceiver(recipient_keys[SCHOOL], broker_key).open(sealed)
