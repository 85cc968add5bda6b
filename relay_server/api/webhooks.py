"""Webhook management: configure, list, test, delete, rotate the secret, read and replay the log.

A webhook belongs to the caller's client and key mode (a ``zs_test_`` key
manages the webhooks that receive its simulated messages' events). The secret
is shown when the webhook is configured and when it is rotated, never again.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, request

from relay_server.api.auth import current_caller
from relay_server.api.body import json_body, request_body
from relay_server.api.context import current
from relay_server.api.errors import ApiError
from relay_server.api.models.fields import LOG_ID, WEBHOOK_ID
from relay_server.api.models.webhooks import (
    LogsParams,
    WebhookConfigure,
    WebhookConfigured,
    WebhookList,
    WebhookLog,
    WebhookLogPage,
    WebhookRetryQueued,
    WebhookSecretRotated,
    WebhookTest,
    WebhookTestSent,
)
from relay_server.api.models.webhooks import Webhook as WebhookAnswer
from relay_server.api.routes import respond, route
from relay_server.api.tracking import pagination
from relay_server.store.webhook_outbox import Attempt
from relay_server.store.webhooks import Webhook
from relay_server.webhooks.trial import send_test_event
from zimsend_common.timefmt import utcnow

bp = Blueprint("webhooks", __name__, url_prefix="/v1")

WEBHOOK_ID_SHAPE = re.compile(r"wh_[0-9a-f]{16}")
LOG_ID_SHAPE = re.compile(r"whlog_[0-9a-f]{16}")
WEBHOOKS = {"tag": "Webhooks"}
ONE_WEBHOOK = {"path_params": {"webhook_id": WEBHOOK_ID}, "errors": ("WEBHOOK_NOT_FOUND",)}


@route(
    bp,
    "POST",
    "/webhooks/configure",
    summary="Configure a webhook",
    status=200,
    answers=WebhookConfigured,
    body=WebhookConfigure,
    description="The webhook, with its secret shown this once.",
    **WEBHOOKS,
    example={"url": "https://example.com/webhooks/zimsend", "events": ["sms.delivered", "sms.failed"]},
)
def configure() -> Response:
    """A new webhook for the listed events; answers its secret (the one given, or a new one)."""
    body = WebhookConfigure.model_validate(json_body(), context={"settings": current().settings.relay})
    caller = current_caller()
    webhook = current().store.webhooks.create(
        caller.client_id, caller.is_test, body.url, body.events, body.secret, utcnow()
    )
    return respond(WebhookConfigured(**_fields(webhook), secret=webhook.secret))


@route(
    bp,
    "GET",
    "/webhooks",
    summary="List the webhooks",
    status=200,
    answers=WebhookList,
    description="The client's webhooks.",
    **WEBHOOKS,
)
def list_webhooks() -> Response:
    """The caller's webhooks, oldest first, without their secrets."""
    caller = current_caller()
    found = current().store.webhooks.list_for(caller.client_id, caller.is_test)
    return respond(WebhookList(webhooks=[WebhookAnswer(**_fields(webhook)) for webhook in found], total=len(found)))


@route(
    bp,
    "GET",
    "/webhooks/logs",
    summary="List webhook delivery attempts",
    status=200,
    answers=WebhookLogPage,
    query=LogsParams,
    description="Attempts, newest first.",
    **WEBHOOKS,
)
def logs() -> Response:
    """The caller's delivery attempts, newest first, one page of them."""
    return logs_answer(request.args.to_dict())


def logs_answer(args: dict[str, str]) -> Response:
    """The webhook logs answer for the query parameters ``args``, whoever asks (the API or the console)."""
    params = LogsParams.model_validate(args)
    caller = current_caller()
    found, total = current().store.webhook_outbox.attempts_page(
        caller.client_id, caller.is_test, params.page, params.limit, params.webhook_id
    )
    return respond(
        WebhookLogPage(
            logs=[_log(attempt) for attempt in found], pagination=pagination(params.page, params.limit, total)
        )
    )


@route(
    bp,
    "POST",
    "/webhooks/<webhook_id>/test",
    summary="Send a test event",
    status=200,
    answers=WebhookTestSent,
    body=WebhookTest,
    body_required=False,
    description=(
        "One attempt, made now: response_status is the receiver's answer (null when none came within"
        " the webhook timeout), and the attempt is in the logs. A failed test is not retried."
    ),
    **WEBHOOKS,
    **ONE_WEBHOOK,
)
def test(webhook_id: str) -> Response:
    """Post a test event (``sms.delivered`` unless ``event`` says) to this webhook alone, once,
    and answer what the receiver said.

    The answer is 200 with ``success: true`` whenever the test was made, as the
    vendor documents it (``{message, response_status}``): ``success`` says
    whether the request was done, as in every answer. A receiver that failed
    is what the test found, not an error of the request: the vendor's guide
    offers its test tool to find out why webhooks do not arrive, so the
    failure is the answer to read. ``message`` is the vendor's "Test webhook
    sent successfully" when the receiver took the event (a 2xx within the
    timeout) and "Test webhook failed" otherwise, with the reason in
    ``error``. The attempt is logged like any other.
    """
    webhook = _callers_webhook(webhook_id)
    body = WebhookTest.model_validate(json_body() if request_body() else {})
    relay = current()
    trial = send_test_event(relay.store, relay.settings.relay, webhook, body.event)
    if trial is None:
        raise _webhook_not_found()
    outcome = trial.outcome
    return respond(
        WebhookTestSent(
            message="Test webhook sent successfully" if outcome.success else "Test webhook failed",
            response_status=outcome.status,
            error=outcome.error,
            webhook_id=webhook.webhook_id,
            event=body.event,
            event_id=trial.delivery.event_id,
            log_id=trial.log_id,
        )
    )


@route(
    bp,
    "DELETE",
    "/webhooks/<webhook_id>",
    summary="Delete a webhook",
    status=204,
    answers=(),
    description="Deleted.",
    **WEBHOOKS,
    **ONE_WEBHOOK,
)
def delete(webhook_id: str) -> tuple[str, int]:
    """Remove the webhook; what it had still to receive is dropped."""
    caller = current_caller()
    if not _is_webhook_id(webhook_id) or not current().store.webhooks.delete(
        caller.client_id, caller.is_test, webhook_id
    ):
        raise _webhook_not_found()
    return "", 204


@route(
    bp,
    "POST",
    "/webhooks/<webhook_id>/rotate-secret",
    summary="Rotate a webhook's secret",
    status=200,
    answers=WebhookSecretRotated,
    description="The new secret; the old one keeps signing beside it for 24 h.",
    **WEBHOOKS,
    **ONE_WEBHOOK,
)
def rotate_secret(webhook_id: str) -> Response:
    """A new secret; the old one keeps signing beside it for ``webhook_secret_overlap_seconds``."""
    caller = current_caller()
    relay = current()
    overlap = timedelta(seconds=relay.settings.relay.webhook_secret_overlap_seconds)
    webhook = None
    if _is_webhook_id(webhook_id):
        webhook = relay.store.webhooks.rotate_secret(caller.client_id, caller.is_test, webhook_id, utcnow(), overlap)
    if webhook is None:
        raise _webhook_not_found()
    return respond(
        WebhookSecretRotated(
            webhook_id=webhook.webhook_id,
            secret=webhook.secret,
            previous_secret_expires_at=webhook.previous_secret_until,
        )
    )


@route(
    bp,
    "POST",
    "/webhooks/logs/<log_id>/retry",
    summary="Deliver a logged event again",
    status=202,
    answers=WebhookRetryQueued,
    description=(
        "Queued again with the same event_id and body, for one attempt made now: a delivery that was"
        " delivered or given up is attempted once, and given up again if that attempt fails (never put"
        " back on the retry schedule); one whose webhook was deleted is logged failed with no request"
        " made. A delivery still on its schedule keeps it."
    ),
    errors=("WEBHOOK_LOG_NOT_FOUND",),
    path_params={"log_id": LOG_ID},
    **WEBHOOKS,
)
def retry(log_id: str) -> Response:
    """Deliver the logged event again, with the same ``event_id`` and body."""
    caller = current_caller()
    event_id = None
    if LOG_ID_SHAPE.fullmatch(log_id):
        event_id = current().store.webhook_outbox.replay(caller.client_id, caller.is_test, log_id, utcnow())
    if event_id is None:
        raise ApiError("WEBHOOK_LOG_NOT_FOUND", "The webhook log does not exist.", param="log_id")
    return respond(WebhookRetryQueued(log_id=log_id, event_id=event_id, status="queued"), 202)


def _callers_webhook(webhook_id: str) -> Webhook:
    caller = current_caller()
    webhook = None
    if _is_webhook_id(webhook_id):
        webhook = current().store.webhooks.get(caller.client_id, caller.is_test, webhook_id)
    if webhook is None:
        raise _webhook_not_found()
    return webhook


def _is_webhook_id(value: str) -> bool:
    return bool(WEBHOOK_ID_SHAPE.fullmatch(value))


def _webhook_not_found() -> ApiError:
    return ApiError("WEBHOOK_NOT_FOUND", "The webhook does not exist.", param="webhook_id")


def _fields(webhook: Webhook) -> dict[str, Any]:
    # The store's events are text: pydantic checks each is one of the catalogue's.
    return {
        "webhook_id": webhook.webhook_id,
        "url": webhook.url,
        "events": list(webhook.events),
        "status": "active",
        "created_at": webhook.created_at,
    }


def _log(attempt: Attempt) -> WebhookLog:
    # The store keeps the event as text; pydantic checks it is one of the catalogue's.
    return WebhookLog.model_validate(
        {
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
            "timestamp": attempt.attempted_at,
            "given_up": attempt.given_up,
        }
    )
