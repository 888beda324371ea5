"""How the HTTP APIs are served: uvicorn with the proxy headers trusted only from the proxies
named in ``forwarded_allow_ips``, the ops endpoints on their own port, and the interactive
documents only where ``api_docs`` asks for them (development)."""

from typing import Any

import uvicorn
from fastapi import FastAPI

from broker.config import Settings
from broker.entrypoints import ops


def docs_urls(settings: Settings) -> dict[str, Any]:
    """FastAPI's arguments for /docs, /redoc and /openapi.json: off unless asked for; when
    asked for, /docs comes from self-hosted assets (web/docs.py) and ReDoc (CDN only) stays off."""
    if settings.api_docs:
        return {"docs_url": None, "redoc_url": None}
    return {"docs_url": None, "redoc_url": None, "openapi_url": None}


def server_config(app: FastAPI, settings: Settings, host: str, port: int) -> uvicorn.Config:
    """Without ``forwarded_allow_ips`` no header moves the client's address: uvicorn would
    otherwise believe ``X-Forwarded-For`` from any peer on loopback."""
    proxies = settings.forwarded_allow_ips.strip()
    return uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False,
                          proxy_headers=bool(proxies), forwarded_allow_ips=proxies or None,
                          server_header=False)  # fmt: skip


async def serve_api(app: FastAPI, settings: Settings, host: str, port: int) -> None:
    """Serves the API on ``host:port`` and its ops endpoints on ``ops_host:ops_port``."""
    server = uvicorn.Server(server_config(app, settings, host, port))
    ops_app = ops.api_ops_app(app, listening=lambda: server.started)
    async with ops.serving(ops_app, settings.ops_host, settings.ops_port):
        await server.serve()
