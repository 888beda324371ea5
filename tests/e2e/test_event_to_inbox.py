"""End to end: an event posted to the HTTP gateway travels through the real Kafka broker, the
router and the delivery worker, and lands sealed in the right inboxes, readable only there."""

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from support import fetch_sealed, post_signed, suicidal_crisis, wait_for_notices

from broker.bootstrap import Runtime
from broker.errors import DecryptionFailed
from producers.receiver import NoticeReceiver
from schemas.events import ParentMentalHealthCrisis

pytestmark = pytest.mark.e2e

SCHOOL = "school-oakfield:key_adult"
MOTHERS_GP = "gp-riverside:safeguarding_lead"
FATHERS_GP = "gp-hillview:safeguarding_lead"
CHILDRENS_GP = "gp-northgate:safeguarding_lead"
HEALTH_VISITING = "hv-demo:safeguarding_lead"
FRONT_DOOR = "la-front-door:duty_manager"


def crisis() -> ParentMentalHealthCrisis:
    return suicidal_crisis("Expressed plans to end her life; started on sertraline.")


class TestParentCrisisEndToEnd:
    async def test_crisis_reaches_the_school_readable_only_with_its_key(
        self,
        gateway: httpx.AsyncClient,
        producer_keys: dict[str, Ed25519PrivateKey],
        inbox: httpx.AsyncClient,
        running_broker: Runtime,
        recipient_keys: dict[str, X25519PrivateKey],
    ) -> None:
        """The school's key adult gets a notice it alone can open, with no clinical detail."""
        event = crisis()
        posted = await post_signed(gateway, event, producer_keys)
        assert posted.status_code == 202
        assert posted.json() == {"event_id": str(event.event_id), "status": "accepted"}

        [listed] = await wait_for_notices(inbox, SCHOOL, 1)
        sealed = await fetch_sealed(inbox, SCHOOL, listed["notice_id"])
        header, body = NoticeReceiver(recipient_keys[SCHOOL], running_broker.keys.public).open(
            sealed
        )
        assert header.event_id == event.event_id
        assert header.recipient_id == SCHOOL
        assert header.severity.value == "high"
        assert header.deadline > header.created_at
        assert [p.given_name for p in body.about] == ["Leo"]
        assert body.detail == {}
        assert "sertraline" not in body.model_dump_json()

        for other in (MOTHERS_GP, FRONT_DOOR, HEALTH_VISITING):
            with pytest.raises(DecryptionFailed):
                NoticeReceiver(recipient_keys[other], running_broker.keys.public).open(sealed)

    async def test_crisis_reaches_every_gp_and_the_front_door(
        self,
        gateway: httpx.AsyncClient,
        producer_keys: dict[str, Ed25519PrivateKey],
        inbox: httpx.AsyncClient,
        running_broker: Runtime,
        recipient_keys: dict[str, X25519PrivateKey],
    ) -> None:
        """Both parents' GPs, the children's GP, health visiting and the front door are told."""
        event = crisis()
        await post_signed(gateway, event, producer_keys)
        for recipient in (MOTHERS_GP, FATHERS_GP, CHILDRENS_GP, HEALTH_VISITING, FRONT_DOOR):
            listed = await wait_for_notices(inbox, recipient, 1)
            sealed = await fetch_sealed(inbox, recipient, listed[0]["notice_id"])
            receiver = NoticeReceiver(recipient_keys[recipient], running_broker.keys.public)
            header, body = receiver.open(sealed)
            assert header.event_id == event.event_id
            assert body.event_type == "parent_mental_health_crisis"
        mothers_gp = NoticeReceiver(recipient_keys[MOTHERS_GP], running_broker.keys.public)
        listed = await wait_for_notices(inbox, MOTHERS_GP, 1)
        _, body = mothers_gp.open(await fetch_sealed(inbox, MOTHERS_GP, listed[0]["notice_id"]))
        assert body.detail["clinical_summary"] == event.clinical_summary

    async def test_recipient_acknowledges_and_cannot_see_others_notices(
        self,
        gateway: httpx.AsyncClient,
        producer_keys: dict[str, Ed25519PrivateKey],
        inbox: httpx.AsyncClient,
        running_broker: Runtime,
    ) -> None:
        """Acknowledgement is recorded once; another recipient gets 404 for the same notice."""
        await post_signed(gateway, crisis(), producer_keys)
        [listed] = await wait_for_notices(inbox, SCHOOL, 1)
        url = f"/v1/recipients/{SCHOOL}/notices/{listed['notice_id']}"

        first = await inbox.post(f"{url}/acknowledgement")
        again = await inbox.post(f"{url}/acknowledgement")
        assert first.status_code == again.status_code == 200
        assert first.json()["first_acknowledgement"] is True
        assert again.json()["first_acknowledgement"] is False
        [after] = (await inbox.get(f"/v1/recipients/{SCHOOL}/notices")).json()
        assert after["acknowledged_at"] is not None

        stranger = f"/v1/recipients/{MOTHERS_GP}/notices/{listed['notice_id']}"
        assert (await inbox.get(stranger)).status_code == 404
        assert (await inbox.post(f"{stranger}/acknowledgement")).status_code == 404
