"""Webhook deliveries: every attempt with its status and latency, the last attempt of a delivery
given up marked so, and "retry now"."""

from __future__ import annotations

from flask import flash, redirect, request
from werkzeug.wrappers import Response

from relay_server.api import webhooks
from relay_server.api.errors import ApiError
from relay_server.console.blueprint import bp
from relay_server.console.i18n import translate
from relay_server.console.listing import PAGING, listing
from relay_server.console.return_to import back_to

# The filters of ``GET /v1/webhooks/logs``: one webhook's attempts, and the page.
FILTERS = ("webhook_id", *PAGING)


@bp.get("/webhooks")
def deliveries() -> tuple[str, int]:
    """The client's webhooks and one page of their delivery attempts (of one webhook's, when
    ``webhook_id`` says so), newest first."""
    hooks = webhooks.list_webhooks().get_json()["webhooks"]
    return listing("webhooks.html", FILTERS, webhooks.logs_answer, "logs", webhooks=hooks)


@bp.post("/webhooks/logs/<log_id>/retry")
def retry(log_id: str) -> Response:
    """Deliver the attempt's event again now, as ``POST /v1/webhooks/logs/:id/retry`` does, and go
    back to the page of the log it was asked from, its filters kept (the form's ``next``)."""
    try:
        webhooks.retry(log_id)
    except ApiError as error:
        flash(f"{error.code}: {error.message}", "error")
    else:
        flash(translate("Delivery queued again."), "info")
    return redirect(back_to(request.form.get("next", ""), "console.deliveries"))
