"""Signed webhook requests over httpx (signatures: ``producers.webhook_signatures``).

The body is the sealed notice as the broker published it: the transport signature proves the
request came from the broker, and the notice's own signature and encryption still hold end to
end. Redirects are never followed, a response's body is never read, and no proxy or other
setting is taken from the environment. The endpoint's name is resolved here, every address it
resolves to is judged (``broker.delivery.webhook_targets``), and the request goes to the address
judged, with the name kept for the Host header and TLS (SNI and the certificate's check): a
name that resolves elsewhere a moment later (DNS rebinding) changes nothing.
"""

import asyncio
import socket
from collections.abc import Mapping, Sequence
from ipaddress import ip_address

import httpx

from broker.delivery.webhook_delivery import Attempt
from broker.delivery.webhook_targets import Network, refused


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
        return await pinned(url, self._allowed)

    async def close(self) -> None:
        await self._client.aclose()


async def pinned(
    url: httpx.URL, allowed: Sequence[Network]
) -> tuple[httpx.URL, str, dict[str, str]]:
    """The URL with its host replaced by the one address it will reach, once every address
    the name resolves to is allowed; the Host header; TLS's server name. (Peer brokers'
    token and receipt requests are pinned the same way: ``broker.adapters.peer_tokens``.)"""
    port = url.port or (443 if url.scheme == "https" else 80)
    found = await asyncio.get_running_loop().getaddrinfo(url.host, port, type=socket.SOCK_STREAM)
    addresses = [ip_address(str(info[4][0]).split("%")[0]) for info in found]
    if not addresses or any(refused(a, allowed) for a in addresses):
        raise AddressRefused
    host = url.netloc.decode("ascii").rpartition("@")[2]
    extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
    return url.copy_with(host=str(addresses[0])), host, extensions
