"""Loopback stand-ins for the alert channels' far ends: an SMTP server (``aiosmtpd``) that
keeps each message it receives, and an HTTP server implementing the one GOV.UK Notify
endpoint the client calls (``POST /v2/notifications/sms``), checking the client's real request
(its JWT signed with the API key's secret and naming the service) and answering as told."""

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from deploy.ports import free_port

SERVICE_ID = str(uuid.UUID(int=1))
SECRET = str(uuid.UUID(int=2))
API_KEY = f"sgb_test-{SERVICE_ID}-{SECRET}"  # Notify's key: name, service id, secret


@dataclass
class SmtpSink:
    """Messages received, in order; ``refuse`` answers RCPT TO with that reply instead."""

    port: int = 0
    messages: list[Message] = field(default_factory=list)
    refuse: str | None = None
    received: threading.Event = field(default_factory=threading.Event)

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook names)
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if self.refuse:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        content = envelope.original_content or b""
        self.messages.append(message_from_bytes(content))
        self.received.set()
        return "250 Message accepted"


@contextmanager
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@dataclass
class NotifyStub:
    """Requests received (their JSON bodies), and the statuses to answer them with, in turn
    (then 201)."""

    base_url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what was wrong with a request


@contextmanager
def notify_stub() -> Iterator[NotifyStub]:
    stub = NotifyStub()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            stub.requests.append(body)
            stub.problems += _problems(self.path, self.headers.get("Authorization", ""))
            status = stub.answers.pop(0) if stub.answers else 201
            answer = {"id": str(uuid.uuid4()), "reference": body.get("reference")}
            if status >= 400:
                answer = {"status_code": status, "errors": [{"error": "Error", "message": "x"}]}
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: the test's output is its assertions

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stub.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()


def _problems(path: str, authorization: str) -> list[str]:
    """What Notify itself would refuse: another path, or a token not signed with the key's
    secret or not naming the service."""
    if path != "/v2/notifications/sms":
        return [f"path {path}"]
    try:
        claims = jwt.decode(authorization.removeprefix("Bearer "), SECRET, algorithms=["HS256"])
    except jwt.PyJWTError as exc:
        return [f"token {type(exc).__name__}"]
    return [] if claims.get("iss") == SERVICE_ID and "iat" in claims else ["claims"]
