"""One-time passwords: send a code by SMS, then verify what the user typed.

The SMS is an ordinary message at priority 1 (status, history, webhooks,
X-Device-ID and Idempotency-Key as for ``/v1/sms/send``), with one
difference: the store keeps its text with the code masked, while the send
job handed to the dispatcher carries the real text. Nothing else ever holds
the code: the store keeps only its keyed MAC (see ``relay_server.otp``),
and no answer or log line contains it.

If Redis loses the send job before a device takes it, the worker's recovery
cannot rebuild it from the masked text: it fails the message instead of
sending a masked code (see ``relay_server.worker.recovery``), and the client
asks for a new OTP.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import replace
from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, current_app

from relay_server import context, idempotency, otp
from relay_server.api.requests import (
    Options,
    check_webhook_url,
    json_body,
    parse_metadata,
    parse_text,
    parse_to,
)
from relay_server.api.sending import choose_device, new_message, submit
from relay_server.auth import current_caller, requested_device_id
from relay_server.errors import ApiError, error_response
from relay_server.store import ids
from relay_server.store.models import Message
from relay_server.store.otp import MAX_ATTEMPTS, NewOtp, OtpRateLimited, Verification
from zimsend_common.timefmt import isoformat_z

bp = Blueprint("otp", __name__, url_prefix="/v1")
log = logging.getLogger(__name__)

OTP_PRIORITY = 1
DEFAULT_EXPIRY_SECONDS = 300
MIN_EXPIRY_SECONDS = 60
MAX_EXPIRY_SECONDS = 1800
MAX_CODE_CHARS = 32
_PURPOSE = re.compile(r"[A-Za-z0-9_.-]{1,40}")


@bp.post("/sms/send-otp")
def send_otp() -> Response:
    """Make a code, queue the SMS that carries it, and answer with the OTP's id."""
    device_id = requested_device_id()
    body = json_body()
    relay = context.current()
    settings = relay.settings.relay
    to = parse_to(body.get("to"))
    length = _parse_length(body.get("length"))
    expiry = _parse_expiry(body.get("expiry"))
    template = _parse_template(body.get("template"), settings.otp_template)
    purpose = _parse_purpose(body.get("purpose"))
    now = relay.clock()
    expires_at = now + expiry
    options = Options(
        priority=OTP_PRIORITY,
        metadata=parse_metadata(body.get("metadata")),
        webhook_url=check_webhook_url(body.get("webhook_url"), settings),
        valid_until=expires_at,  # a code that reaches the phone expired is of no use
    )
    code = otp.new_code(length)
    text = parse_text(otp.render(template, code), param="template")
    device_id = choose_device(device_id, options)
    caller = current_caller()
    otp_id = ids.new_otp_id()
    outgoing = new_message(to, text, options, device_id)
    new_otp = NewOtp(
        otp_id=otp_id,
        client_id=caller.client_id,
        is_test=caller.is_test,
        to=to,
        purpose=purpose,
        code_mac=otp.code_mac(otp.otp_key(settings), otp_id, code),
        created_at=now,
        expires_at=expires_at,
    )
    masked = replace(outgoing, body=otp.masked(template, length))

    def render(stored: list[Message]) -> Response:
        [message] = stored
        response = current_app.json.response({
            "success": True,
            "otp_id": otp_id,
            "to": message.to,
            "expires_at": isoformat_z(expires_at),
            "message_id": message.message_id,
            "status": message.status,
        })
        response.status_code = 202
        return response

    try:
        [stored], response = idempotency.store_answered(
            lambda answer: [relay.store.create_otp(new_otp, masked, answer=answer)], render
        )
    except OtpRateLimited as limited:
        return _rate_limited(math.ceil((limited.retry_at - now).total_seconds()))
    log.info("otp created", extra={"otp_id": otp_id, "message_id": stored.message_id})
    submit([replace(stored, body=outgoing.body)])
    return response


@bp.post("/sms/verify-otp")
def verify_otp() -> tuple[dict[str, Any], int]:
    """Check a code: 200 with ``valid`` true or false, or the OTP's error."""
    body = json_body()
    otp_id = body.get("otp_id")
    if not isinstance(otp_id, str) or not otp_id:
        raise ApiError("INVALID_PARAMETER", "otp_id must be the id send-otp answered with.", param="otp_id")
    code = _parse_code(body.get("code"))
    relay = context.current()
    mac = otp.code_mac(otp.otp_key(relay.settings.relay), otp_id, code)
    result = relay.store.verify_otp(current_caller(), otp_id, mac, relay.clock())
    # An id of the wrong shape is whatever the client sent: not worth a log line's room.
    shown_id = otp_id if ids.is_otp_id(otp_id) else None
    log.info("otp verification", extra={"otp_id": shown_id, "outcome": result.outcome})
    return _verification_answer(result), 200


def _verification_answer(result: Verification) -> dict[str, Any]:
    if result.outcome == "verified":
        return {
            "success": True,
            "valid": True,
            "message": "The code is correct; the OTP is now used.",
            "verified_at": isoformat_z(result.verified_at),
        }
    if result.outcome == "wrong":
        return {
            "success": True,
            "valid": False,
            "message": "The code is incorrect.",
            "attempts_remaining": result.attempts_remaining,
        }
    code, message = _VERIFICATION_ERRORS[result.outcome]
    raise ApiError(code, message, param="otp_id")


# What each outcome no code can change answers: (error code, message).
_VERIFICATION_ERRORS = {
    "expired": ("OTP_EXPIRED", "The OTP has expired; request a new one."),
    "exhausted": ("OTP_MAX_ATTEMPTS", f"The maximum of {MAX_ATTEMPTS} attempts was reached; request a new OTP."),
    "used": ("OTP_NOT_FOUND", "The OTP was already verified; a code is used once."),
    "superseded": ("OTP_NOT_FOUND", "A newer OTP for this number replaced this one."),
    "unknown": ("OTP_NOT_FOUND", "The OTP does not exist."),
}


def _rate_limited(retry_after: int) -> Response:
    response = error_response(
        ApiError(
            "OTP_RATE_LIMIT",
            "Too many OTPs for this number within the hour; try again later.",
            param="to",
            details={"retry_after": retry_after},
        )
    )
    response.headers["Retry-After"] = str(max(1, retry_after))
    return response


def _parse_length(value: Any) -> int:
    if value is None:
        return otp.DEFAULT_LENGTH
    if isinstance(value, int) and not isinstance(value, bool) and otp.MIN_LENGTH <= value <= otp.MAX_LENGTH:
        return value
    raise ApiError(
        "INVALID_PARAMETER",
        f"length must be an integer from {otp.MIN_LENGTH} to {otp.MAX_LENGTH}.",
        param="length",
    )


def _parse_expiry(value: Any) -> timedelta:
    if value is None:
        return timedelta(seconds=DEFAULT_EXPIRY_SECONDS)
    if isinstance(value, int) and not isinstance(value, bool) and MIN_EXPIRY_SECONDS <= value <= MAX_EXPIRY_SECONDS:
        return timedelta(seconds=value)
    raise ApiError(
        "INVALID_PARAMETER",
        f"expiry must be a number of seconds from {MIN_EXPIRY_SECONDS} to {MAX_EXPIRY_SECONDS}.",
        param="expiry",
    )


def _parse_template(value: Any, default: str) -> str:
    if value is None:
        return default
    if not isinstance(value, str) or not otp.has_placeholder(value):
        raise ApiError(
            "INVALID_PARAMETER",
            "template must be a string that says where the code goes with {{code}} (or {code}).",
            param="template",
        )
    return value


def _parse_purpose(value: Any) -> str:
    """'' when absent: OTPs without a purpose supersede each other."""
    if value is None:
        return ""
    if isinstance(value, str) and _PURPOSE.fullmatch(value):
        return value
    raise ApiError(
        "INVALID_PARAMETER",
        "purpose must be 1 to 40 letters, digits, '_', '.' or '-', e.g. 'login'.",
        param="purpose",
    )


def _parse_code(value: Any) -> str:
    if isinstance(value, str) and 0 < len(value.strip()) <= MAX_CODE_CHARS:
        return value.strip()
    raise ApiError(
        "INVALID_PARAMETER",
        f"code must be the code the user typed, as a string of at most {MAX_CODE_CHARS} characters.",
        param="code",
    )
