"""Identifiers in a request's path that the database could never hold (too long for their
column, or a character PostgreSQL's text refuses) are the caller's error, never a 500."""

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from support import OrgTokens

pytestmark = pytest.mark.integration

TOO_LONG = "h" * 300
NUL = "h-carter%00"  # PostgreSQL's text holds no NUL character


class TestUnstorablePathIds:
    @pytest.mark.parametrize("household_id", [TOO_LONG, NUL])
    async def test_a_household_id_that_cannot_be_stored_is_refused(
        self, inbox: httpx.AsyncClient, household_id: str
    ) -> None:
        answer = await inbox.get(f"/v1/households/{household_id}/chronology")
        assert answer.status_code in (403, 404, 422), answer.text
        assert "h" * 50 not in answer.text  # nothing of the input echoed

    @pytest.mark.parametrize("org_id", ["f" * 300, "la-front-door%00"])
    async def test_a_front_door_id_that_cannot_be_stored_is_refused(
        self, inbox: httpx.AsyncClient, producer_keys: dict[str, Ed25519PrivateKey], org_id: str
    ) -> None:
        inbox.auth = OrgTokens(producer_keys, lambda _request: "la-front-door")
        for path in ("matching-queue", "data-quality", "proposals"):
            answer = await inbox.get(f"/v1/front-doors/{org_id}/{path}")
            assert answer.status_code in (403, 404, 422), (path, answer.text)

    @pytest.mark.parametrize("recipient_id", ["r" * 300 + ":key_adult", "school-oakfield%00:x"])
    async def test_a_recipient_id_that_cannot_be_stored_is_refused(
        self,
        inbox: httpx.AsyncClient,
        producer_keys: dict[str, Ed25519PrivateKey],
        recipient_id: str,
    ) -> None:
        inbox.auth = OrgTokens(producer_keys, lambda _request: "school-oakfield")
        answer = await inbox.get(f"/v1/recipients/{recipient_id}/notices")
        assert answer.status_code in (403, 404, 422), answer.text
