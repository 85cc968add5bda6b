"""The inbox: ``GET /v1/sms/inbox`` and ``GET /v1/sms/inbox/:id``.

The SMS the caller's own devices received, newest first, filtered and paged
like history. They are live data: a ``zs_test_`` key sees none.
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, request

from relay_server.api.auth import current_caller
from relay_server.api.context import current
from relay_server.api.errors import ApiError
from relay_server.api.models.fields import INCOMING_ID
from relay_server.api.models.inbox import InboxPage, InboxParams, IncomingMessage, OneIncomingMessage
from relay_server.api.routes import respond, route
from relay_server.api.tracking import pagination
from relay_server.store import inbox

bp = Blueprint("inbox", __name__, url_prefix="/v1")

INCOMING_ID_SHAPE = re.compile(r"in_[0-9a-f]{16}")


@route(
    bp,
    "GET",
    "/sms/inbox",
    summary="List received SMS",
    tag="Inbox",
    status=200,
    answers=InboxPage,
    query=InboxParams,
    description="One page of the SMS the client's devices received, newest first.",
)
def list_inbox() -> Response:
    """One page of the caller's incoming SMS matching ``device_id``, ``from``,
    ``from_date``, ``to_date`` (on reception time) and ``search``."""
    return inbox_answer(request.args.to_dict())


def inbox_answer(args: dict[str, str]) -> Response:
    """The inbox answer for the query parameters ``args``, whoever asks (the API or the console)."""
    params = InboxParams.model_validate(args)
    query = inbox.InboxQuery(
        sender=params.sender,
        device_id=params.device_id,
        from_time=params.from_date,
        to_time=params.to_date,
        search=params.search,
        page=params.page,
        limit=params.limit,
    )
    caller = current_caller()
    found, total = ([], 0) if caller.is_test else current().store.inbox.page(caller.client_id, query)
    return respond(
        InboxPage(
            data=[IncomingMessage.model_validate(inbox.received_data(message)) for message in found],
            pagination=pagination(query.page, query.limit, total),
        )
    )


@route(
    bp,
    "GET",
    "/sms/inbox/<message_id>",
    summary="Get a received SMS",
    tag="Inbox",
    status=200,
    answers=OneIncomingMessage,
    description="The message.",
    errors=("MESSAGE_NOT_FOUND",),
    path_params={"message_id": INCOMING_ID},
)
def get_incoming(message_id: str) -> Response:
    """One incoming SMS of the caller's devices; any other id: 404 MESSAGE_NOT_FOUND."""
    caller = current_caller()
    found = None
    if INCOMING_ID_SHAPE.fullmatch(message_id) and not caller.is_test:
        found = current().store.inbox.get(caller.client_id, message_id)
    if found is None:
        raise ApiError("MESSAGE_NOT_FOUND", "The incoming message does not exist.", param="message_id")
    return respond(OneIncomingMessage.model_validate(inbox.received_data(found)))
