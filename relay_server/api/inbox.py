"""The inbox: ``GET /v1/sms/inbox`` and ``GET /v1/sms/inbox/:id``.

The SMS the caller's own devices received, newest first, filtered and paged
like history. They are live data: a ``zs_test_`` key sees none.
"""

from __future__ import annotations

import math
import re
from typing import Any

from flask import Blueprint, request

from relay_server.api.tracking import list_filters, phone_filter
from relay_server.auth import current_caller
from relay_server.context import current
from relay_server.errors import ApiError
from relay_server.store import inbox

bp = Blueprint("inbox", __name__, url_prefix="/v1")

INCOMING_ID_SHAPE = re.compile(r"in_[0-9a-f]{16}")
MAX_SENDER_LENGTH = 32


@bp.get("/sms/inbox")
def list_inbox() -> tuple[dict[str, Any], int]:
    """One page of the caller's incoming SMS matching ``device_id``, ``from``,
    ``from_date``, ``to_date`` (on reception time) and ``search``."""
    query = inbox.InboxQuery(sender=_sender(), **list_filters(request.args))
    caller = current_caller()
    found, total = ([], 0) if caller.is_test else inbox.page(current().store.engine, caller.client_id, query)
    return {
        "success": True,
        "data": [inbox.received_data(message) for message in found],
        "pagination": {
            "current_page": query.page,
            "per_page": query.limit,
            "total_pages": math.ceil(total / query.limit),
            "total_items": total,
        },
    }, 200


def _sender() -> str | None:
    """``from`` as a phone number normalized like history's ``to``, or a sender name as given."""
    try:
        return phone_filter(request.args, "from")
    except ApiError:
        raw = request.args.get("from", "").strip()
        if 0 < len(raw) <= MAX_SENDER_LENGTH and raw.isprintable():
            return raw  # an alphanumeric sender such as a network's name
        raise


@bp.get("/sms/inbox/<message_id>")
def get_incoming(message_id: str) -> tuple[dict[str, Any], int]:
    """One incoming SMS of the caller's devices; any other id: 404 MESSAGE_NOT_FOUND."""
    caller = current_caller()
    found = None
    if INCOMING_ID_SHAPE.fullmatch(message_id) and not caller.is_test:
        found = inbox.get(current().store.engine, caller.client_id, message_id)
    if found is None:
        raise ApiError("MESSAGE_NOT_FOUND", "The incoming message does not exist.", param="message_id")
    return {"success": True, **inbox.received_data(found)}, 200
