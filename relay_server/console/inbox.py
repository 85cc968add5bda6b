"""The inbox: the SMS the client's devices received, filtered as ``GET /v1/sms/inbox`` filters."""

from __future__ import annotations

from relay_server.api.inbox import inbox_answer
from relay_server.console.blueprint import bp
from relay_server.console.listing import PAGING, PERIOD, listing

FILTERS = ("from", "search", *PERIOD, "device_id", *PAGING)


@bp.get("/inbox")
def inbox() -> tuple[str, int]:
    """One page of received SMS, newest first."""
    return listing("inbox.html", FILTERS, inbox_answer, "data")
