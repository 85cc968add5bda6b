"""The operator's view across clients: clients, their keys (prefixes) and daily quotas, devices, the health of
the store, Redis and the worker, and the dead-lettered events; and a device taken out of
service or given back, as ``zimsend-relay disable-device`` and ``enable-device`` do.

Operators are made with ``zimsend-relay add-operator`` and sign in with their
name and password; failed attempts are throttled per address as bad API
keys are.
"""

from __future__ import annotations

from datetime import timedelta

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from relay_server.api import auth_throttle
from relay_server.api import health_report as health
from relay_server.api.context import current
from relay_server.console import guard
from relay_server.console.blueprint import bp
from relay_server.console.i18n import translate
from relay_server.dispatch import heartbeat_keys
from zimsend_common import redis_acl
from zimsend_common.timefmt import utcnow

DEAD_LETTERS_SHOWN = 50
_THROTTLE_PREFIX = "operator:"


@bp.route("/operator/signin", methods=["GET", "POST"])
def operator_signin() -> Response | str | tuple[str, int]:
    """The operator's sign-in form."""
    if request.method == "GET":
        return render_template("operator_signin.html")
    name = request.form.get("name", "").strip()
    throttle_key = _THROTTLE_PREFIX + name
    auth_throttle.refuse_if_throttled(throttle_key)
    if not current().store.operators.verify(name, request.form.get("password", "")):
        auth_throttle.record_failure(throttle_key)
        return render_template("operator_signin.html", failed=True, name=name), 401
    guard.sign_in_operator(name)
    return redirect(url_for("console.operator_view"))


@bp.get("/operator")
def operator_view() -> str:
    """Everything across clients, on one page."""
    relay = current()
    store = relay.store
    offline_after = timedelta(seconds=relay.settings.relay.device_offline_after_seconds)
    now = utcnow()
    clients = store.overview.list_clients()
    states = heartbeat_keys.live_states(relay.store, relay.redis)
    return render_template(
        "operator.html",
        clients=clients,
        keys={client.client_id: store.clients.list_api_keys(client.client_id) for client in clients},
        used_today=store.daily_quotas.used_on(
            [client.client_id for client in clients if client.daily_quota is not None], now
        ),
        devices=[(state, state.online(now, offline_after)) for state in states],
        # What shuts a disabled modem's agent out of Redis: the relay leaves Redis users to the operator.
        redis_lines={
            state.device_id: redis_acl.command_line(redis_acl.deluser(state.device_id))
            for state in states
            if state.disabled and not state.is_phone
        },
        checks={
            "store": health.check_store(store),
            "redis": health.check_redis(relay.redis),
            "worker": health.check_worker(relay.redis),
        },
        dead_letters=store.list_dead_letters(limit=DEAD_LETTERS_SHOWN),
    )


@bp.post("/operator/devices/<device_id>/<any(disable, enable):action>")
def operator_device_service(device_id: str, action: str) -> Response:
    """Take the device out of service, or give it back its place with its password unchanged
    (``store.devices.disable``, ``enable``); 404 for an unknown one."""
    store = current().store
    disabling = action == "disable"
    if (store.devices.disable(device_id) if disabling else store.devices.enable(device_id)) is None:
        abort(404)
    if disabling:
        flash(translate("Device {device_id} disabled.", device_id=device_id), "info")
    else:
        flash(translate("Device {device_id} enabled.", device_id=device_id), "info")
    return redirect(url_for("console.operator_view"))


@bp.post("/operator/signout")
def operator_signout() -> Response:
    """End the operator's session."""
    guard.sign_out()
    return redirect(url_for("console.operator_signin"))
