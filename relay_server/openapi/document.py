"""The OpenAPI 3.1 document of the relay's API, served at ``GET /v1/openapi.json``.

Written from the route table (``relay_server.api.routes.operations()``) and
the models each route names: schemas by pydantic's ``models_json_schema``,
error answers from the code table (``relay_server.api.errors.ERROR_CODES``).

A small module of our own rather than flask-openapi3, spectree or APIFlask:
each of those validates requests itself and answers a refused one in its own
shape (a 422 with pydantic's error list), while the contract answers 400 with
one code per field, the first bad field winning, and rejects a bad bulk item
alone; each also wraps the views and the app. Bending any of them to the
contract would take more code than this module, which only reads models.
"""

from __future__ import annotations

from collections import defaultdict
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, models_json_schema
from pydantic_core import core_schema

from relay_server.api.errors import ERROR_CODES
from relay_server.api.models.errors import Error
from relay_server.api.models.fields import rule_of
from relay_server.api.routes import Operation
from relay_server.api.routes import operations as operations_of_api

Schema = dict[str, Any]
REF = "#/components/schemas/{model}"
RATE_LIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
# Both headers together, on every authenticated route.
SECURITY: list[dict[str, list[str]]] = [{"ApiKey": [], "ClientId": []}]

INFO = {
    "title": "ZimSend gateway API",
    "version": "1.0.0",
    "summary": "Self-hosted SMS gateway speaking the ZimSend HTTP API.",
    "description": (
        "Every route needs X-API-Key and X-Client-ID, except this document. "
        "Success bodies carry `success: true`; errors carry "
        "`{success: false, error: {code, message, param?, details?}}` with the codes "
        "listed per route and status. Every timestamp is UTC ISO 8601 ending in Z. "
        "An optional body field sent as null is taken as absent."
    ),
    "license": {"name": "MIT", "identifier": "MIT"},
}
TAGS = [
    {"name": "Sending", "description": "Queue SMS: one, many, personalised, again."},
    {"name": "OTP", "description": "One-time passwords sent by SMS, and their verification."},
    {"name": "Tracking", "description": "Status, history, cancelling and statistics."},
    {"name": "Devices", "description": "The client's modems and phones, from their heartbeats."},
    {"name": "Webhooks", "description": "Events posted to the client's URLs, signed, retried and logged."},
    {"name": "Inbox", "description": "The SMS the client's devices received."},
    {
        "name": "Blocked numbers",
        "description": "The numbers sends to which are refused: STOP replies and the client's own.",
    },
    {"name": "Document", "description": "This description of the API."},
]
PARAMETERS: dict[str, Schema] = {
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
HEADERS: dict[str, Schema] = {
    "X-RateLimit-Limit": {"description": "Requests allowed per minute.", "schema": {"type": "integer"}},
    "X-RateLimit-Remaining": {"description": "Requests left in this minute.", "schema": {"type": "integer"}},
    "X-RateLimit-Reset": {"description": "Epoch seconds when the minute ends.", "schema": {"type": "integer"}},
    "Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}},
}
SECURITY_SCHEMES: dict[str, Schema] = {
    "ApiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "zs_live_… (or zs_test_… for the simulated device).",
    },
    "ClientId": {"type": "apiKey", "in": "header", "name": "X-Client-ID", "description": "client_ + 10 digits."},
}


class _Schemas(GenerateJsonSchema):
    """pydantic's JSON Schema without titles, and without the models' defaults: a request field's
    default is what its rule makes of null (a timedelta, say); its schema says what a client sees."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> Schema:
        return self.generate_inner(schema["schema"])


@cache
def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document: every route under /v1, its parameters, answers and errors.

    The same object is returned on every call; callers must not change it.
    """
    operations = operations_of_api()
    paths: dict[str, dict[str, Any]] = defaultdict(dict)
    for op in operations:
        paths[op.path][op.method.lower()] = _operation(op)
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": INFO,
        "servers": [{"url": "/v1", "description": "This relay"}],
        "tags": TAGS,
        "security": SECURITY,
        "paths": dict(paths),
        "components": {
            "schemas": _component_schemas(operations),
            "parameters": PARAMETERS,
            "headers": HEADERS,
            "securitySchemes": SECURITY_SCHEMES,
        },
    }


def _component_schemas(operations: tuple[Operation, ...]) -> dict[str, Schema]:
    models: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {(Error, "serialization"): None}
    for op in operations:
        models.update({(model, "serialization"): None for model in op.answers})
        models.update({(model, "validation"): None for model in op.body})
        for model in op.body:
            for model_field in model.model_fields.values():
                rule = rule_of(model_field)
                models.update({(ref, "validation"): None for ref in (rule.refs if rule else ())})
    _, schemas = models_json_schema(list(models), ref_template=REF, schema_generator=_Schemas)
    defs: dict[str, Schema] = schemas["$defs"]
    for schema in defs.values():
        schema.pop("title", None)
    return dict(sorted(defs.items()))


def _ref(model: type[BaseModel]) -> Schema:
    return {"$ref": REF.format(model=model.__name__)}


def _one_of(models: tuple[type[BaseModel], ...]) -> Schema:
    return _ref(models[0]) if len(models) == 1 else {"oneOf": [_ref(model) for model in models]}


def _operation(op: Operation) -> dict[str, Any]:
    words = "".join(c if c.isalnum() else " " for c in op.summary).split()
    result: dict[str, Any] = {
        "summary": op.summary,
        "operationId": words[0].lower() + "".join(word.capitalize() for word in words[1:]),
        "tags": [op.tag],
    }
    parameters = _parameters(op)
    if parameters:
        result["parameters"] = parameters
    if op.body:
        content: Schema = {"schema": _one_of(op.body)}
        if op.example is not None:
            content["example"] = op.example
        result["requestBody"] = {"required": op.body_required, "content": {"application/json": content}}
    answer: Schema = {"description": op.description}
    if op.answers:
        answer["content"] = {"application/json": {"schema": _one_of(op.answers)}}
    if op.authenticated:
        answer["headers"] = _headers(retry=False)
    result["responses"] = {str(op.status): answer, **error_responses(op.error_codes())}
    result["security"] = SECURITY if op.authenticated else []
    return result


def _parameters(op: Operation) -> list[Schema]:
    found: list[Schema] = []
    for name in _path_names(op.path):
        if name in op.path_params:
            found.append({"name": name, "in": "path", "required": True, "schema": op.path_params[name]})
        elif name == "message_id":
            found.append({"$ref": "#/components/parameters/MessageId"})
        else:
            found.append({"name": name, "in": "path", "required": True, "schema": {"type": "string"}})
    if op.device:
        found.append({"$ref": "#/components/parameters/DeviceId"})
    if op.method == "POST" and op.authenticated:
        found.append({"$ref": "#/components/parameters/IdempotencyKey"})
    if op.query is not None:
        for field_name, model_field in op.query.model_fields.items():
            rule = rule_of(model_field)
            assert rule is not None, f"{op.query.__name__}.{field_name} has no rule"
            found.append(
                {
                    "name": model_field.alias or field_name,
                    "in": "query",
                    "required": False,
                    "description": rule.description,
                    "schema": rule.schema,
                }
            )
    return found


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def error_responses(codes: tuple[str, ...]) -> dict[str, Any]:
    """One answer per HTTP status, each naming the error codes that come with it."""
    by_status: dict[int, list[str]] = defaultdict(list)
    for code in codes:
        by_status[ERROR_CODES[code].status].append(code)
    answers = {}
    for status in sorted(by_status):
        listed = by_status[status]
        schema = {
            "allOf": [
                _ref(Error),
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


def _headers(*, retry: bool) -> dict[str, Any]:
    names = (*RATE_LIMIT_HEADERS, "Retry-After") if retry else RATE_LIMIT_HEADERS
    return {name: {"$ref": f"#/components/headers/{name}"} for name in names}
