"""Webhook management: configure, list, test, delete, rotate the secret, read and replay the log.

A webhook belongs to the caller's client and key mode (a ``zs_test_`` key
manages the webhooks that receive its simulated messages' events). The secret
is shown when the webhook is configured and when it is rotated, never again.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Any

from flask import Blueprint, request

from relay_server.api.requests import json_body, request_body
from relay_server.api.tracking import list_filters
from relay_server.auth import current_caller
from relay_server.context import current
from relay_server.errors import ApiError
from relay_server.store import webhook_outbox as outbox
from relay_server.store import webhooks as store_webhooks
from relay_server.store.webhook_outbox import Attempt
from relay_server.store.webhooks import Webhook
from relay_server.webhooks import events as catalogue
from relay_server.webhooks import urls
from zimsend_common.timefmt import isoformat_z, utcnow

bp = Blueprint("webhooks", __name__, url_prefix="/v1")

SECRET_SHAPE = re.compile(r"[\x21-\x7e]{16,255}")
WEBHOOK_ID_SHAPE = re.compile(r"wh_[0-9a-f]{16}")
LOG_ID_SHAPE = re.compile(r"whlog_[0-9a-f]{16}")


@bp.post("/webhooks/configure")
def configure() -> tuple[dict[str, Any], int]:
    """A new webhook for the listed events; answers its secret (the one given, or a new one)."""
    body = json_body()
    settings = current().settings.relay
    try:
        url = urls.check_form(
            body.get("url"),
            allow_http=settings.webhook_allow_http,
            allow_private=settings.webhook_allow_private_hosts,
        )
    except urls.UrlRefused as exc:
        raise ApiError("INVALID_WEBHOOK_URL", str(exc), param="url") from None
    events = _events(body.get("events"))
    secret = _secret(body.get("secret"))
    caller = current_caller()
    webhook = store_webhooks.create(
        current().store.engine, caller.client_id, caller.is_test, url, events, secret, utcnow()
    )
    return {"success": True, **_render(webhook), "secret": webhook.secret}, 200


@bp.get("/webhooks")
def list_webhooks() -> tuple[dict[str, Any], int]:
    """The caller's webhooks, oldest first, without their secrets."""
    caller = current_caller()
    found = store_webhooks.list_for(current().store.engine, caller.client_id, caller.is_test)
    return {"success": True, "webhooks": [_render(webhook) for webhook in found], "total": len(found)}, 200


@bp.get("/webhooks/logs")
def logs() -> tuple[dict[str, Any], int]:
    """The caller's delivery attempts, newest first, one page of them."""
    filters = list_filters({name: request.args.get(name, "") for name in ("page", "limit")})
    webhook_id = request.args.get("webhook_id") or None
    if webhook_id is not None and not WEBHOOK_ID_SHAPE.fullmatch(webhook_id):
        raise ApiError("INVALID_PARAMETER", "The parameter webhook_id must be a webhook id.", param="webhook_id")
    caller = current_caller()
    page, limit = filters["page"], filters["limit"]
    found, total = outbox.attempts_page(
        current().store.engine, caller.client_id, caller.is_test, page, limit, webhook_id
    )
    return {
        "success": True,
        "logs": [_render_attempt(attempt) for attempt in found],
        "pagination": {
            "current_page": page,
            "per_page": limit,
            "total_pages": math.ceil(total / limit),
            "total_items": total,
        },
    }, 200


@bp.post("/webhooks/<webhook_id>/test")
def test(webhook_id: str) -> tuple[dict[str, Any], int]:
    """Queue a test event (``sms.delivered`` unless ``event`` says) for this webhook alone."""
    webhook = _callers_webhook(webhook_id)
    body = json_body() if request_body() else {}
    event = body.get("event", "sms.delivered")
    if event not in catalogue.EVENTS:
        raise ApiError("INVALID_PARAMETER", _events_rule("event"), param="event")
    event_id = outbox.record_test_event(current().store.engine, webhook, event, utcnow())
    return {
        "success": True,
        "webhook_id": webhook.webhook_id,
        "event": event,
        "event_id": event_id,
        "status": "queued",
    }, 202


@bp.delete("/webhooks/<webhook_id>")
def delete(webhook_id: str) -> tuple[str, int]:
    """Remove the webhook; what it had still to receive is dropped."""
    caller = current_caller()
    if not _is_webhook_id(webhook_id) or not store_webhooks.delete(
        current().store.engine, caller.client_id, caller.is_test, webhook_id
    ):
        raise _webhook_not_found()
    return "", 204


@bp.post("/webhooks/<webhook_id>/rotate-secret")
def rotate_secret(webhook_id: str) -> tuple[dict[str, Any], int]:
    """A new secret; the old one keeps signing beside it for ``webhook_secret_overlap_seconds``."""
    caller = current_caller()
    relay = current()
    overlap = timedelta(seconds=relay.settings.relay.webhook_secret_overlap_seconds)
    webhook = None
    if _is_webhook_id(webhook_id):
        webhook = store_webhooks.rotate_secret(
            relay.store.engine, caller.client_id, caller.is_test, webhook_id, utcnow(), overlap
        )
    if webhook is None:
        raise _webhook_not_found()
    return {
        "success": True,
        "webhook_id": webhook.webhook_id,
        "secret": webhook.secret,
        "previous_secret_expires_at": isoformat_z(webhook.previous_secret_until),
    }, 200


@bp.post("/webhooks/logs/<log_id>/retry")
def retry(log_id: str) -> tuple[dict[str, Any], int]:
    """Deliver the logged event again, with the same ``event_id`` and body."""
    caller = current_caller()
    event_id = None
    if LOG_ID_SHAPE.fullmatch(log_id):
        event_id = outbox.replay(current().store.engine, caller.client_id, caller.is_test, log_id, utcnow())
    if event_id is None:
        raise ApiError("WEBHOOK_LOG_NOT_FOUND", "The webhook log does not exist.", param="log_id")
    return {"success": True, "log_id": log_id, "event_id": event_id, "status": "queued"}, 202


def _callers_webhook(webhook_id: str) -> Webhook:
    caller = current_caller()
    webhook = None
    if _is_webhook_id(webhook_id):
        webhook = store_webhooks.get(current().store.engine, caller.client_id, caller.is_test, webhook_id)
    if webhook is None:
        raise _webhook_not_found()
    return webhook


def _is_webhook_id(value: str) -> bool:
    return bool(WEBHOOK_ID_SHAPE.fullmatch(value))


def _webhook_not_found() -> ApiError:
    return ApiError("WEBHOOK_NOT_FOUND", "The webhook does not exist.", param="webhook_id")


def _events(value: Any) -> tuple[str, ...]:
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(event, str) and event in catalogue.EVENTS for event in value)
    ):
        raise ApiError("INVALID_PARAMETER", _events_rule("events"), param="events")
    return tuple(dict.fromkeys(value))


def _events_rule(param: str) -> str:
    what = "a non-empty list of" if param == "events" else "one of"
    return f"The parameter {param} must be {what} {', '.join(catalogue.EVENTS)}."


def _secret(value: Any) -> str:
    if value is None:
        return store_webhooks.new_secret()
    if not isinstance(value, str) or not SECRET_SHAPE.fullmatch(value):
        raise ApiError(
            "INVALID_PARAMETER",
            "The parameter secret must be 16 to 255 printable ASCII characters without spaces.",
            param="secret",
        )
    return value


def _render(webhook: Webhook) -> dict[str, Any]:
    return {
        "webhook_id": webhook.webhook_id,
        "url": webhook.url,
        "events": list(webhook.events),
        "status": "active",
        "created_at": isoformat_z(webhook.created_at),
    }


def _render_attempt(attempt: Attempt) -> dict[str, Any]:
    return {
        "log_id": attempt.log_id,
        "webhook_id": attempt.webhook_id,
        "event": attempt.event,
        "event_id": attempt.event_id,
        "url": attempt.url,
        "response_status": attempt.response_status,
        "response_time_ms": attempt.response_time_ms,
        "success": attempt.success,
        "attempt": attempt.attempt,
        "error": attempt.error,
        "timestamp": isoformat_z(attempt.attempted_at),
    }
