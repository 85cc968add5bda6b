"""``GET /console/live?ids=...``: the statuses of the messages on a page, as server-sent events.

The stream reads the store, the source of truth, once a second (one query for
all the watched messages) and sends a ``status`` event for each watched
message whose status changed (all of them at first); a message whose status
is final is not read again. Reading rather than listening means a change made by any process
(the worker, another relay, the API) cannot be missed. The stream ends with
a ``done`` event once every watched message is final, and after a few
minutes in any case: the browser then opens it again, which checks the
session and counts against the rate limit again. Under gevent the sleeps
yield to the other requests.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

from flask import Response, request, stream_with_context

from relay_server.api.auth import current_caller
from relay_server.api.context import current
from relay_server.console.blueprint import bp
from relay_server.console.i18n import translate
from relay_server.store.ids import is_message_id

POLL_SECONDS = 1.0
KEEPALIVE_SECONDS = 15.0
STREAM_SECONDS = 300.0
MAX_WATCHED = 100
FINAL = frozenset({"delivered", "failed", "cancelled"})


@bp.get("/live")
def live() -> Response:
    """The event stream of the listed messages' statuses (at most 100 ids, other clients' ignored)."""
    ids = [value for value in request.args.get("ids", "").split(",") if is_message_id(value)][:MAX_WATCHED]
    response = Response(stream_with_context(_events(ids)), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # nginx would otherwise hold the events back
    return response


def _events(ids: list[str]) -> Iterator[bytes]:
    store, caller = current().store, current_caller()
    known: dict[str, str] = {}
    started = last_write = time.monotonic()
    yield b":connected\n\n"
    while time.monotonic() - started < STREAM_SECONDS:
        # One read a round for the whole page; a final status never changes: not read again.
        found = store.get_messages(caller, [message_id for message_id in ids if known.get(message_id) not in FINAL])
        for message_id in ids:
            message = found.get(message_id)
            if message is not None and known.get(message_id) != message.status:
                known[message_id] = message.status
                last_write = time.monotonic()
                yield _block(
                    "status", {"message_id": message_id, "status": message.status, "label": translate(message.status)}
                )
        ids = [message_id for message_id in ids if message_id in known]  # another client's: not watched
        if all(known[message_id] in FINAL for message_id in ids):
            yield _block("done", {})
            return
        if time.monotonic() - last_write >= KEEPALIVE_SECONDS:
            last_write = time.monotonic()
            yield b":keepalive\n\n"
        time.sleep(POLL_SECONDS)


def _block(event: str, data: dict[str, str]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()
