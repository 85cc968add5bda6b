"""The request body: its raw bytes within the size limit, and the JSON object it must be."""

from __future__ import annotations

import json
from typing import Any

from flask import request
from werkzeug.exceptions import RequestEntityTooLarge

from relay_server.api.errors import ApiError


def request_body() -> bytes:
    """The raw request body; 413 when it is over ``max_body_bytes``.

    Also for chunked bodies, which have no Content-Length: one that reaches
    the limit is refused, since the rest of it was not read.
    """
    data = request.get_data(cache=True)
    limit = request.max_content_length
    if limit is not None and len(data) >= limit and request.content_length is None:
        raise RequestEntityTooLarge()
    return data


def json_body() -> dict[str, Any]:
    """The request body as a JSON object.

    A body that is not JSON: 400 ``INVALID_JSON``, or 415
    ``UNSUPPORTED_MEDIA_TYPE`` when it was also declared as something else.
    Valid JSON is read whatever the Content-Type says.
    """
    data = request_body()
    try:
        body = json.loads(data, parse_constant=_refuse_constant) if data else None
    except (ValueError, RecursionError):
        if not _declared_json():
            raise ApiError("UNSUPPORTED_MEDIA_TYPE", "The request body must be JSON (application/json).") from None
        raise ApiError("INVALID_JSON", "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ApiError("INVALID_JSON", "The request body must be a JSON object.")
    return body


def _declared_json() -> bool:
    mimetype = request.mimetype
    return mimetype in ("", "application/json") or mimetype.endswith("+json")


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")
