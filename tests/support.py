"""Helpers the integration and end-to-end tests share: reading a recipient's inbox."""

import asyncio
import json
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from broker.adapters import crypto
from broker.keys import BrokerPublicKeys
from producers.receiver import NoticeReceiver
from producers.sdk import signature_header
from schemas.events import Event, EventAdapter
from schemas.notices import NoticeBody, NoticeHeader, SealedNotice


async def wait_for_notices(
    inbox: httpx.AsyncClient, recipient: str, count: int, timeout: float = 60
) -> list[dict[str, Any]]:
    """The recipient's inbox listing, once it holds at least ``count`` notices."""
    async with asyncio.timeout(timeout):
        while True:
            listed: list[dict[str, Any]] = (
                await inbox.get(f"/v1/recipients/{recipient}/notices")
            ).json()
            if len(listed) >= count:
                return listed
            await asyncio.sleep(0.2)


async def fetch_sealed(inbox: httpx.AsyncClient, recipient: str, notice_id: object) -> SealedNotice:
    answer = await inbox.get(f"/v1/recipients/{recipient}/notices/{notice_id}")
    assert answer.status_code == 200
    return SealedNotice.model_validate(answer.json()["sealed"])


async def open_listed(
    inbox: httpx.AsyncClient,
    recipient: str,
    item: dict[str, Any],
    keys: dict[str, X25519PrivateKey],
    broker: BrokerPublicKeys,
) -> tuple[NoticeHeader, NoticeBody]:
    """Fetches a listed notice and opens it with the recipient's own key."""
    sealed = await fetch_sealed(inbox, recipient, item["notice_id"])
    return NoticeReceiver(keys[recipient], broker).open(sealed)


async def post_signed(
    gateway: httpx.AsyncClient, event: dict[str, Any] | Event, keys: dict[str, Ed25519PrivateKey]
) -> httpx.Response:
    """Posts one event to the gateway, signed with its source organisation's key."""
    body = json.dumps(event).encode() if isinstance(event, dict) else EventAdapter.dump_json(event)
    source = json.loads(body)["source_org"]
    headers = {
        "content-type": "application/json",
        "sgb-signature": signature_header(body, keys[source]),
    }
    return await gateway.post("/v1/events", content=body, headers=headers)


def batch_item(event: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, str]:
    """One signed entry of a batch: the event's exact text and its signature."""
    text = json.dumps(event)
    signature = crypto.b64encode(crypto.sign_event_bytes(key, text.encode()))
    return {"event": text, "key_id": crypto.key_id(key.public_key()), "signature": signature}
