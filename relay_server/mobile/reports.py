"""What a phone reports, turned into the signed events a modem agent would send.

The relay keeps every device's signing key, so it signs the phone's reports
with it and hands them to the worker (``outbox``): heartbeats,
``sent``, ``delivered`` and ``failed`` take the agents' path into the store
and the webhooks. Event ids are made from the message and the move, so a
report the app repeats (it retries any non-2xx answer ten times) is the same
event again, which the store applies once.

Each report first claims the message against cancel (``wire.claim_key``), as
an agent does before its modem sends: a message a cancel claimed first stays
cancelled whatever the phone says after, and one the worker claimed first
to fail it unsent (``worker.relay_claim``) fails so. The worker's expiry
leaves a phone's message to the phone a while past its ``valid_until``
(``worker.expiry``), for the report of one it sent in time.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any, cast

from redis import Redis

from relay_server.dispatch import placement
from relay_server.mobile import outbox
from relay_server.mobile.shapes import MessagePatch
from relay_server.store.mobile_devices import MobileDevice
from relay_server.store.models import Message
from relay_server.store.store import Store
from zimsend_common import wire
from zimsend_common.failures import describe
from zimsend_common.smsgate_failures import failure_code
from zimsend_common.timefmt import isoformat_precise, utcnow

log = logging.getLogger(__name__)

Move = tuple[wire.EventKind, datetime, dict[str, Any]]  # what happened, at the phone's time, with its data
Battery = tuple[int, bool | None]  # percent, and whether it charges when the phone told
# A reading a phone no longer renews (its pings turned off) stops being told after a day.
BATTERY_KEPT_SECONDS = 86400


def heartbeat_data(device: MobileDevice, version: str | None, battery: Battery | None = None) -> dict[str, Any]:
    """The heartbeat a phone stands for: what the app told of the phone, its first SIM and its battery."""
    name = device.app_name or "Android phone"
    data: dict[str, Any] = {
        "state": "online",
        "manufacturer": name.split("/", 1)[0],
        "model": name,
        "firmware": f"SMSGate {version}" if version else "SMSGate",
        "phone_number": device.phone_number,
        "operator": device.carrier,
    }
    if battery is not None:
        data["battery_percent"], data["battery_charging"] = battery
    return data


def heartbeat(
    redis: Redis, device: MobileDevice, version: str | None, every_seconds: float, battery: Battery | None = None
) -> None:
    """Count a sign of life from the phone: at most one heartbeat event per ``every_seconds``,
    and at once when it tells a battery other than the one last kept.

    Each heartbeat carries the battery last kept for the phone, since the
    store keeps what the latest heartbeat says: a beat from an API call must
    not wipe what the last ping told.
    """
    key = f"zimsend:mobile:{device.device_id}:battery"
    kept = _battery(cast("bytes | None", redis.get(key)))
    changed = battery is not None and battery != kept
    if changed:
        redis.set(key, json.dumps(battery), ex=BATTERY_KEPT_SECONDS)
    beat = redis.set(f"zimsend:mobile:{device.device_id}:beat", 1, nx=True, px=max(1, int(every_seconds * 1000)))
    if beat or changed:
        outbox.enqueue(
            redis, outbox.sign(device, "heartbeat", heartbeat_data(device, version, battery if changed else kept))
        )


def _battery(kept: bytes | str | None) -> Battery | None:
    """The battery kept in Redis, None when there is none."""
    if kept is None:
        return None
    percent, charging = json.loads(kept)
    return int(percent), charging


def apply_patches(
    store: Store, redis: Redis, device: MobileDevice, patches: list[MessagePatch], placed: dict[str, Message]
) -> list[Message]:
    """Turn the phone's state reports into events; returns the messages it holds of those reported on.

    ``placed`` holds the messages named that were placed on this phone; reports
    on any other id are ignored, as the app's reference server does.
    """
    reported = [(message, _moves(patch)) for patch in patches if (message := placed.get(patch.id)) is not None]
    return report_moves(store, redis, device, reported)


def report_moves(
    store: Store, redis: Redis, device: MobileDevice, reported: list[tuple[Message, list[Move]]]
) -> list[Message]:
    """Claim each message for the phone and hand on the moves it reports (kept in the store
    first, ``outbox``); returns those the phone holds.

    Their send jobs go: the phone took them. Only recovery puts one back, for
    a phone silent on a message it took, which lists it again (``pending``).
    """
    held = [(message, moves) for message, moves in reported if _claimed(redis, device, message)]
    placement.remove_jobs(redis, [(message.client_id, message.message_id) for message, _ in held])
    events = [
        outbox.sign(
            device,
            kind,
            {"message_id": message.message_id, f"{kind}_at": isoformat_precise(at), **data},
            event_id=f"mob_{message.message_id}_{kind}",
            at=at,
        )
        for message, moves in held
        for kind, at, data in moves
    ]
    outbox.report(store, redis, events)
    return [message for message, _ in held]


def _claimed(redis: Redis, device: MobileDevice, message: Message) -> bool:
    """Whether the phone holds the message: it claims it now unless a cancel, the worker (an expiry,
    or a takeover from a device given up on) or another device did."""
    key, mine = wire.claim_key(message.client_id, message.message_id), wire.claim_value_device(device.device_id)
    if redis.set(key, mine, nx=True, ex=wire.CLAIM_TTL_SECONDS):
        return True
    holder = cast("bytes | None", redis.get(key))
    if holder == mine.encode():
        return True
    log.warning(
        "phone report on a message it does not hold",
        extra={"message_id": message.message_id, "device_id": device.device_id, "holder": _text(holder)},
    )
    return False


def _moves(patch: MessagePatch) -> list[Move]:
    """The moves the report shows, in order, each at the phone's own time for it, else the relay's."""
    states = {state: moment for state, moment in patch.states.items() if moment is not None}
    now = utcnow()
    moves: list[Move] = []
    if patch.state in ("Sent", "Delivered") or "Sent" in patch.states:
        moves.append(("sent", states.get("Sent") or states.get(patch.state) or now, {}))
    if patch.state == "Delivered":
        moves.append(("delivered", states.get("Delivered") or now, {}))
    if patch.state == "Failed":
        moves.append(("failed", states.get("Failed") or now, _failure(patch)))
    return moves


def _failure(patch: MessagePatch) -> dict[str, Any]:
    return failure(next((recipient.error for recipient in patch.recipients if recipient.error), None))


def failure(error: str | None) -> dict[str, Any]:
    """A failed event's data from the phone's own words for it."""
    code = failure_code(error)
    return {"code": code.value, "message": describe(code), "detail": error}


def _text(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else (value or "")
