"""Helpers the integration and end-to-end tests share: reading a recipient's inbox."""

import asyncio
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from broker.keys import BrokerPublicKeys
from producers.receiver import NoticeReceiver
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
