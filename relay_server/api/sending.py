"""Sending: one SMS, one text to many, many texts, and resending a failed one.

Every route validates first, then stores all it accepts in one transaction
(with the answer kept for its ``Idempotency-Key``, see ``idempotency``), then
hands the stored messages to the dispatcher; nothing is stored when the
request as a whole is refused.

A number on the caller's list of blocked numbers is found by the store, in
that transaction: a send to it is refused with 403 ``BLOCKED_NUMBER``, and a
bulk's item to it is rejected while the others are stored. So is a send that
does not fit what the client's daily quota leaves of its day (``daily_quota``):
refused whole with 429 ``QUOTA_EXCEEDED``, a bulk too.

The relay's clock (``context.RelayContext.clock``) tells the time a send is
checked and stored at, and so the day it counts on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import Any, Unpack
from urllib.parse import quote

from flask import Blueprint, Response, after_this_request

from relay_server.api import context, daily_quota, idempotency
from relay_server.api.auth import current_caller, requested_device_id
from relay_server.api.body import json_body
from relay_server.api.errors import ApiError
from relay_server.api.models.errors import ErrorObject
from relay_server.api.models.messages import status_fields
from relay_server.api.models.sending import (
    DEFAULT_PRIORITY,
    BulkAccepted,
    BulkEntry,
    BulkItem,
    BulkOfMessages,
    BulkToRecipients,
    SendAccepted,
    SendContext,
    SendRequest,
    check_valid_until,
    parse_text,
    parse_to,
)
from relay_server.api.routes import respond, route
from relay_server.dispatch.dispatcher import DeviceOffline, NoDeviceAvailable
from relay_server.store import ids
from relay_server.store.daily_quota import QuotaExceeded
from relay_server.store.errors import NumbersBlocked
from relay_server.store.models import Caller, Message, NewMessage
from zimsend_common.segments import SplitText
from zimsend_common.timefmt import utcnow

bp = Blueprint("sending", __name__, url_prefix="/v1")
log = logging.getLogger(__name__)

SENDING = {"tag": "Sending", "status": 202, "device": True}
DEVICE_ERRORS = ("DEVICE_OFFLINE", "NO_DEVICE_AVAILABLE")
# A bulk's blocked number is rejected alone; past the daily quota the whole request is refused.
BULK_ERRORS = ("QUOTA_EXCEEDED", *DEVICE_ERRORS)
SEND_ERRORS = ("BLOCKED_NUMBER", *BULK_ERRORS)
BULK_ANSWER = "Queued; invalid items are listed as rejected with their error."


@dataclass(frozen=True)
class Options:
    """What a send request sets for all its messages."""

    priority: int = DEFAULT_PRIORITY
    metadata: dict[str, Any] | None = None
    webhook_url: str | None = None
    scheduled_at: datetime | None = None
    valid_until: datetime | None = None


@route(
    bp,
    "POST",
    "/sms/send",
    summary="Send an SMS",
    answers=SendAccepted,
    body=SendRequest,
    description="Queued; the message's status object.",
    errors=SEND_ERRORS,
    **SENDING,
    example={
        "to": "+33612345678",
        "message": "Bonjour, votre commande est en cours de livraison",
        "priority": 3,
        "metadata": {"order_id": "order_12345"},
    },
)
def send() -> Response:
    """Queue one SMS."""
    device_id = requested_device_id()
    return store_and_submit_one(one_message(json_body(), device_id))


@route(
    bp,
    "POST",
    "/sms/send-bulk",
    summary="Send one text to many numbers, or many texts",
    answers=BulkAccepted,
    body=(BulkToRecipients, BulkOfMessages),
    description=BULK_ANSWER,
    errors=BULK_ERRORS,
    **SENDING,
    example={"recipients": ["+33612345678", "+33698765432"], "message": "Promo -20% ce week-end", "priority": 5},
)
def send_bulk() -> Response:
    """Queue one text to many recipients, or many ``{to, message}`` items."""
    device_id = requested_device_id()
    body = json_body()
    if body.get("messages") is not None:  # null means absent, as for every optional field
        personal = BulkOfMessages.model_validate(body, context=send_context())
        return send_items(device_id, personal, personal.messages)
    # One text for all: a bad one refuses the request.
    request = BulkToRecipients.model_validate(body, context=send_context())
    return send_items(device_id, request, [{"to": to} for to in request.recipients], request.message)


@route(
    bp,
    "POST",
    "/sms/send-bulk-personalized",
    summary="Send a personal text to each number",
    answers=BulkAccepted,
    body=BulkOfMessages,
    description=BULK_ANSWER,
    errors=BULK_ERRORS,
    **SENDING,
    example={"messages": [{"to": "+33612345678", "message": "Bonjour Jean", "metadata": {"user_id": "u1"}}]},
)
def send_bulk_personalized() -> Response:
    """Queue many ``{to, message, metadata?}`` items."""
    device_id = requested_device_id()
    request = BulkOfMessages.model_validate(json_body(), context=send_context())
    return send_items(device_id, request, request.messages)


@route(
    bp,
    "POST",
    "/sms/<message_id>/resend",
    summary="Resend a failed SMS",
    answers=SendAccepted,
    description="Queued again as a new message pointing back with resent_from.",
    errors=("MESSAGE_NOT_FOUND", "CANNOT_RESEND_MESSAGE", *SEND_ERRORS),
    **SENDING,
)
def resend(message_id: str) -> Response:
    """Send a failed message again, as a new message pointing back to it."""
    device_id = requested_device_id()
    relay = context.current()
    original = relay.store.get_message(current_caller(), message_id)
    if original is None:
        raise ApiError("MESSAGE_NOT_FOUND", "The message does not exist.", param="message_id")
    if original.status == "failed" and message_id in relay.store.otp_messages([message_id]):
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
    device_id = choose_device(device_id, scheduled=options.scheduled_at is not None, to=[original.to])
    new = replace(
        new_message(original.to, parse_text(original.body, languages=_languages()), options, device_id),
        resent_from=original.message_id,
    )
    return store_and_submit_one(new)


def one_message(body: dict[str, Any], device_id: str | None) -> NewMessage:
    """The caller's one SMS that ``body`` (a send request) asks for, checked, with the device it leaves by.

    ApiError when the body is refused or no device can send it now.
    """
    request = SendRequest.model_validate(body, context=send_context())
    options = options_of(request)
    scheduled = options.scheduled_at is not None
    return new_message(
        request.to, request.message, options, choose_device(device_id, scheduled=scheduled, to=[request.to])
    )


def send_context(**more: Unpack[SendContext]) -> SendContext:
    """What the send rules read: the settings, the time now and the text's languages."""
    relay = context.current()
    return {"settings": relay.settings.relay, "now": relay.clock(), "languages": _languages(), **more}


def options_of(request: SendRequest | BulkToRecipients | BulkOfMessages) -> Options:
    """The request-wide options of a send body."""
    return Options(
        priority=request.priority,
        metadata=request.metadata,
        webhook_url=request.webhook_url,
        scheduled_at=request.scheduled_at,
        valid_until=request.valid_until,
    )


def store_and_submit_one(new: NewMessage) -> Response:
    """``store_and_submit`` of one message, answered 202 with its status object and
    ``estimated_delivery``.

    The estimate asks Redis, so it is made before the store's transaction: with an
    Idempotency-Key the answer is kept inside that transaction, where a round trip would
    hold up every other sender waiting for the writer's turn.
    """
    estimate = context.current().dispatcher.estimated_delivery(new)

    def accepted(stored: list[Message]) -> Response:
        [message] = stored
        return respond(SendAccepted(**status_fields(message), estimated_delivery=estimate), 202)

    return store_and_submit([new], accepted)


def send_items(
    device_id: str | None,
    request: BulkToRecipients | BulkOfMessages,
    items: list[Any],
    text: SplitText | None = None,
) -> Response:
    """Store and queue each valid item; ``text``, when given, is every item's text."""
    options = options_of(request)
    item_context = send_context(priority=options.priority, metadata=options.metadata)
    outcomes = [_item_message(item, options, text, item_context) for item in items]
    device_id = _batch_device(device_id, outcomes)
    batch_id = ids.new_batch_id()
    # Each message with its device and batch in place of the one without: both held until
    # the answer, a bulk's thousand messages were two thousand.
    outcomes = [
        replace(o, device_id=device_id, batch_id=batch_id) if isinstance(o, NewMessage) else o for o in outcomes
    ]
    while True:  # each turn rejects at least one more item, until the store takes the rest
        try:
            return _store_and_submit(
                [m for m in outcomes if isinstance(m, NewMessage)], partial(_batch_answer, batch_id, items, outcomes)
            )
        except NumbersBlocked as blocked:
            outcomes = [
                blocked_number(o.to) if isinstance(o, NewMessage) and o.to in blocked.numbers else o for o in outcomes
            ]


def _batch_device(device_id: str | None, outcomes: list[NewMessage | ApiError]) -> str | None:
    """The device a batch's messages (the ``outcomes`` that are messages) leave by: ``choose_device``
    for them all, ``device_id`` when there are none."""
    valid = [outcome for outcome in outcomes if isinstance(outcome, NewMessage)]
    if not valid:
        return device_id
    scheduled = all(message.scheduled_at for message in valid)
    return choose_device(device_id, scheduled=scheduled, to=[message.to for message in valid])


def _batch_answer(
    batch_id: str, items: list[Any], outcomes: list[NewMessage | ApiError], stored: list[Message]
) -> Response:
    """202 with each item's outcome: ``stored`` are the ``outcomes`` that are messages, in order."""
    answer = BulkAccepted(
        batch_id=batch_id,
        total_recipients=len(items),
        messages=_batch_entries(items, outcomes, stored),
        # The store sets queued_at when it inserts a message.
        queued_at=(stored[0].queued_at if stored else None) or utcnow(),
        total_queued=len(stored),
        total_rejected=len(items) - len(stored),
    )
    return respond(answer, 202)


def _batch_entries(items: list[Any], outcomes: list[NewMessage | ApiError], stored: list[Message]) -> list[BulkEntry]:
    """``{message_id, to, status}`` per item, in order; ``error`` for a rejected one."""
    queued = iter(stored)
    entries = []
    for item, outcome in zip(items, outcomes):
        if isinstance(outcome, ApiError):
            to = item.get("to") if isinstance(item, dict) else None
            error = ErrorObject(**outcome.to_dict())
            entries.append(BulkEntry(message_id=None, to=to, status="rejected", error=error))
        else:
            message = next(queued)
            # Just inserted, so queued (what the store inserts every message as).
            entries.append(BulkEntry(message_id=message.message_id, to=message.to, status="queued"))
    return entries


def _item_message(
    item: Any, options: Options, text: SplitText | None, item_context: SendContext
) -> NewMessage | ApiError:
    """One bulk item as a message to store, or why it is rejected (alone: the others go on)."""
    try:
        if not isinstance(item, dict):
            raise ApiError("INVALID_PARAMETER", "Each message must be a JSON object.", param="messages")
        if text is not None:
            return new_message(parse_to(item.get("to")), text, options, None)
        checked = BulkItem.model_validate(item, context=item_context)
        item_options = replace(
            options,
            priority=checked.priority,
            metadata=checked.metadata,
            scheduled_at=checked.scheduled_at or options.scheduled_at,
        )
        if checked.scheduled_at is not None and options.valid_until is not None:
            check_valid_until(options.valid_until, checked.scheduled_at)  # the request's, checked at its own time
        return new_message(checked.to, checked.message, item_options, None)
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


def choose_device(device_id: str | None, *, scheduled: bool, to: Collection[str] = ()) -> str | None:
    """The device to send through (None: any of the caller's, or the route of each number of
    ``to``); 503 when none can send now (a message to send later, ``scheduled``, may wait for
    one to come online)."""
    dispatcher = context.current().dispatcher
    try:
        return dispatcher.choose_device(current_caller(), device_id, scheduled=scheduled, to=to)
    except DeviceOffline:
        raise ApiError("DEVICE_OFFLINE", "The requested device is currently offline.") from None
    except NoDeviceAvailable:
        raise ApiError("NO_DEVICE_AVAILABLE", "No device is currently available to send this SMS.") from None


def blocked_number(number: str) -> ApiError:
    """The refusal of a send to ``number``, which is on the caller's list of blocked numbers."""
    return ApiError(
        "BLOCKED_NUMBER",
        f"The number {number} is on your list of blocked numbers (it replied STOP, or was added to it);"
        f" take it off the list (DELETE /v1/blocked-numbers/{quote(number, safe='')}) to send to it again.",
        param="to",
    )


def store_and_submit(messages: list[NewMessage], render: Callable[[list[Message]], Response]) -> Response:
    """Store the messages with their answer, ``render`` of them; then, once the view has
    returned and before its answer is sent, queue them.

    ApiError ``BLOCKED_NUMBER``, nothing stored, when a recipient is on the caller's list of blocked
    numbers, and ``QUOTA_EXCEEDED`` when the messages do not fit the caller's daily quota.
    """
    try:
        return _store_and_submit(messages, render)
    except NumbersBlocked as blocked:
        raise blocked_number(min(blocked.numbers)) from None


def _store_and_submit(messages: list[NewMessage], render: Callable[[list[Message]], Response]) -> Response:
    """``store_and_submit``, letting the store's NumbersBlocked through."""
    if not messages:
        return render([])
    relay = context.current()
    now = relay.clock()
    quota = daily_quota.limit_of(current_caller())
    # Routed before the insert, so that the route is stored with the message, in the same write.
    messages = relay.dispatcher.route(messages)
    try:
        stored, response = idempotency.store_answered(
            lambda answer: relay.store.insert_messages(messages, at=now, answer=answer, daily_quota=quota), render
        )
    except QuotaExceeded as exceeded:
        raise daily_quota.refused(exceeded, now) from None
    # Placed once the view has returned, before its answer is sent: a bulk's request, its
    # items and the messages made of them (a thousand of each) are let go by then, where they
    # stayed held under a chunk's jobs being made, the bulk's highest use of memory.
    after_this_request(partial(_submitted, stored))
    return response


def _submitted(stored: list[Message], answer: Response) -> Response:
    """``submit`` the stored messages; ``answer`` as it was (an after-request function)."""
    submit(stored)
    return answer


def submit(stored: list[Message]) -> None:
    """Hand stored messages to the dispatcher, which makes their send jobs of them as given
    (a shared one routed when stored on its route device's queue: ``dispatch.routes``)."""
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
