"""What crossed the wire while a page was open, to prove a secret never did.

Everything the page sent and received over HTTP is kept: URLs, headers, request bodies and
response bodies, WebSocket frames and server-sent events (those two through the DevTools
protocol, since a stream's body is never complete). ``assert_never_on_the_wire`` looks for a
secret as it is and in the encodings a page or server would use to carry it (URL encoding,
JSON's escapes, base64).
"""

import base64
import json
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from playwright.sync_api import Page, Request, Response


@dataclass
class WireLog:
    requests: list[Request] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)
    frames: list[bytes] = field(default_factory=list)  # WebSocket and server-sent events

    def traffic(self) -> list[tuple[str, bytes]]:
        """Each exchange as (what it was, its bytes), read once the page has settled."""
        seen: list[tuple[str, bytes]] = []
        for request in self.requests:
            head = f"{request.method} {request.url}\n{request.all_headers()}\n".encode()
            seen.append((f"request {request.url}", head + (request.post_data_buffer or b"")))
        for response in self.responses:
            if "text/event-stream" in (response.headers.get("content-type") or ""):
                body = b""  # its events are in frames; the stream itself never ends
            else:
                body = _body(response)
            head = f"{response.status} {response.url}\n{response.all_headers()}\n".encode()
            seen.append((f"response {response.url}", head + body))
        seen.extend(("frame", frame) for frame in self.frames)
        return seen


def record_wire(page: Page) -> WireLog:
    """Starts recording the page's traffic; call before it navigates."""
    log = WireLog()
    # Playwright wants plain functions as handlers (a list's bound append is refused).
    page.on("request", lambda request: log.requests.append(request))
    page.on("response", lambda response: log.responses.append(response))

    def on_websocket(socket: Any) -> None:
        socket.on("framesent", lambda payload: log.frames.append(_bytes(payload)))
        socket.on("framereceived", lambda payload: log.frames.append(_bytes(payload)))

    page.on("websocket", on_websocket)
    session = page.context.new_cdp_session(page)
    session.send("Network.enable")
    session.on(
        "Network.eventSourceMessageReceived",
        lambda event: log.frames.append(json.dumps(event).encode()),
    )
    return log


def encodings(secret: str) -> set[bytes]:
    """The forms a secret takes on the wire if anything carries it."""
    raw = secret.encode()
    return {
        raw,
        urllib.parse.quote(secret).encode(),
        urllib.parse.quote_plus(secret).encode(),
        json.dumps(secret).strip('"').encode(),  # \u escapes for what is outside ASCII
        base64.b64encode(raw),
        base64.urlsafe_b64encode(raw).rstrip(b"="),
    }


def assert_never_on_the_wire(log: WireLog, secrets: list[str]) -> None:
    """Fails naming the exchange (never the secret) where any of ``secrets`` appears."""
    forms = [(index, form) for index, secret in enumerate(secrets) for form in encodings(secret)]
    traffic = log.traffic()
    assert traffic, "no traffic was recorded: was record_wire called before the page loaded?"
    for what, data in traffic:
        for index, form in forms:
            if form and form in data:
                raise AssertionError(f"secret #{index} crossed the wire in the {what}")


def _body(response: Response) -> bytes:
    try:
        return response.body()
    except Exception:  # a redirect or an aborted request has no body to read
        return b""


def _bytes(payload: str | bytes) -> bytes:
    return payload.encode() if isinstance(payload, str) else payload
