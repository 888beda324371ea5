"""Live updates for the inbox page: server-sent events at ``/inbox/live``.

The stream carries no content, only ``event: notice`` with a notice's id when one arrives in
the signed-in contact's inbox; the page (static/js/live.js) then fetches its own list again.
The delivery worker writes inbox rows in another process, so each open stream polls: every
``POLL_SECONDS`` one read of the session (not touching it: an open page is not a person
using it) and one indexed read of the contact's released notice ids, in a short unit of work.
No connection is held between polls. The stream ends, with ``event: ended``, once the session
is signed out, idle or expired; a comment line every ``HEARTBEAT_SECONDS`` keeps proxies from
closing a quiet stream.

Plain ``StreamingResponse``: the stream is a generator of a few lines, and sse-starlette's
extras (its own disconnect and ping tasks) would add a dependency for what ten lines do here.
The request limits (limits.py) pass it through: they rewrite only the response's start
(``no-store``) and never read or buffer a streamed body.
"""

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from fastapi import FastAPI, Request, Response
from fastapi.responses import StreamingResponse

from broker.bootstrap import Runtime
from broker.entrypoints.web import sessions
from broker.ports import WebSessionRecord
from broker.rules.live_inbox import arrived
from broker.services import live_inbox

POLL_SECONDS = 3.0  # app.state.live_poll_seconds overrides it (tests)
HEARTBEAT_SECONDS = 15.0
RETRY_MS = 5000  # how long a browser waits before reconnecting after a dropped connection


def add_live_updates(app: FastAPI) -> None:
    app.add_api_route("/inbox/live", live_stream, methods=["GET"], include_in_schema=False)


async def live_stream(request: Request) -> Response:
    """The signed-in contact's stream (401 page without a live session, as every page)."""
    session = await sessions.signed_in(request)
    rt: Runtime = request.app.state.rt
    first = await _look(rt, session)
    poll = float(getattr(request.app.state, "live_poll_seconds", POLL_SECONDS))
    events = _events(request, rt, session, first.released, poll)
    return StreamingResponse(events, media_type="text/event-stream",
                             headers={"x-accel-buffering": "no"})  # fmt: skip


async def _events(
    request: Request, rt: Runtime, session: WebSessionRecord, told: frozenset[str], poll: float
) -> AsyncIterator[str]:
    yield f"retry: {RETRY_MS}\n\n"
    quiet = 0.0
    while not await request.is_disconnected():
        await asyncio.sleep(poll)
        now = await _look(rt, session)
        if not now.live:
            yield "event: ended\ndata: {}\n\n"
            return
        for notice_id in arrived(told, now.released):
            yield f"event: notice\ndata: {json.dumps({'notice_id': notice_id})}\n\n"
            quiet = 0.0
        told, quiet = now.released, quiet + poll
        if quiet >= HEARTBEAT_SECONDS:
            yield ": still here\n\n"
            quiet = 0.0


async def _look(rt: Runtime, session: WebSessionRecord) -> live_inbox.Look:
    async with rt.unit_of_work() as uow:
        return await live_inbox.look(uow, session.id_hash, session.contact_id, datetime.now(UTC))
