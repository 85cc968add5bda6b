"""Building blocks of the document's operations: parameters, headers and answers."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from relay_server.errors import ERROR_CODES
from relay_server.openapi.schemas import ref

Operation = dict[str, Any]

# Every authenticated route may answer these.
AUTH_ERRORS = (
    "MISSING_AUTH_HEADERS",
    "INVALID_CLIENT_ID",
    "INVALID_API_KEY",
    "RATE_LIMIT_EXCEEDED",
    "TOO_MANY_AUTH_FAILURES",
    "INTERNAL_ERROR",
    "SERVICE_UNAVAILABLE",
)
# Every POST route may answer these too: its body, its replay key and its device.
POST_ERRORS = (
    "INVALID_JSON",
    "INVALID_REQUEST",
    "INVALID_PARAMETER",
    "PAYLOAD_TOO_LARGE",
    "UNSUPPORTED_MEDIA_TYPE",
    "IDEMPOTENCY_CONFLICT",
    "INVALID_DEVICE_ID",
)

RATE_LIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")

PARAMETERS: dict[str, dict[str, Any]] = {
    "MessageId": {
        "name": "message_id",
        "in": "path",
        "required": True,
        "description": "The id the send answered with.",
        "schema": {"type": "string", "examples": ["msg_1234567890abcdef"]},
    },
    "DeviceId": {
        "name": "X-Device-ID",
        "in": "header",
        "required": False,
        "description": "The device to send from; without it the relay picks one of the client's online devices.",
        "schema": {"type": "string", "examples": ["device_abcdef123456"]},
    },
    "IdempotencyKey": {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": (
            "Within 24 h, a request with the same key and body gets the first answer again and does "
            "nothing more; the same key with another body is refused with IDEMPOTENCY_CONFLICT. "
            "An empty or longer key: INVALID_PARAMETER."
        ),
        "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    },
}

HEADERS: dict[str, dict[str, Any]] = {
    "X-RateLimit-Limit": {"description": "Requests allowed per minute.", "schema": {"type": "integer"}},
    "X-RateLimit-Remaining": {"description": "Requests left in this minute.", "schema": {"type": "integer"}},
    "X-RateLimit-Reset": {"description": "Epoch seconds when the minute ends.", "schema": {"type": "integer"}},
    "Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}},
}

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "ApiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "zs_live_… (or zs_test_… for the simulated device).",
    },
    "ClientId": {"type": "apiKey", "in": "header", "name": "X-Client-ID", "description": "client_ + 10 digits."},
}

# Both headers together, on every authenticated route.
SECURITY = [{"ApiKey": [], "ClientId": []}]


def param(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/parameters/{name}"}


def query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


def json_body(schema_name: str, example: Any) -> dict[str, Any]:
    return {
        "required": True,
        "content": {"application/json": {"schema": ref(schema_name), "example": example}},
    }


def operation(
    summary: str,
    *,
    tag: str,
    ok: tuple[int, str, str],
    errors: tuple[str, ...] = (),
    parameters: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
    authenticated: bool = True,
) -> Operation:
    """An operation answering ``ok`` = (status, description, schema name) or one of ``errors``.

    Authenticated operations also list the errors every such route may answer.
    """
    status, description, schema_name = ok
    result: Operation = {"summary": summary, "operationId": _operation_id(summary), "tags": [tag]}
    if parameters:
        result["parameters"] = parameters
    if body:
        result["requestBody"] = body
    responses = {str(status): _response(description, schema_name, authenticated)}
    all_errors = (*errors, *(AUTH_ERRORS if authenticated else ("INTERNAL_ERROR",)))
    responses.update(error_responses(all_errors))
    result["responses"] = responses
    result["security"] = SECURITY if authenticated else []
    return result


def error_responses(codes: tuple[str, ...]) -> dict[str, Any]:
    """One answer per HTTP status, each naming the error codes that come with it."""
    by_status: dict[int, list[str]] = defaultdict(list)
    for code in dict.fromkeys(codes):
        by_status[ERROR_CODES[code].status].append(code)
    answers = {}
    for status in sorted(by_status):
        listed = by_status[status]
        schema = {
            "allOf": [
                ref("Error"),
                {"properties": {"error": {"properties": {"code": {"enum": listed}}}}},
            ]
        }
        answer: dict[str, Any] = {
            "description": "; ".join(f"{code}: {ERROR_CODES[code].meaning}" for code in listed),
            "content": {"application/json": {"schema": schema}},
        }
        if status == 429:
            answer["headers"] = _headers(retry=True)
        answers[str(status)] = answer
    return answers


def _response(description: str, schema_name: str, authenticated: bool) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": ref(schema_name)}},
    }
    if authenticated:
        answer["headers"] = _headers(retry=False)
    return answer


def _headers(*, retry: bool) -> dict[str, Any]:
    names = (*RATE_LIMIT_HEADERS, "Retry-After") if retry else RATE_LIMIT_HEADERS
    return {name: {"$ref": f"#/components/headers/{name}"} for name in names}


def _operation_id(summary: str) -> str:
    words = "".join(c if c.isalnum() else " " for c in summary).split()
    return words[0].lower() + "".join(word.capitalize() for word in words[1:])
