"""One demo broker's public front: its gateway and its inbox API (with the web inbox) served
under one base URL, as a reverse proxy would put them, run as ``python -m broker.demo.front``.

Why one URL: a peer registers one URL for a broker, and sends its receipts to the inbox API's
``/v1/recipients/...`` under it (``broker.services.peer_receipts``). When peer registration
gains a separate recipient-API URL, the demo may serve the two apps apart again: this module
is the one place that changes (``GATEWAY_PATHS`` and ``main``).
"""

import argparse
import socket
from contextlib import AsyncExitStack
from typing import Any

import uvicorn
from fastapi import FastAPI

from broker.config import Settings
from broker.entrypoints.gateway import create_gateway
from broker.entrypoints.inbox_api import create_inbox_api

# What the gateway answers; every other path (the inbox API, the web inbox, its assets)
# goes to the inbox API.
GATEWAY_PATHS = ("/v1/events", "/v1/oauth/", "/v1/peers/", "/fhir/", "/health", "/ready",
                 "/metrics")  # fmt: skip


class OneHost:
    """Routes each request to the gateway or the inbox API by its path. Each app keeps its
    own lifespan (its own runtime, as its own process would)."""

    def __init__(self, gateway: FastAPI, inbox: FastAPI) -> None:
        self.gateway, self.inbox = gateway, inbox

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        to_gateway = str(scope.get("path", "")).startswith(GATEWAY_PATHS)
        await (self.gateway if to_gateway else self.inbox)(scope, receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        await receive()  # lifespan.startup
        async with AsyncExitStack() as stack:
            try:
                for app in (self.gateway, self.inbox):
                    await stack.enter_async_context(app.router.lifespan_context(app))
            except Exception as exc:
                await send({"type": "lifespan.startup.failed", "message": type(exc).__name__})
                raise
            await send({"type": "lifespan.startup.complete"})
            await receive()  # lifespan.shutdown
        await send({"type": "lifespan.shutdown.complete"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    settings = Settings()  # from the SGB_ environment, as every broker process reads it
    app = OneHost(create_gateway(settings), create_inbox_api(settings))
    sock = socket.socket()
    sock.bind(("127.0.0.1", port))
    config = uvicorn.Config(app, log_config=None, access_log=False, ws="none")
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
