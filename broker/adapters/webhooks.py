"""Signed webhook requests over httpx, in the Standard Webhooks shape with Ed25519 (``v1a``).

    webhook-id          the notice id: the receiver's idempotency key, the same on every retry
    webhook-timestamp   Unix seconds when this attempt was signed (receivers refuse stale ones)
    webhook-signature   v1a,<base64 Ed25519 signature over "sgb/webhook-request/v1\n"
                        followed by "{id}.{timestamp}.{body}">
    sgb-signing-key-id  which of the broker's signing keys made it (receivers may know several)

The body is the sealed notice as the broker published it: the transport signature proves the
request came from the broker, and the notice's own signature and encryption still hold end to
end. Redirects are never followed, a response's body is never read, and no proxy or other
setting is taken from the environment. The endpoint's name is resolved here, every address it
resolves to is judged (``broker.delivery.webhook_targets``), and the request goes to the address
judged, with the name kept for the Host header and TLS (SNI and the certificate's check): a
name that resolves elsewhere a moment later (DNS rebinding) changes nothing.
"""

import asyncio
import base64
import binascii
import socket
from collections.abc import Mapping, Sequence
from ipaddress import ip_address

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from broker.delivery.webhook_delivery import Attempt
from broker.delivery.webhook_targets import Network, refused
from broker.errors import SignatureInvalid

SIGNATURE_VERSION = "v1a"
ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
KEY_ID_HEADER = "sgb-signing-key-id"


# The broker signs notices and webhook requests with one key; this label, signed first, keeps
# a webhook signature from ever being taken for a notice's signature, or the other way round.
WEBHOOK_SIGNATURE_CONTEXT = b"sgb/webhook-request/v1\n"


def signed_content(webhook_id: str, timestamp: int, body: bytes) -> bytes:
    return WEBHOOK_SIGNATURE_CONTEXT + f"{webhook_id}.{timestamp}.".encode() + body


def signature_headers(
    key: Ed25519PrivateKey, key_id: str, webhook_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    signature = key.sign(signed_content(webhook_id, timestamp, body))
    return {
        ID_HEADER: webhook_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: f"{SIGNATURE_VERSION},{base64.b64encode(signature).decode()}",
        KEY_ID_HEADER: key_id,
    }


def verify_signature(
    key: Ed25519PublicKey, webhook_id: str, timestamp: int, body: bytes, header: str
) -> None:
    """Passes when any ``v1a`` signature in the space-separated header verifies."""
    for candidate in header.split():
        version, _, encoded = candidate.partition(",")
        if version != SIGNATURE_VERSION:
            continue  # another scheme, for a receiver that understands it
        try:
            key.verify(base64.b64decode(encoded, validate=True),
                       signed_content(webhook_id, timestamp, body))  # fmt: skip
            return
        except (InvalidSignature, binascii.Error):
            continue
    raise SignatureInvalid("no webhook signature verifies with the broker's key")


class AddressRefused(Exception):
    """The endpoint's name resolves to an address the broker may not reach."""


class HttpWebhookSender:
    """POSTs signed notices; an answer is its status, a failure the class of its error."""

    def __init__(self, timeout: float, allowed: Sequence[Network] = ()) -> None:
        self._timeout = timeout
        self._allowed = tuple(allowed)
        # No connection is kept for reuse: one made (and its certificate checked) for one
        # name must not carry a request for another name at the same address.
        fresh = httpx.Limits(max_keepalive_connections=0)
        self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=False,
                                         trust_env=False, limits=fresh)  # fmt: skip

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Attempt:
        try:
            # The whole exchange is bounded, not just each read: a trickling endpoint
            # must not hold a delivery past its lease.
            async with asyncio.timeout(self._timeout):
                target, host, extensions = await self._pinned(httpx.URL(url))
                async with self._client.stream(
                    "POST", target, content=body, extensions=extensions,
                    headers={**headers, "content-type": "application/json", "host": host},
                ) as response:  # fmt: skip
                    return Attempt(response.status_code)
        except AddressRefused:
            return Attempt(None, "address_refused", refused=True)
        except TimeoutError:
            return Attempt(None, "timeout")
        except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
            return Attempt(None, type(exc).__name__)

    async def _pinned(self, url: httpx.URL) -> tuple[httpx.URL, str, dict[str, str]]:
        """The URL with its host replaced by the one address it will reach, once every
        address the name resolves to is allowed; the Host header; TLS's server name."""
        port = url.port or (443 if url.scheme == "https" else 80)
        found = await asyncio.get_running_loop().getaddrinfo(
            url.host, port, type=socket.SOCK_STREAM
        )
        addresses = [ip_address(str(info[4][0]).split("%")[0]) for info in found]
        if not addresses or any(refused(a, self._allowed) for a in addresses):
            raise AddressRefused
        host = url.netloc.decode("ascii").rpartition("@")[2]
        extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
        return url.copy_with(host=str(addresses[0])), host, extensions

    async def close(self) -> None:
        await self._client.aclose()
