"""The SMSGate app's private-server API under ``/api/mobile/v1``: the phone's side of a device.

Every call but registration and the phone's webhooks carries the device
token (``Authorization: Bearer``); an unknown one answers 401, which makes the
app register again (``PATCH /device`` only: elsewhere it retries). Every
authenticated call counts as a heartbeat, and its ``User-Agent`` tells the
app's version, which decides what the relay may send it.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, TypeVar, cast

from flask import Blueprint, Response, g, jsonify, request
from pydantic import BaseModel, ValidationError
from redis.exceptions import RedisError

from relay_server.api import context
from relay_server.api.context import RelayContext
from relay_server.mobile import cancels, device_config, downtime, handing, inbound, outbox, reports, setup, stream, wake
from relay_server.mobile.pending import to_take
from relay_server.mobile.shapes import (
    CANCELLING_SINCE,
    MAX_PULL,
    AppVersion,
    DevicePatchRequest,
    MessagePatch,
    MessagePatchList,
    RegisterRequest,
    app_version,
    format_version,
    message_document,
    parse_version,
)
from relay_server.store.mobile_devices import AppReport, MobileDevice
from zimsend_common.timefmt import utcnow

log = logging.getLogger(__name__)

bp = Blueprint("mobile", __name__, url_prefix=setup.MOBILE_PREFIX)
Model = TypeVar("Model", bound=BaseModel)
_FINISHED_STATES = frozenset({"Cancelled", "Sent", "Delivered", "Failed"})


class MobileError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@bp.errorhandler(MobileError)
def _mobile_error(error: MobileError) -> tuple[Response, int]:
    return jsonify({"success": False, "error": {"code": error.code, "message": error.message}}), error.status


@bp.errorhandler(RedisError)
def _redis_down(error: RedisError) -> tuple[Response, int]:
    # The app retries what failed: nothing was taken, so a retry is safe.
    log.warning("phone call refused: Redis unavailable", extra={"error": str(error)})
    return _mobile_error(MobileError(503, "SERVICE_UNAVAILABLE", "The relay cannot reach Redis; try again."))


# -- registration ------------------------------------------------------------------


@bp.post("/device")
def register() -> tuple[Response, int]:
    body = _body(RegisterRequest)
    ctx = context.current()
    report = AppReport(
        app_version=_reported_version(),
        app_name=body.name,
        push_token=body.pushToken,
        sim_cards=None if body.simCards is None else [card.model_dump() for card in body.simCards],
    )
    registration = ctx.store.mobile_devices.register(_bearer(), report, utcnow())
    if registration is None:
        raise _unauthorized()
    device = ctx.store.mobile_devices.get_registered(registration.device_id)
    if device is not None:
        _heartbeat(device)
    answer: dict[str, Any] = {
        "id": registration.device_id,
        "token": registration.token,
        "login": registration.device_id,
    }
    if registration.password is not None:
        answer["password"] = registration.password
    return jsonify(answer), 201


@bp.patch("/device")
def update_device() -> tuple[str, int]:
    device = _device()
    body = _body(DevicePatchRequest)
    sim_cards = None if body.simCards is None else [card.model_dump() for card in body.simCards]
    context.current().store.mobile_devices.update(
        device.device_id, AppReport(push_token=body.pushToken, sim_cards=sim_cards)
    )
    return "", 204


@bp.get("/device")
def public_address() -> Response:
    """The phone's address as the relay sees it (past ``trusted_proxy_hops``): the app's "public IP"."""
    _device()
    return jsonify({"externalIp": request.remote_addr})


# -- what the app is told to set ----------------------------------------------------


@bp.get("/settings")
def settings() -> Response:
    device = _device()
    ping = max(5, context.current().settings.relay.device_offline_after_seconds // 2)
    return jsonify(device_config.settings_document(device, ping))


@bp.get("/webhooks")
def webhooks() -> Response:
    device = _device()
    base = (
        setup.public_base(context.current().settings)
        if context.current().settings.relay.public_url
        else request.host_url.rstrip("/")
    )
    url = f"{base}{setup.MOBILE_PREFIX}/webhooks/in/{device.device_id}"
    return jsonify(device_config.webhooks_document(device, url, _version(device)))


# -- messages ----------------------------------------------------------------------


@bp.get("/message")
def pull_messages() -> Response:
    """Up to 100 due messages this phone has still to take (``pending``), none to a blocked
    number (``handing``), and the cancels it has still to learn."""
    device = _device()
    ctx = context.current()
    newest_first = request.args.get("order", "fifo").strip().lower() == "lifo"
    now = utcnow()
    pending = handing.hand(ctx, device, to_take(ctx.store, ctx.redis, device, now, newest_first=newest_first), now)
    with_state = _version(device) >= CANCELLING_SINCE
    listed = [message_document(message, cancelling=False, with_state=with_state) for message in pending]
    if with_state:
        # An app older than 1.67 would send a Cancelling message: it sees cancelled ones nowhere.
        cancelled_ids = [
            raw.decode() if isinstance(raw, bytes) else raw
            for raw in cast("set[bytes]", ctx.redis.smembers(wake.cancelling_key(device.device_id)))
        ]
        cancelled = ctx.store.mobile_devices.messages_of_device(device.device_id, cancelled_ids)
        listed = [
            message_document(message, cancelling=True, with_state=True)
            for message in cancelled
            if message.status == "cancelled"
        ][:MAX_PULL] + listed
    return jsonify(listed[:MAX_PULL])


@bp.patch("/message")
def report_messages() -> tuple[str, int]:
    """The phone's message states: claimed against cancel, then handed on as events."""
    device = _device()
    ctx = context.current()
    raw = request.get_json(silent=True)
    if not isinstance(raw, list):
        raise MobileError(400, "INVALID_BODY", "The body must be a JSON array of message states.")
    patches = _validated(MessagePatchList, {"items": raw}).items
    _take_reports(ctx, device, patches)
    finished = [patch.id for patch in patches if patch.state in _FINISHED_STATES]
    if finished:
        ctx.redis.srem(wake.cancelling_key(device.device_id), *finished)
    return "", 204


# -- events ------------------------------------------------------------------------


@bp.get("/events")
def events() -> Response:
    device = _device()
    ctx = context.current()
    version = _version(device)
    keepalive = _keepalive_seconds(ctx)

    def wanted(event: str) -> bool:
        return event != wake.MESSAGE_CANCELLED or version >= CANCELLING_SINCE

    token = _bearer()

    def beat() -> bool:
        # Read again at each beat: a stream outlives what the phone told of itself when it opened.
        current = ctx.store.mobile_devices.authenticate(token)
        if current is None:
            return False  # disabled, or registered again: its new token opens a new stream
        _heartbeat(current, ctx)
        return True

    # The call itself was a sign of life: a silence it ended asks the phone for what it received meanwhile.
    export = downtime.take_export(ctx.redis, device.device_id, utcnow())
    opening = [] if export is None else [stream.event_block(downtime.MESSAGES_EXPORT_REQUESTED, export)]
    body = stream.events(
        stream.subscriber(ctx.settings.relay.redis_url),
        device.device_id,
        keepalive_seconds=keepalive,
        wanted=wanted,
        on_keepalive=beat,
        opening=opening,
    )
    return Response(
        body,
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        direct_passthrough=True,
    )


# -- the phone's own webhooks ---------------------------------------------------------------


@bp.post("/webhooks/in/<device_id>")
def receive_webhook(device_id: str) -> tuple[str, int]:
    ctx = context.current()
    now = utcnow()
    device = ctx.store.mobile_devices.get_registered(device_id)
    raw = request.get_data(cache=True)
    key = device_config.webhook_signing_key(device) if device is not None else ""
    if device is None or not inbound.signed(
        raw, request.headers.get("X-Timestamp"), request.headers.get("X-Signature"), key, now
    ):
        raise MobileError(401, "INVALID_SIGNATURE", "The webhook's signature does not verify.")
    webhook = _body(inbound.WebhookBody)
    if webhook.deviceId not in (None, device.device_id):
        raise MobileError(400, "WRONG_DEVICE", "The webhook names another device.")
    _heartbeat(device, battery=inbound.battery(webhook))
    if webhook.event in inbound.RECEIVED_EVENTS:
        data = inbound.received_data(webhook.event, webhook.payload, now)
        if data is None:
            raise MobileError(400, "INVALID_PAYLOAD", f"An {webhook.event} webhook needs a message.")
        event_id = inbound.received_event_id(device.device_id, webhook)
        outbox.report(ctx.store, ctx.redis, [outbox.sign(device, "received", data, event_id=event_id)])
        return "", 204
    found = inbound.outcome(webhook.event, webhook.payload, now)
    if found is not None:
        message_id, move = found
        placed = ctx.store.mobile_devices.messages_of_device(device.device_id, [message_id])
        if placed:
            reports.report_moves(ctx.store, ctx.redis, device, [(placed[0], [move])])
    cancel = inbound.cancel(webhook.event, webhook.payload)
    if cancel is not None:
        _take_reports(ctx, device, [cancel])
    return "", 204


def _take_reports(ctx: RelayContext, device: MobileDevice, patches: list[MessagePatch]) -> None:
    """Hand on what the phone reports of its messages, and the cancels it made of those it holds."""
    named = [patch.id for patch in patches]
    placed = {
        message.message_id: message for message in ctx.store.mobile_devices.messages_of_device(device.device_id, named)
    }
    held = {message.message_id for message in reports.apply_patches(ctx.store, ctx.redis, device, patches, placed)}
    for patch in patches:
        at = cancels.cancelled_at(patch)
        if at is not None and patch.id in held:
            cancels.cancel_held(ctx.store, ctx.redis, device.device_id, placed[patch.id], at)


# -- helpers -----------------------------------------------------------------------


def _bearer() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized()
    return token.strip()


def _unauthorized() -> MobileError:
    return MobileError(401, "UNAUTHORIZED", "Unknown token: register the device again.")


def _device() -> MobileDevice:
    """The calling phone, whose call counts as a heartbeat; 401 for an unknown token."""
    if "mobile_device" in g:
        return g.mobile_device
    ctx = context.current()
    device = ctx.store.mobile_devices.authenticate(_bearer())
    if device is None:
        raise _unauthorized()
    version = _reported_version()
    if version is not None and version != device.app_version:
        ctx.store.mobile_devices.update_version(device.device_id, version)
        device = ctx.store.mobile_devices.get_registered(device.device_id) or device
    _heartbeat(device)
    g.mobile_device = device
    return device


def _heartbeat(device: MobileDevice, ctx: RelayContext | None = None, battery: reports.Battery | None = None) -> None:
    """Count a sign of life, with the battery a ping told; a Redis that does not answer costs the heartbeat, not the call.

    A stream, which runs outside the request, passes the relay's context.
    """
    ctx = ctx if ctx is not None else context.current()
    offline_after = timedelta(seconds=ctx.settings.relay.device_offline_after_seconds)
    try:
        reports.heartbeat(ctx.redis, device, device.app_version, _keepalive_seconds(ctx), battery)
        downtime.heard(ctx.redis, device.device_id, utcnow(), offline_after)
    except RedisError as exc:
        log.warning("phone heartbeat lost: Redis unavailable", extra={"device_id": device.device_id, "error": str(exc)})


def _reported_version() -> str | None:
    version = app_version(request.headers.get("User-Agent"))
    return None if version is None else format_version(version)


def _version(device: MobileDevice) -> AppVersion:
    """The app's version: this call's, else the last one it told (its event stream tells none)."""
    return app_version(request.headers.get("User-Agent")) or parse_version(device.app_version)


def _keepalive_seconds(ctx: RelayContext) -> float:
    """``stream.keepalive_every`` for the relay's offline threshold, in seconds."""
    return stream.keepalive_every(timedelta(seconds=ctx.settings.relay.device_offline_after_seconds)).total_seconds()


def _body(model: type[Model]) -> Model:
    raw = request.get_json(silent=True)
    if raw is None:
        raw = {} if not request.get_data() else None
    if not isinstance(raw, dict):
        raise MobileError(400, "INVALID_BODY", "The body must be a JSON object.")
    return _validated(model, raw)


def _validated(model: type[Model], raw: Any) -> Model:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise MobileError(400, "INVALID_FIELD", f"{where}: {first['msg']}") from None
