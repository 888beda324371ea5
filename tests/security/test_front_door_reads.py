"""Attacks on what a front door may read and match (issue 12, items 3, 4, 14 and 22), each
through the real apps, Kafka and database: the refusal, its audit entry, and nothing changed."""

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select
from support import post_signed, token_request, wait_for_notices

from broker.adapters import audit, crypto, db
from broker.bootstrap import Runtime
from broker.demo import family
from broker.services.retention import shred_household

pytestmark = pytest.mark.e2e

Keys = dict[str, Ed25519PrivateKey]
MOTHERS_GP = "gp-riverside:safeguarding_lead"
ELSEWHERE = "la-elsewhere"  # another authority's front door, in another area
ELSEWHERE_AREA = "E09000001"


def crisis(subject: dict[str, str], **fields: Any) -> dict[str, Any]:
    return {"event_type": "parent_mental_health_crisis", "event_id": str(uuid.uuid4()),
            "source_org": "mh-demo", "occurred_at": datetime.now(UTC).isoformat(),
            "subject": subject, **fields}  # fmt: skip


async def other_front_door(rt: Runtime, inbox: httpx.AsyncClient) -> dict[str, str]:
    """Onboards a front door of another area and answers its bearer header."""
    key = Ed25519PrivateKey.generate()
    public = key.public_key()
    async with rt.sessions.begin() as session:
        session.add(db.Organisation(id=ELSEWHERE, name="Elsewhere Front Door",
                                    kind="front_door", area=ELSEWHERE_AREA))  # fmt: skip
        await session.flush()
        session.add(db.OrgSigningKey(org_id=ELSEWHERE, key_id=crypto.key_id(public),
                                     public_key=crypto.encode_public(public)))  # fmt: skip
        # A directory change, so the processes read the organisations again.
        session.add(db.DirectoryChange(at=datetime.now(UTC), actor="test", entity="organisation",
                                       entity_id=ELSEWHERE, action="created",
                                       fields="id"))  # fmt: skip
    answer = await inbox.send(token_request(inbox.base_url.join("/v1/oauth/token"),
                                            ELSEWHERE, key))  # fmt: skip
    return {"authorization": f"Bearer {answer.json()['access_token']}"}


async def audited(rt: Runtime, action: str) -> list[audit.AuditEntry]:
    async with rt.sessions() as session:
        query = select(audit.AuditEntry).where(audit.AuditEntry.action == action)
        return list((await session.scalars(query.order_by(audit.AuditEntry.seq))).all())


async def count(rt: Runtime, table: type[db.Base]) -> int:
    async with rt.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


class TestChronologyReads:
    async def test_03_front_door_of_another_area_cannot_read_a_chronology(
        self,
        gateway: httpx.AsyncClient,
        inbox: httpx.AsyncClient,
        running_broker: Runtime,
        producer_keys: Keys,
    ) -> None:
        """Attack: a front door of another area asks for the Carters' chronology (risk
        signals included), and the Carters' own front door asks again after their data was
        shredded. The stranger gets 403, the shredded household 410, each refusal audited
        with the caller and the household id only, and the chronology is as it was."""
        rt = running_broker
        await post_signed(gateway, crisis({"nhs_number": family.MOTHER},
                                          suicidal_ideation=True), producer_keys)  # fmt: skip
        await wait_for_notices(inbox, MOTHERS_GP, 1)
        lines_before = await count(rt, db.ChronologyEntry)
        url = "/v1/households/h-carter/chronology"
        stranger = await other_front_door(rt, inbox)

        refused = await inbox.get(url, headers=stranger)
        assert refused.status_code == 403
        assert "suicidal" not in refused.text
        assert (await inbox.get(url)).status_code == 200  # the Carters' own front door
        async with rt.sessions.begin() as session:
            await shred_household(session, rt.data_keys, rt.keys.pseudonym_secret,
                                  "h-carter", "retention-test")  # fmt: skip
        gone = await inbox.get(url)
        assert gone.status_code == 410
        assert "suicidal" not in gone.text

        refusals = [(e.actor, e.subject_ref, json.loads(e.details))
                    for e in await audited(rt, "access_refused")]  # fmt: skip
        assert [(actor, subject, details["status"]) for actor, subject, details in refusals] == [
            (ELSEWHERE, "h-carter", 403), ("la-front-door", "h-carter", 410)]  # fmt: skip
        reads = [(e.actor, e.subject_ref) for e in await audited(rt, "chronology_accessed")]
        assert reads == [("la-front-door", "h-carter")]
        assert await count(rt, db.ChronologyEntry) == lines_before
