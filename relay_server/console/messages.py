"""Messages: the history with the API's filters, each message's timeline, cancel and resend.

Every read and every action is the API's own route function, run for the
signed-in caller: the page shows exactly what the API answers.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, make_response, redirect, render_template, request
from werkzeug.wrappers import Response

from relay_server.api import sending, tracking
from relay_server.api.errors import ApiError
from relay_server.console.blueprint import bp
from relay_server.console.i18n import translate
from relay_server.console.listing import PAGING, PERIOD, listing
from relay_server.console.return_to import back_to
from relay_server.store.models import STATUSES

FILTERS = ("status", "to", "search", *PERIOD, "device_id", *PAGING)


@bp.get("/messages")
def messages() -> tuple[str, int]:
    """One page of the history, filtered as the API filters (a bad filter says why on the page)."""
    return listing("messages.html", FILTERS, tracking.history, "data", statuses=STATUSES)


@bp.get("/messages/<message_id>")
def timeline(message_id: str) -> Response:
    """A message's timeline: queued → sent → delivered (or failed, cancelled), its device and error.

    The part htmx puts under the message's row in the listing; the address opened
    by the browser itself (a link kept, a new tab, the page asked for again once
    signed in) is a whole page around it.
    """
    part = request.headers.get("HX-Request") == "true"
    page = render_template("timeline.html" if part else "message.html", message=_status(message_id))
    response = make_response(page)
    response.vary.add("HX-Request")  # one address, two answers: a cache must tell them apart
    return response


@bp.post("/messages/<message_id>/cancel")
def cancel(message_id: str) -> Response:
    """Cancel a queued or scheduled message, as ``DELETE /v1/sms/:id`` does."""
    return _act(lambda: tracking.cancel(message_id), "Message cancelled.")


@bp.post("/messages/<message_id>/resend")
def resend(message_id: str) -> Response:
    """Send a failed message again, as ``POST /v1/sms/:id/resend`` does."""
    return _act(lambda: sending.resend(message_id), "Message queued again as {message_id}.")


def _act(action: Any, done: str) -> Response:
    try:
        answer = action().get_json()
    except ApiError as error:
        flash(f"{error.code}: {error.message}", "error")
    else:
        flash(translate(done, message_id=answer["message_id"]), "info")
    return redirect(back_to(request.form.get("next", ""), "console.messages"))


def _status(message_id: str) -> dict[str, Any]:
    try:
        return tracking.get_status(message_id).get_json()
    except ApiError:
        abort(404)
