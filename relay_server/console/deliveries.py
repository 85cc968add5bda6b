"""Webhook deliveries: every attempt with its status and latency, and "retry now"."""

from __future__ import annotations

from flask import flash, redirect, url_for
from werkzeug.wrappers import Response

from relay_server.api import webhooks
from relay_server.api.errors import ApiError
from relay_server.console.blueprint import bp
from relay_server.console.i18n import translate
from relay_server.console.listing import listing


@bp.get("/webhooks")
def deliveries() -> tuple[str, int]:
    """The client's webhooks and one page of their delivery attempts, newest first."""
    hooks = webhooks.list_webhooks().get_json()["webhooks"]
    return listing("webhooks.html", ("page",), webhooks.logs_answer, "logs", webhooks=hooks)


@bp.post("/webhooks/logs/<log_id>/retry")
def retry(log_id: str) -> Response:
    """Deliver the attempt's event again now, as ``POST /v1/webhooks/logs/:id/retry`` does."""
    try:
        webhooks.retry(log_id)
    except ApiError as error:
        flash(f"{error.code}: {error.message}", "error")
    else:
        flash(translate("Delivery queued again."), "info")
    return redirect(url_for("console.deliveries"))
