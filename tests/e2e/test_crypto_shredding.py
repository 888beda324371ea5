"""Retention by crypto-shredding: deleting a household's data key makes its stored notices
unreadable for good, through the real system, while other households' notices stay."""

import base64
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from support import open_listed, post_signed, wait_for_notices

from broker.adapters import audit, db
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.bootstrap import Runtime
from broker.demo import family
from broker.errors import DecryptionFailed
from broker.pseudonyms import unmatched_key_name
from broker.services.retention import shred_household
from producers import crypto
from producers.receiver import NoticeReceiver
from schemas.notices import SealedNotice

pytestmark = pytest.mark.e2e
MOTHERS_GP = "gp-riverside:safeguarding_lead"
FRONT_DOOR = "la-front-door:duty_manager"


def crisis(subject: str) -> dict[str, Any]:
    return {"event_type": "parent_mental_health_crisis", "event_id": str(uuid.uuid4()),
            "source_org": "mh-demo", "occurred_at": datetime.now(UTC).isoformat(),
            "subject": {"nhs_number": subject}}  # fmt: skip


class TestCryptoShredding:
    async def test_shredded_household_notices_are_gone_others_remain(
        self,
        gateway: httpx.AsyncClient,
        inbox: httpx.AsyncClient,
        running_broker: Runtime,
        producer_keys: dict[str, Ed25519PrivateKey],
        recipient_keys: dict[str, Any],
    ) -> None:
        """After the Carters' key is deleted their GP's notice answers 410 and its stored
        bytes open for nobody; a notice about someone unknown is still readable."""
        await post_signed(gateway, crisis(family.MOTHER), producer_keys)
        unknown = crisis("9990000360")  # about someone unknown: unmatched
        await post_signed(gateway, unknown, producer_keys)
        [gp_notice] = await wait_for_notices(inbox, MOTHERS_GP, 1)
        await wait_for_notices(inbox, FRONT_DOOR, 2)
        broker = running_broker.keys.public
        assert (await open_listed(inbox, MOTHERS_GP, gp_notice, recipient_keys, broker))[1]

        async with SqlUnitOfWork(running_broker.sessions) as uow:
            assert await shred_household(uow, running_broker.data_keys,
                                         running_broker.keys.pseudonym_secret, "h-carter",
                                         "retention-test")  # fmt: skip

        url = f"/v1/recipients/{MOTHERS_GP}/notices/{gp_notice['notice_id']}"
        assert (await inbox.get(url)).status_code == 410
        async with running_broker.sessions() as session:
            stored = await session.get(db.InboxNotice, gp_notice["notice_id"])
            shredding = (await session.scalars(select(audit.AuditEntry).where(
                audit.AuditEntry.action == "household_shredded"))).all()  # fmt: skip
        assert stored is not None
        as_stored = SealedNotice(header=stored.header, ciphertext=stored.ciphertext,
                                 signature=stored.signature)  # fmt: skip
        with pytest.raises(DecryptionFailed):
            NoticeReceiver(recipient_keys[MOTHERS_GP], broker).open(
                as_stored.model_copy(update={"signature": _resigned(as_stored, running_broker)})
            )
        assert len(shredding) == 1

        listed = (await inbox.get(f"/v1/recipients/{FRONT_DOOR}/notices")).json()
        of_unknown = [n for n in listed if n["header"]["event_id"] == unknown["event_id"]]
        opened = [await open_listed(inbox, FRONT_DOOR, n, recipient_keys, broker)
                  for n in of_unknown]  # fmt: skip
        # The front door reads the rule in the body; no header names it.
        header = next(h for h, body in opened if "unmatched_person" in (body.rule_id or ""))
        # Kept under a key of that person's own, not one shared by everyone unmatched.
        secret = running_broker.keys.pseudonym_secret
        assert header.household == unmatched_key_name(secret, "nhs:9990000360")


def _resigned(notice: SealedNotice, rt: Runtime) -> str:
    """Even with the broker's own signature over the stored bytes, they do not decrypt."""
    ciphertext = base64.b64decode(notice.ciphertext)
    return crypto.b64encode(crypto.sign(rt.keys.signing, notice.header.encode(), ciphertext))
