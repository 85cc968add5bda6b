"""The inbox: the SMS the client's devices received, filtered as ``GET /v1/sms/inbox`` filters."""

from __future__ import annotations

from flask import render_template, request

from relay_server.api.inbox import inbox_answer
from relay_server.console.blueprint import bp
from relay_server.errors import ApiError

FILTERS = ("from", "search", "device_id", "from_date", "to_date", "page")


@bp.get("/inbox")
def inbox() -> tuple[str, int]:
    """One page of received SMS, newest first."""
    filters = {name: request.args[name].strip() for name in FILTERS if request.args.get(name, "").strip()}
    try:
        answer = inbox_answer(filters).get_json()
    except ApiError as error:
        return render_template("inbox.html", filters=filters, error=error, data=[], pagination=None), error.status
    return render_template(
        "inbox.html", filters=filters, error=None, data=answer["data"], pagination=answer["pagination"]
    ), 200
