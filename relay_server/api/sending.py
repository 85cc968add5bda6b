"""Sending: one SMS, one text to many, many texts, and resending a failed one.

Every route validates first, then stores all it accepts in one transaction
(with the answer kept for its ``Idempotency-Key``, see ``idempotency``), then
hands the stored messages to the dispatcher; nothing is stored when the
request as a whole is refused.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from flask import Blueprint, Response, current_app

from relay_server import context, idempotency
from relay_server.api.render import status_object
from relay_server.api.requests import (
    Options,
    json_body,
    parse_metadata,
    parse_options,
    parse_priority,
    parse_text,
    parse_to,
)
from relay_server.auth import current_caller, requested_device_id
from relay_server.dispatcher import DeviceOffline, NoDeviceAvailable
from relay_server.errors import ApiError
from relay_server.store import ids
from relay_server.store.models import Caller, Message, NewMessage
from zimsend_common.segments import SplitText
from zimsend_common.timefmt import isoformat_z, utcnow

bp = Blueprint("sending", __name__, url_prefix="/v1")
log = logging.getLogger(__name__)

MAX_BULK_MESSAGES = 1000


@bp.post("/sms/send")
def send() -> Response:
    """Queue one SMS."""
    device_id = requested_device_id()
    body = json_body()
    to = parse_to(body.get("to"))
    text = parse_text(body.get("message"), languages=_languages())
    options = parse_options(body, context.current().settings.relay, utcnow())
    device_id = choose_device(device_id, options)
    return _store_and_submit([new_message(to, text, options, device_id)], _accepted_one)


@bp.post("/sms/send-bulk")
def send_bulk() -> Response:
    """Queue one text to many recipients, or many ``{to, message}`` items."""
    device_id = requested_device_id()
    body = json_body()
    if body.get("messages") is not None:  # null means absent, as for every optional field
        return _send_items(device_id, body)
    recipients = _bulk_list(body, "recipients")
    text = parse_text(body.get("message"), languages=_languages())  # one text for all: a bad one refuses the request
    return _send_items(device_id, body, [{"to": to} for to in recipients], text)


@bp.post("/sms/send-bulk-personalized")
def send_bulk_personalized() -> Response:
    """Queue many ``{to, message, metadata?}`` items."""
    device_id = requested_device_id()
    return _send_items(device_id, json_body())


@bp.post("/sms/<message_id>/resend")
def resend(message_id: str) -> Response:
    """Send a failed message again, as a new message pointing back to it."""
    device_id = requested_device_id()
    relay = context.current()
    original = relay.store.get_message(current_caller(), message_id)
    if original is None:
        raise ApiError("MESSAGE_NOT_FOUND", "The message does not exist.", param="message_id")
    if original.status == "failed" and relay.store.is_otp_message(message_id):
        raise ApiError(
            "CANNOT_RESEND_MESSAGE",
            "A one-time password is not resent: its code is not kept. Ask for a new one with /v1/sms/send-otp.",
        )
    if original.status != "failed":
        raise ApiError(
            "CANNOT_RESEND_MESSAGE",
            f"Only a failed message can be resent; this one is {original.status}.",
            details={"status": original.status},
        )
    now = utcnow()
    valid_until = original.valid_until if original.valid_until and original.valid_until > now else None
    options = Options(
        priority=original.priority,
        metadata=original.metadata,
        webhook_url=original.webhook_url,
        valid_until=valid_until,
    )
    device_id = choose_device(device_id, options)
    new = replace(
        new_message(original.to, parse_text(original.body, languages=_languages()), options, device_id),
        resent_from=original.message_id,
    )
    return _store_and_submit([new], _accepted_one)


def accepted(message: Message) -> dict[str, Any]:
    """The 202 answer for a queued message: the status object and ``estimated_delivery``."""
    answer = status_object(message)
    estimate = context.current().dispatcher.estimated_delivery(message)
    answer["estimated_delivery"] = isoformat_z(estimate)
    return answer


def _accepted_one(stored: list[Message]) -> Response:
    [message] = stored
    return _answer(accepted(message))


def _answer(document: dict[str, Any]) -> Response:
    """A 202 carrying ``document``."""
    response = current_app.json.response(document)
    response.status_code = 202
    return response


def _send_items(
    device_id: str | None,
    body: dict[str, Any],
    items: list[Any] | None = None,
    text: SplitText | None = None,
) -> Response:
    """Store and queue each valid item; ``text``, when given, is every item's text."""
    if items is None:
        items = _bulk_list(body, "messages")
    options = parse_options(body, context.current().settings.relay, utcnow())
    outcomes = [_item_message(item, options, text) for item in items]
    valid = [outcome for outcome in outcomes if isinstance(outcome, NewMessage)]
    if valid:
        device_id = choose_device(device_id, options)
    batch_id = ids.new_batch_id()

    def batch_answer(stored: list[Message]) -> Response:
        return _answer(
            {
                "success": True,
                "batch_id": batch_id,
                "total_recipients": len(items),
                "messages": _batch_entries(items, outcomes, stored),
                "queued_at": isoformat_z(stored[0].queued_at if stored else utcnow()),
                "total_queued": len(stored),
                "total_rejected": len(items) - len(stored),
            }
        )

    return _store_and_submit(
        [replace(m, device_id=device_id, batch_id=batch_id) for m in valid], batch_answer
    )


def _batch_entries(
    items: list[Any], outcomes: list[NewMessage | ApiError], stored: list[Message]
) -> list[dict[str, Any]]:
    """``{message_id, to, status}`` per item, in order; ``error`` for a rejected one."""
    queued = iter(stored)
    entries = []
    for item, outcome in zip(items, outcomes):
        if isinstance(outcome, ApiError):
            to = item.get("to") if isinstance(item, dict) else None
            entries.append({"message_id": None, "to": to, "status": "rejected", "error": outcome.to_dict()})
        else:
            message = next(queued)
            entries.append({"message_id": message.message_id, "to": message.to, "status": message.status})
    return entries


def _bulk_list(body: dict[str, Any], param: str) -> list[Any]:
    items = body.get(param)
    if not isinstance(items, list) or not items:
        raise ApiError("INVALID_PARAMETER", f"{param} must be a non-empty array.", param=param)
    if len(items) > MAX_BULK_MESSAGES:
        raise ApiError(
            "TOO_MANY_RECIPIENTS",
            f"At most {MAX_BULK_MESSAGES} messages per request; split larger sends.",
            param=param,
        )
    return items


def _item_message(item: Any, options: Options, text: SplitText | None) -> NewMessage | ApiError:
    """One bulk item as a message to store, or why it is rejected."""
    try:
        if not isinstance(item, dict):
            raise ApiError("INVALID_PARAMETER", "Each message must be a JSON object.", param="messages")
        to = parse_to(item.get("to"))
        if text is None:
            text = parse_text(item.get("message"), languages=_languages())
        item_options = replace(
            options,
            priority=parse_priority(item.get("priority"), options.priority),
            metadata=parse_metadata(item.get("metadata"), options.metadata),
        )
        return new_message(to, text, item_options, None)
    except ApiError as error:
        return error


def new_message(to: str, text: SplitText, options: Options, device_id: str | None) -> NewMessage:
    """The caller's message of ``text`` to ``to``, to store as queued."""
    caller: Caller = current_caller()
    return NewMessage(
        client_id=caller.client_id,
        is_test=caller.is_test,
        to=to,
        body="".join(text.parts),
        priority=options.priority,
        segments=text.count,
        encoding=text.label,
        metadata=options.metadata,
        webhook_url=options.webhook_url,
        scheduled_at=options.scheduled_at,
        valid_until=options.valid_until,
        device_id=device_id,
    )


def choose_device(device_id: str | None, options: Options) -> str | None:
    """The device to send through (None: any of the caller's); 503 when none can send now."""
    dispatcher = context.current().dispatcher
    try:
        return dispatcher.choose_device(
            current_caller(), device_id, scheduled=options.scheduled_at is not None
        )
    except DeviceOffline:
        raise ApiError("DEVICE_OFFLINE", "The requested device is currently offline.") from None
    except NoDeviceAvailable:
        raise ApiError(
            "NO_DEVICE_AVAILABLE", "No device is currently available to send this SMS."
        ) from None


def _store_and_submit(
    messages: list[NewMessage], render: Callable[[list[Message]], Response]
) -> Response:
    """Store the messages with their answer, ``render`` of them; then queue them."""
    if not messages:
        return render([])
    store = context.current().store
    stored, response = idempotency.store_answered(lambda answer: store.insert_messages(messages, answer=answer), render)
    submit(stored)
    return response


def submit(stored: list[Message]) -> None:
    """Hand stored messages to the dispatcher, which makes their send jobs of them as given."""
    log.info(
        "messages accepted",
        extra={
            "client_id": stored[0].client_id,
            "count": len(stored),
            "message_id": stored[0].message_id,
            "batch_id": stored[0].batch_id,
        },
    )
    context.current().dispatcher.submit(stored)


def _languages() -> tuple[str, ...]:
    """The national language tables texts may be sent with (``sms_languages``)."""
    return context.current().settings.sms.sms_languages
