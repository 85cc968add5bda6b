"""One-time passwords: send a code by SMS, then verify what the user typed.

The SMS is an ordinary message at priority 1 (status, history, webhooks,
X-Device-ID and Idempotency-Key as for ``/v1/sms/send``), with one
difference: the store keeps its text with the code masked, while the send
job handed to the dispatcher carries the real text. Nothing else ever holds
the code: the store keeps only its keyed MAC (see ``relay_server.api.otp_codes``),
and no answer or log line contains it.

If Redis loses the send job before a device takes it, the worker's recovery
cannot rebuild it from the masked text: it fails the message instead of
sending a masked code (see ``relay_server.worker.recovery``), and the client
asks for a new OTP.
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace

from flask import Blueprint, Response

from relay_server.api import context, daily_quota, idempotency, tracking
from relay_server.api import otp_codes as otp
from relay_server.api.auth import current_caller, requested_device_id
from relay_server.api.body import json_body
from relay_server.api.errors import ApiError, error_response
from relay_server.api.models.otp import (
    OtpVerified,
    OtpWrongCode,
    SendOtpAccepted,
    SendOtpRequest,
    VerifyOtpRequest,
)
from relay_server.api.models.sending import parse_text
from relay_server.api.routes import respond, route
from relay_server.api.sending import Options, blocked_number, choose_device, new_message, send_context, submit
from relay_server.dispatch.dispatcher import CancelUndecided
from relay_server.store import ids
from relay_server.store.daily_quota import QuotaExceeded
from relay_server.store.errors import NumbersBlocked
from relay_server.store.models import Message
from relay_server.store.otp import MAX_ATTEMPTS, NewOtp, OtpRateLimited, Verification

bp = Blueprint("otp", __name__, url_prefix="/v1")
log = logging.getLogger(__name__)

OTP_PRIORITY = 1


@route(
    bp,
    "POST",
    "/sms/send-otp",
    summary="Send a one-time password",
    tag="OTP",
    status=202,
    answers=SendOtpAccepted,
    body=SendOtpRequest,
    device=True,
    description="The SMS is queued at priority 1; the code is never in an answer.",
    errors=(
        "MESSAGE_TOO_LONG",
        "OTP_RATE_LIMIT",
        "QUOTA_EXCEEDED",
        "BLOCKED_NUMBER",
        "DEVICE_OFFLINE",
        "NO_DEVICE_AVAILABLE",
    ),
    example={
        "to": "+33612345678",
        "length": 6,
        "expiry": 300,
        "template": "Votre code MonApp : {{code}}. Valide 5 minutes.",
    },
)
def send_otp() -> Response:
    """Make a code, queue the SMS that carries it, and answer with the OTP's id."""
    device_id = requested_device_id()
    request = SendOtpRequest.model_validate(json_body(), context=send_context())
    relay = context.current()
    settings = relay.settings.relay
    now = relay.clock()
    expires_at = now + request.expiry
    options = Options(
        priority=OTP_PRIORITY,
        metadata=request.metadata,
        webhook_url=request.webhook_url,
        valid_until=expires_at,  # a code that reaches the phone expired is of no use
    )
    code = otp.new_code(request.length)
    text = parse_text(otp.render(request.template, code), param="template")
    device_id = choose_device(device_id, scheduled=options.scheduled_at is not None)
    caller = current_caller()
    otp_id = ids.new_otp_id()
    outgoing = new_message(request.to, text, options, device_id)
    new_otp = NewOtp(
        otp_id=otp_id,
        client_id=caller.client_id,
        is_test=caller.is_test,
        to=request.to,
        purpose=request.purpose,
        code_mac=otp.code_mac(otp.otp_key(settings), otp_id, code),
        created_at=now,
        expires_at=expires_at,
    )
    masked = replace(outgoing, body=otp.masked(request.template, request.length))

    def render(stored: list[Message]) -> Response:
        [message] = stored
        answer = SendOtpAccepted(
            # Just inserted, so queued (what the store inserts every message as).
            otp_id=otp_id,
            to=message.to,
            expires_at=expires_at,
            message_id=message.message_id,
            status="queued",
        )
        return respond(answer, 202)

    try:
        [stored], response = idempotency.store_answered(
            lambda answer: [
                relay.store.create_otp(new_otp, masked, answer=answer, daily_quota=daily_quota.limit_of(caller))
            ],
            render,
        )
    except OtpRateLimited as limited:
        return _rate_limited(math.ceil((limited.retry_at - now).total_seconds()))
    except QuotaExceeded as exceeded:
        raise daily_quota.refused(exceeded, now) from None
    except NumbersBlocked:
        raise blocked_number(request.to) from None
    log.info("otp created", extra={"otp_id": otp_id, "message_id": stored.message_id})
    # Never routed: only its job holds the code, so one left on a route device that stopped could
    # not be moved from the store's masked text (``worker.rerouted``); the shared queue's devices all take it.
    submit([replace(stored, body=outgoing.body)])
    _withdraw_replaced(new_otp)
    return response


def _withdraw_replaced(new_otp: NewOtp) -> None:
    """Cancel the SMS of each OTP ``new_otp`` replaced that no device has taken yet.

    Its code no longer verifies: sent, it would cost an SMS and could reach the
    phone after the new code, to be typed and refused. A device that holds one
    already sends it (the claim decides, as for any cancel). The new OTP is
    stored and queued by now, so nothing here may fail the request: a cancel
    that cannot be made is only logged.
    """
    relay = context.current()
    try:
        for message in relay.store.replaced_otp_sms(new_otp):
            if tracking.withdraw(message) is not None:
                log.info("replaced otp's sms cancelled", extra={"message_id": message.message_id})
    except CancelUndecided:
        log.warning("replaced otp's sms left queued: its cancel cannot be decided now")
    except Exception:
        log.exception("replaced otp's sms left queued")


@route(
    bp,
    "POST",
    "/sms/verify-otp",
    summary="Verify a one-time password",
    tag="OTP",
    status=200,
    answers=(OtpVerified, OtpWrongCode),
    body=VerifyOtpRequest,
    description="valid: true once (the OTP is then used), or valid: false with the attempts left.",
    errors=("OTP_EXPIRED", "OTP_NOT_FOUND", "OTP_MAX_ATTEMPTS"),
    example={"otp_id": "otp_1234567890abcdef", "code": "123456"},
)
def verify_otp() -> Response:
    """Check a code: 200 with ``valid`` true or false, or the OTP's error."""
    request = VerifyOtpRequest.model_validate(json_body())
    relay = context.current()
    mac = otp.code_mac(otp.otp_key(relay.settings.relay), request.otp_id, request.code)
    result = relay.store.verify_otp(current_caller(), request.otp_id, mac, relay.clock())
    # An id of the wrong shape is whatever the client sent: not worth a log line's room.
    shown_id = request.otp_id if ids.is_otp_id(request.otp_id) else None
    log.info("otp verification", extra={"otp_id": shown_id, "outcome": result.outcome})
    return respond(_verification_answer(result))


def _verification_answer(result: Verification) -> OtpVerified | OtpWrongCode:
    if result.outcome == "verified":
        # A verified OTP has its verified_at (the store's type allows None): pydantic checks it.
        return OtpVerified.model_validate(
            {"message": "The code is correct; the OTP is now used.", "verified_at": result.verified_at}
        )
    if result.outcome == "wrong":
        return OtpWrongCode(message="The code is incorrect.", attempts_remaining=result.attempts_remaining)
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
