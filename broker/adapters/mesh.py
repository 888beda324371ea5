"""NHS MESH through ``mesh-client``: the ``MeshTransport`` port.

mesh-client is synchronous (requests): each call runs in a worker thread
(``asyncio.to_thread``) on a client of its own, since a requests session is not meant to be
shared between threads. The client's own retries are off: the dispatcher retries with its
backoff and circuit breaker, and a retry looks up the notice's local id first, so a send
whose answer was lost is never sent twice. Errors are reported by class, never by message
(MESH's descriptions may quote what was sent).
"""

import asyncio
from urllib.parse import quote

import requests
from mesh_client import MeshClient, MeshError

from broker.mesh_settings import MeshSettings
from broker.ports import MeshMessage, MeshSent, MeshTracking

TRANSIENT_STATUSES = frozenset({408, 425, 429})


class MeshClientTransport:
    def __init__(self, settings: MeshSettings) -> None:
        self._settings = settings

    async def send(self, message: MeshMessage, retry: bool) -> MeshSent:
        return await asyncio.to_thread(self._send, message, retry)

    async def track(self, message_id: str) -> MeshTracking:
        return await asyncio.to_thread(self._track, message_id)

    def _send(self, message: MeshMessage, retry: bool) -> MeshSent:
        try:
            with self._client() as client:
                if retry and (earlier := _sent_before(client, message.local_id)):
                    return MeshSent(earlier)
                message_id = client.send_message(
                    message.mailbox,
                    message.body,
                    workflow_id=message.workflow_id,
                    local_id=message.local_id,
                    subject=message.subject,
                    content_type="application/json",
                )
        except MeshError:
            return MeshSent(None, "mesh_refused", transient=False)
        except requests.HTTPError as exc:
            return _http_failure(exc)
        except requests.RequestException as exc:
            return MeshSent(None, type(exc).__name__)
        return MeshSent(message_id)

    def _track(self, message_id: str) -> MeshTracking:
        try:
            with self._client() as client:
                answer = client.track_message(message_id)
        except requests.RequestException:
            return MeshTracking("unreachable")
        status = (answer.get("status") or "").lower()
        return MeshTracking(status, answer.get("status_code"), expired=_expired(answer))

    def _client(self) -> MeshClient:
        s = self._settings
        cert = (str(s.client_cert), str(s.client_key)) if s.client_cert and s.client_key else None
        return MeshClient(
            s.url,
            s.mailbox,
            s.password.get_secret_value(),
            shared_key=s.shared_key.get_secret_value().encode() or None,
            cert=cert,
            verify=str(s.ca_bundle) if s.ca_bundle else None,
            max_retries=0,
            timeout=s.timeout_seconds,
            application_name="safeguarding-broker",
        )


def _sent_before(client: MeshClient, local_id: str) -> str | None:
    """MESH's id of a message this mailbox sent under ``local_id``, if any. mesh-client has
    no call for MESH's tracking by local id, so its session (with the mailbox's
    authentication) asks for it."""
    url = f"{client.mailbox_url}/outbox/tracking/{quote(local_id)}"
    answer = client._session.get(url, timeout=client._timeout)
    if answer.status_code == 404:
        return None
    answer.raise_for_status()
    found = answer.json()  # MESH answers this (deprecated) call in its v1 shape only
    earlier = found.get("messageId") or found.get("message_id")
    return str(earlier) if earlier else None


def _http_failure(exc: requests.HTTPError) -> MeshSent:
    status = exc.response.status_code if exc.response is not None else None
    if status is None or status >= 500 or status in TRANSIENT_STATUSES:
        return MeshSent(None, f"http_{status}")
    return MeshSent(None, f"http_{status}", transient=False)


def _expired(answer: object) -> bool:
    """MESH tracks an expired message with the status code 14 ("not downloaded before
    expiry") or an ``expired`` status event."""
    if not isinstance(answer, dict):
        return False
    return answer.get("status_code") == "14" or (answer.get("status_event") or "") == "EXPIRED"
