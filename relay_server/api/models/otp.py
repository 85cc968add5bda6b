"""One-time passwords: what send-otp and verify-otp take and answer."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, WithJsonSchema

from relay_server.api import otp_codes as otp
from relay_server.api.errors import ApiError
from relay_server.api.models.fields import (
    ABSENT,
    MESSAGE_ID,
    METADATA,
    OTP_ID,
    TRUE,
    Answer,
    Phone,
    RequestModel,
    Rule,
    Timestamp,
    context_of,
)
from relay_server.api.models.sending import METADATA_RULE, WEBHOOK_URL_RULE, To
from relay_server.store.otp import MAX_ATTEMPTS

DEFAULT_EXPIRY_SECONDS = 300
MIN_EXPIRY_SECONDS = 60
MAX_EXPIRY_SECONDS = 1800
MAX_CODE_CHARS = 32
_PURPOSE = re.compile(r"[A-Za-z0-9_.-]{1,40}")
_MAYBE = "null means absent."


def _whole(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _length(value: Any, info: ValidationInfo) -> int:
    if value is None:
        return otp.DEFAULT_LENGTH
    if _whole(value, otp.MIN_LENGTH, otp.MAX_LENGTH):
        return int(value)
    raise ApiError(
        "INVALID_PARAMETER", f"length must be an integer from {otp.MIN_LENGTH} to {otp.MAX_LENGTH}.", param="length"
    )


def _expiry(value: Any, info: ValidationInfo) -> timedelta:
    if value is None:
        return timedelta(seconds=DEFAULT_EXPIRY_SECONDS)
    if _whole(value, MIN_EXPIRY_SECONDS, MAX_EXPIRY_SECONDS):
        return timedelta(seconds=value)
    raise ApiError(
        "INVALID_PARAMETER",
        f"expiry must be a number of seconds from {MIN_EXPIRY_SECONDS} to {MAX_EXPIRY_SECONDS}.",
        param="expiry",
    )


def _template(value: Any, info: ValidationInfo) -> str:
    if value is None:
        return str(context_of(info)["settings"].otp_template)
    if not isinstance(value, str) or not otp.has_placeholder(value):
        raise ApiError(
            "INVALID_PARAMETER",
            "template must be a string that says where the code goes with {{code}} (or {code}).",
            param="template",
        )
    return value


def _purpose(value: Any, info: ValidationInfo) -> str:
    """'' when absent: OTPs without a purpose supersede each other."""
    if value is None:
        return ""
    if isinstance(value, str) and _PURPOSE.fullmatch(value):
        return value
    raise ApiError(
        "INVALID_PARAMETER", "purpose must be 1 to 40 letters, digits, '_', '.' or '-', e.g. 'login'.", param="purpose"
    )


def _otp_id(value: Any, info: ValidationInfo) -> str:
    if not isinstance(value, str) or not value:
        raise ApiError("INVALID_PARAMETER", "otp_id must be the id send-otp answered with.", param="otp_id")
    return value


def _code(value: Any, info: ValidationInfo) -> str:
    if isinstance(value, str) and 0 < len(value.strip()) <= MAX_CODE_CHARS:
        return value.strip()
    raise ApiError(
        "INVALID_PARAMETER",
        f"code must be the code the user typed, as a string of at most {MAX_CODE_CHARS} characters.",
        param="code",
    )


def _optional(schema: dict[str, Any], description: str) -> dict[str, Any]:
    # Optional fields take null for "absent", like every optional field of the API.
    return {"oneOf": [schema, {"type": "null"}], "description": f"{description} {_MAYBE}"}


_INVALID = ("INVALID_PARAMETER",)


class SendOtpRequest(RequestModel):
    """A code for ``to``, sent by SMS at priority 1."""

    to: To = ABSENT
    length: Annotated[
        int,
        Rule(
            _length,
            codes=_INVALID,
            schema=_optional(
                {"type": "integer", "minimum": otp.MIN_LENGTH, "maximum": otp.MAX_LENGTH},
                "Digits in the code; 6 by default.",
            ),
        ),
    ] = ABSENT
    expiry: Annotated[
        timedelta,
        Rule(
            _expiry,
            codes=_INVALID,
            schema=_optional(
                {"type": "integer", "minimum": MIN_EXPIRY_SECONDS, "maximum": MAX_EXPIRY_SECONDS},
                "Seconds the code is valid; 300 by default.",
            ),
        ),
    ] = ABSENT
    template: Annotated[
        str,
        Rule(
            _template,
            codes=_INVALID,
            schema=_optional(
                {"type": "string", "minLength": 1, "pattern": r"\{\{\s*code\s*\}\}|\{code\}"},
                "The SMS text; {{code}} (or {code}) marks where the code goes. "
                "By default the relay's otp_template: 'Votre code de vérification est : {{code}}'.",
            ),
        ),
    ] = ABSENT
    purpose: Annotated[
        str,
        Rule(
            _purpose,
            codes=_INVALID,
            schema=_optional(
                {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,40}$", "examples": ["login"]},
                "A new OTP replaces the pending one of the same number and purpose.",
            ),
        ),
    ] = ABSENT
    metadata: Annotated[
        dict[str, Any] | None,
        METADATA_RULE.documented_as(_optional(METADATA, "Carried to the message, as for /sms/send.")),
    ] = ABSENT
    webhook_url: Annotated[
        str | None,
        WEBHOOK_URL_RULE.documented_as(
            _optional({"type": "string", "format": "uri"}, "Status callbacks for the SMS, as for /sms/send.")
        ),
    ] = ABSENT


class VerifyOtpRequest(RequestModel):
    """The code the user typed, for the OTP send-otp answered with."""

    otp_id: Annotated[
        str,
        Rule(_otp_id, codes=_INVALID, schema={"type": "string", "examples": ["otp_1234567890abcdef"]}, required=True),
    ] = ABSENT
    code: Annotated[
        str,
        Rule(
            _code,
            codes=_INVALID,
            schema={"type": "string", "minLength": 1, "maxLength": MAX_CODE_CHARS, "examples": ["123456"]},
            required=True,
        ),
    ] = ABSENT


class SendOtpAccepted(Answer):
    success: TRUE = True
    otp_id: Annotated[str, WithJsonSchema(OTP_ID)]
    to: Phone
    expires_at: Timestamp
    message_id: Annotated[
        str, WithJsonSchema({**MESSAGE_ID, "description": "The SMS that carries the code; its text is stored masked."})
    ]
    status: Literal["queued"]


class OtpVerified(Answer):
    success: TRUE = True
    valid: Literal[True] = True
    message: str
    verified_at: Timestamp


class OtpWrongCode(Answer):
    success: TRUE = True
    valid: Literal[False] = False
    message: str
    attempts_remaining: Annotated[int, Field(ge=0, le=MAX_ATTEMPTS - 1)]
