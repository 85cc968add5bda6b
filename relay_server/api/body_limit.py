"""Bodies over ``max_body_bytes``: refused before they are read, and the connection ended.

Before anything else looks at the request (who is calling, how often): a
declared ``Content-Length`` over the limit is answered 413
``PAYLOAD_TOO_LARGE`` without a byte of the body read; a chunked body, whose
size nobody knows in advance, is read (and kept for the route) up to one
byte past the limit, and answered the same when it has that byte.

Either way the rest of the body is still on its way, and an HTTP server
would read it all to find the next request on the connection: after a 413
the relay stops reading the connection instead (its read side is shut), so
the server closes it once the answer is out. The socket is the one gunicorn
hands the application (``gunicorn.socket``); under another server the
answer is the same and the connection is that server's business.
"""

from __future__ import annotations

import io
import socket
from typing import BinaryIO

from flask import Flask, Response, request
from werkzeug.exceptions import RequestEntityTooLarge

from relay_server.api.context import current

_SERVER_SOCKET = "gunicorn.socket"
_READ_SIZE = 64 * 1024


def init_app(app: Flask) -> None:
    """Refuse oversize bodies first, and end the connection of every 413."""
    app.before_request(_refuse_oversize)
    app.after_request(_stop_reading_after_refusal)


def _refuse_oversize() -> None:
    limit = current().settings.relay.max_body_bytes
    declared = request.content_length
    if declared is not None:
        if declared > limit:
            raise RequestEntityTooLarge()
    elif "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        body = _read_at_most(request.environ["wsgi.input"], limit + 1)
        if len(body) > limit:
            raise RequestEntityTooLarge()
        # The route reads what was read here (nothing has read the input yet).
        request.environ["wsgi.input"] = io.BytesIO(body)


def _read_at_most(stream: BinaryIO, size: int) -> bytes:
    parts: list[bytes] = []
    remaining = size
    while remaining > 0:
        part = stream.read(min(_READ_SIZE, remaining))
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


def _stop_reading_after_refusal(response: Response) -> Response:
    connection = request.environ.get(_SERVER_SOCKET)
    if response.status_code == 413 and connection is not None:
        # Once the answer is written (the response is closed after it), not before.
        response.call_on_close(lambda: _shut_reading(connection))
    return response


def _shut_reading(connection: socket.socket) -> None:
    try:
        connection.shutdown(socket.SHUT_RD)
    except OSError:
        pass  # the client already went
