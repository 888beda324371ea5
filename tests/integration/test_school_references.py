"""A school's notice through the real gateway, router, Kafka, inbox and database: the school
opens what to do and the reference to quote; the front door finds the notice by that
reference, and nobody else does."""

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import select
from support import open_listed, post_signed, wait_for_notices

from broker.adapters import audit, tokens
from broker.bootstrap import Runtime
from broker.demo import family
from schemas.notices import NoticeBody, SchoolMatter

pytestmark = pytest.mark.integration

SCHOOL = "school-oakfield:key_adult"
REFERENCES = "/v1/front-doors/la-front-door/references"


def crisis_with_child_b_present() -> dict[str, Any]:
    return {
        "event_type": "parent_mental_health_crisis",
        "event_id": str(uuid.uuid4()),
        "source_org": "mh-demo",
        "occurred_at": datetime.now(UTC).isoformat(),
        "subject": {"nhs_number": family.MOTHER},
        "children_present": [{"nhs_number": family.CHILD_B}],
    }


def token_for(rt: Runtime, sub: str, scope: str) -> dict[str, str]:
    now = int(time.time())
    claims = {"iss": tokens.ISSUER, "sub": sub, "aud": tokens.API_AUDIENCE, "iat": now,
              "exp": now + 60, "scope": scope}  # fmt: skip
    return {"authorization": f"Bearer {jwt.encode(claims, rt.keys.token, algorithm='EdDSA')}"}


async def school_notice(
    gateway: httpx.AsyncClient,
    inbox: httpx.AsyncClient,
    rt: Runtime,
    producer_keys: dict[str, Ed25519PrivateKey],
    recipient_keys: dict[str, X25519PrivateKey],
) -> tuple[str, NoticeBody]:
    """Posts the crisis and answers the school's notice id and its opened body."""
    answer = await post_signed(gateway, crisis_with_child_b_present(), producer_keys)
    assert answer.status_code == 202, answer.text
    [listed] = await wait_for_notices(inbox, SCHOOL, 1)
    header, body = await open_listed(inbox, SCHOOL, listed, recipient_keys, rt.keys.public)
    return str(header.notice_id), body


class TestSchoolReferences:
    async def test_school_reads_what_to_do_and_front_door_finds_the_reference(
        self,
        gateway: httpx.AsyncClient,
        inbox: httpx.AsyncClient,
        running_broker: Runtime,
        producer_keys: dict[str, Ed25519PrivateKey],
        recipient_keys: dict[str, X25519PrivateKey],
    ) -> None:
        """The school's opened notice says what happened, that its pupil was there, what to
        do, by when and whom to call (the front door, which was told); the front door finds
        the notice and its household by the reference the school quotes."""
        notice_id, body = await school_notice(
            gateway, inbox, running_broker, producer_keys, recipient_keys
        )
        school = body.school
        assert school is not None
        assert school.matter is SchoolMatter.INCIDENT_AT_HOME
        assert school.who_to_call_role == "school.call.front_door"
        assert "school.action.offer_quiet_support" in school.actions
        assert [p.present for p in body.about] == [True]
        found = (await inbox.get(f"{REFERENCES}/{school.reference}")).json()
        assert [(f["notice_id"], f["household_id"]) for f in found] == [(notice_id, "h-carter")]
        lines = (await inbox.get("/v1/households/h-carter/chronology")).json()
        assert notice_id in {line["notice_id"] for line in lines}

    async def test_another_front_door_finds_nothing(
        self,
        gateway: httpx.AsyncClient,
        inbox: httpx.AsyncClient,
        running_broker: Runtime,
        producer_keys: dict[str, Ed25519PrivateKey],
        recipient_keys: dict[str, X25519PrivateKey],
    ) -> None:
        """A front door of no area the family lives in learns nothing from a reference, and
        its look-up is audited with what it found (nothing)."""
        _, body = await school_notice(gateway, inbox, running_broker, producer_keys, recipient_keys)
        assert body.school is not None
        other = token_for(running_broker, "other-front-door", "front-door notices:read")
        url = f"/v1/front-doors/other-front-door/references/{body.school.reference}"
        answer = await inbox.get(url, headers=other)
        assert answer.status_code == 200
        assert answer.json() == []
        async with running_broker.sessions() as session:
            entries = (await session.scalars(select(audit.AuditEntry).where(
                audit.AuditEntry.action == "notice_reference_looked_up"))).all()  # fmt: skip
        assert [(e.actor, json.loads(e.details)) for e in entries] == [
            ("other-front-door", {"found": 0})
        ]

    async def test_a_school_cannot_look_references_up(
        self, inbox: httpx.AsyncClient, running_broker: Runtime
    ) -> None:
        """Only a front door looks references up."""
        school = token_for(running_broker, "school-oakfield", "notices:read")
        url = "/v1/front-doors/school-oakfield/references/3F2A91C0-7B1E"
        assert (await inbox.get(url, headers=school)).status_code == 403

    @pytest.mark.parametrize("reference", ["3F2A91C0", "3F2A91C0-7B1E-5D6A", "3F2A91C0-7B1%"])
    async def test_a_reference_is_eight_and_four_hex_digits(
        self, inbox: httpx.AsyncClient, running_broker: Runtime, reference: str
    ) -> None:
        """Anything else is refused, so a look-up never matches by a pattern of its own."""
        answer = await inbox.get(f"{REFERENCES}/{reference}")
        assert answer.status_code == 422
