"""The route table: every ``/v1`` route with what it takes and answers, registered in one step.

``@route(bp, "POST", "/sms/send", ...)`` adds the view to its blueprint and
its ``Operation`` to ``operations()``, from which ``relay_server.openapi``
writes the document: a route cannot be served without being described.
``respond`` writes an answer model as the route's JSON answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from flask import Blueprint, Response, current_app
from pydantic_core import PydanticSerializationError

from relay_server.api.models.fields import Answer, RequestModel, Schema, rule_of

View = TypeVar("View", bound=Callable[..., Any])

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
# Every route may answer these: a request the server cannot read, or one whose
# request line or headers are too long (the server refuses it before the app),
# and one whose body is over max_body_bytes, whatever its method (``body_limit``
# refuses it before the route, its credentials or its method are looked at).
HTTP_ERRORS = ("INVALID_REQUEST", "PAYLOAD_TOO_LARGE", "INTERNAL_ERROR")
# Every POST may answer these too: its body and its replay key.
POST_ERRORS = (
    "INVALID_JSON",
    "INVALID_REQUEST",
    "INVALID_PARAMETER",
    "UNSUPPORTED_MEDIA_TYPE",
    "IDEMPOTENCY_CONFLICT",
)


@dataclass(frozen=True)
class Operation:
    """One route as the document shows it."""

    method: str
    path: str  # under /v1, with {parameters}
    summary: str
    tag: str
    status: int
    description: str
    answers: tuple[type[Answer], ...]  # one of them (none: an empty answer)
    errors: tuple[str, ...] = ()  # beyond those of its body, query, method and device
    body: tuple[type[RequestModel], ...] = ()  # one of them
    body_required: bool = True
    example: Any = None
    query: type[RequestModel] | None = None
    device: bool = False  # reads X-Device-ID
    path_params: Mapping[str, Schema] = field(default_factory=dict)
    authenticated: bool = True

    def error_codes(self) -> tuple[str, ...]:
        """Every error code the route may answer, each once."""
        codes: list[str] = list(self.errors)
        for model in (*self.body, *((self.query,) if self.query else ())):
            for model_field in model.model_fields.values():
                rule = rule_of(model_field)
                codes.extend(rule.codes if rule else ())
        if self.method == "POST" and self.authenticated:
            codes.extend(POST_ERRORS)
        if self.device:
            codes.append("INVALID_DEVICE_ID")
        if self.authenticated:
            codes.extend(AUTH_ERRORS)
        codes.extend(HTTP_ERRORS)
        return tuple(dict.fromkeys(codes))


_OPERATIONS: list[Operation] = []


def operations() -> tuple[Operation, ...]:
    """Every route of the API, in the order the blueprints register them."""
    # Deferred: the route modules import this one to declare their routes.
    from relay_server.api import blueprints  # noqa: F401  (importing them declares every route)

    return tuple(_OPERATIONS)


def route(bp: Blueprint, method: str, rule: str, **described: Any) -> Callable[[View], View]:
    """Serve the view at ``rule`` of ``bp`` for ``method`` and describe it (``Operation``'s fields)."""
    if isinstance(described.get("answers"), type):
        described["answers"] = (described["answers"],)
    if isinstance(described.get("body"), type):
        described["body"] = (described["body"],)
    operation = Operation(method=method, path=re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule), **described)

    def register(view: View) -> View:
        bp.add_url_rule(rule, view_func=view, methods=[method])
        _OPERATIONS.append(operation)
        return view

    return register


def respond(answer: Answer, status: int = 200) -> Response:
    """``answer`` as the JSON answer of the request, with ``status``.

    Written by pydantic's serializer straight to UTF-8 JSON, a line as Flask
    writes it. A lone surrogate has no UTF-8 (an incoming SMS may carry one,
    see ``store.storable_text``): such an answer is written with ``\\u``
    escapes instead, as Flask writes any JSON.
    """
    try:
        body = answer.__pydantic_serializer__.to_json(answer, by_alias=True) + b"\n"
    except PydanticSerializationError:
        response = cast(Response, current_app.json.response(answer.model_dump(mode="json", by_alias=True)))
        response.status_code = status
        return response
    return Response(body, status=status, mimetype="application/json")
