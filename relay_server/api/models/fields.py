"""The building blocks of the API's models: request rules, answer fields, shared schemas.

A request field is ``Annotated[T, Rule(...)]``: the rule's ``parse`` turns
what the client sent (None when absent or null) into the value or raises
``ApiError`` with one of the rule's ``codes``. The error leaves pydantic as it
is (pydantic wraps only ValueError), so a request is refused for its first
bad field, in the model's field order, with that field's own code and
``param``. The rule's ``schema`` is what the OpenAPI document shows for it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PlainSerializer,
    ValidationInfo,
    WithJsonSchema,
)
from pydantic_core import core_schema

from relay_server.api.errors import ApiError
from zimsend_common.timefmt import isoformat_z

Schema = dict[str, Any]


class Rule:
    """How one request field is read and checked, which error codes it answers and how it is documented."""

    def __init__(
        self,
        parse: Callable[[Any, ValidationInfo], Any],
        *,
        codes: tuple[str, ...],
        schema: Schema,
        required: bool = False,
        description: str | None = None,
        refs: tuple[type[BaseModel], ...] = (),
    ) -> None:
        self.parse = parse
        self.codes = codes
        self.schema = schema
        self.required = required
        self.description = description  # a query parameter's, beside its schema
        self.refs = refs  # the models ``schema`` refers to

    def documented_as(self, schema: Schema) -> Rule:
        """The same rule (parse, codes, requirement), shown as ``schema`` in the document."""
        return Rule(
            self.parse,
            codes=self.codes,
            schema=schema,
            required=self.required,
            description=self.description,
            refs=self.refs,
        )

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.with_info_plain_validator_function(self.parse)

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler) -> Schema:
        return dict(self.schema)


def query_rule(
    parse: Callable[[str], Any], description: str, schema: Schema, *, name: str | None = None, default: Any = None
) -> Rule:
    """A query parameter's rule: empty or absent is ``default``; ``parse`` raising ValueError(why) is
    INVALID_PARAMETER "The parameter <name> <why>" (``name`` defaults to the field's)."""

    def read(raw: Any, info: ValidationInfo) -> Any:
        if raw is None or raw == "":
            return default
        try:
            return parse(raw)
        except ValueError as exc:
            param = name or info.field_name or ""
            raise ApiError("INVALID_PARAMETER", f"The parameter {param} {exc}", param=param) from None

    return Rule(read, codes=("INVALID_PARAMETER",), schema=schema, description=description)


def rule_of(field: Any) -> Rule | None:
    """The Rule among a model field's metadata, if it has one."""
    return next((item for item in field.metadata if isinstance(item, Rule)), None)


def _required_by_rules(schema: Schema, model: type[BaseModel]) -> None:
    """Lists as required the fields whose rule refuses their absence (they default to None to reach it)."""
    required = [
        field.alias or name
        for name, field in model.model_fields.items()
        if (rule := rule_of(field)) is not None and rule.required
    ]
    if required:
        schema["required"] = required


# Every request field's default: what the client sent when it sent nothing
# (absent or null). It is the rule's input, not a value of the field's type,
# hence Any: pydantic hands it to the rule (validate_default), which turns it
# into the real default or refuses it, for a required field.
ABSENT: Any = None


# A model's validator and serializer are built at its first use (defer_build), not where it is
# defined: a server process builds those of the requests it serves, and keeps none for routes it
# never served (about 1 MB of the relay's). Under gevent, a build runs to its end before another
# greenlet runs.


class RequestModel(BaseModel):
    """A request body or query: unknown fields ignored, an absent field read as null by its rule.

    Every field defaults to ``ABSENT`` (None), which its rule turns into the
    real default (or refuses, for a required field).
    """

    model_config = ConfigDict(
        validate_default=True,
        populate_by_name=True,
        frozen=True,
        json_schema_extra=_required_by_rules,
        defer_build=True,
    )


class Answer(BaseModel):
    """An answer body: exactly these fields; one with ``exclude_if`` may be left out."""

    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True, defer_build=True)


def context_of(info: ValidationInfo) -> dict[str, Any]:
    """What a rule needs beside the value (settings, now, languages): the validation context."""
    return info.context or {}


def nullable(schema: Schema) -> Schema:
    return {"oneOf": [schema, {"type": "null"}]}


TIMESTAMP: Schema = {"type": "string", "format": "date-time", "examples": ["2025-01-15T10:30:00Z"]}
MESSAGE_ID: Schema = {"type": "string", "pattern": "^msg_[0-9a-f]{16}$", "examples": ["msg_1234567890abcdef"]}
PHONE: Schema = {"type": "string", "pattern": r"^\+[1-9][0-9]{1,14}$", "examples": ["+33612345678"]}
DEVICE_ID: Schema = {"type": "string", "examples": ["device_abcdef123456"]}
METADATA: Schema = {"type": "object", "description": "Any JSON object of at most 1 KB."}
WEBHOOK_ID: Schema = {"type": "string", "pattern": "^wh_[0-9a-f]{16}$", "examples": ["wh_0123456789abcdef"]}
LOG_ID: Schema = {"type": "string", "pattern": "^whlog_[0-9a-f]{16}$"}
EVENT_ID: Schema = {"type": "string", "pattern": "^evt_[0-9a-f]{32}$"}
INCOMING_ID: Schema = {"type": "string", "pattern": "^in_[0-9a-f]{16}$"}
OTP_ID: Schema = {"type": "string", "pattern": "^otp_[0-9a-f]{16}$", "examples": ["otp_1234567890abcdef"]}
DATE_BOUND: Schema = {
    "oneOf": [TIMESTAMP, {"type": "string", "format": "date"}],
    "examples": ["2025-01-01T00:00:00Z", "2025-01-31"],
}

# Every time an answer carries is written by this one function, whatever its source.
Timestamp = Annotated[datetime, PlainSerializer(isoformat_z, return_type=str), WithJsonSchema(TIMESTAMP)]


TRUE = Literal[True]
PriorityWord = Literal["urgent", "high", "normal", "low", "bulk"]
MessageId = Annotated[str, WithJsonSchema(MESSAGE_ID)]
Phone = Annotated[str, WithJsonSchema(PHONE)]
DeviceId = Annotated[str, WithJsonSchema(DEVICE_ID)]
Count = Annotated[int, Field(ge=0)]


def omitted_when_none(description: str | None = None) -> Any:
    """A field left out of the answer when it is None (``param`` of an error, say)."""
    return Field(default=None, exclude_if=lambda value: value is None, description=description)


class Pagination(Answer):
    current_page: Annotated[int, Field(ge=1)]
    per_page: Annotated[int, Field(ge=1, le=100)]
    total_pages: Count
    total_items: Count
