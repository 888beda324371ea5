"""A recipient's webhook endpoint that can go down and come back, counting what it accepted.

It serves ``POST /hooks/{contact_id}`` on loopback from a thread of its own (uvicorn), checks
each request's signature with the broker's public keys (``WebhookReceiver``, without its
de-duplication: the point is to see every request), and answers 200. It counts the requests it
accepted per webhook id: a notice accepted twice is a duplicate delivery. While down, its
port is closed: the broker's requests are refused, as by a system that is switched off.
"""

import threading
from collections import Counter
from datetime import UTC, datetime

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from producers.broker_keys import BrokerPublicKeys
from producers.webhook_receiver import WebhookReceiver, WebhookRejected
from schemas.notices import NoticeHeader


class EverythingNew:
    """Lets every request through to be counted (``SeenIds`` that never says seen)."""

    def first_time(self, webhook_id: str) -> bool:
        return True


class WebhookEndpoint:
    def __init__(self, port: int, broker_keys: BrokerPublicKeys) -> None:
        self.port = port
        self.accepted: Counter[str] = Counter()  # webhook id -> requests answered 200
        self.misaddressed = 0  # accepted at one contact's URL, addressed to another
        self.refused = 0  # bad signature, stale timestamp
        self._receiver = WebhookReceiver(broker_keys, EverythingNew())
        self._lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    async def _hook(self, request: Request) -> Response:
        body = await request.body()
        try:
            notice = self._receiver.accept(dict(request.headers), body, datetime.now(UTC))
        except WebhookRejected:
            with self._lock:
                self.refused += 1
            return Response(status_code=400)
        assert notice is not None
        header = NoticeHeader.model_validate_json(notice.header)
        with self._lock:
            self.accepted[str(header.notice_id)] += 1
            if header.recipient_id != request.path_params["contact"]:
                self.misaddressed += 1
        return Response(status_code=200)

    def up(self) -> None:
        app = Starlette(routes=[Route("/hooks/{contact}", self._hook, methods=["POST"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_config=None,
                                access_log=False, lifespan="off")  # fmt: skip
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="webhook-endpoint")
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"the webhook endpoint could not listen on {self.port}")
            threading.Event().wait(0.05)

    def down(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join()
        self._server = self._thread = None
