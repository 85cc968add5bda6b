"""What a heartbeat says about the device: its modem, its network, its work.

``state`` is ``online`` (modem open and answering), ``modem_lost`` (the port
is gone; the backend is reopening it) or ``stopped`` (the agent's last word
before it exits), so the relay can tell why a device went away. The outbox
adds ``instance``, the agent's (``instance``), as it publishes.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Literal

import redis

from gateway_agent.agent.ledger import Ledger
from gateway_agent.errors import ModemError
from gateway_agent.modem import Identity, Modem, NetworkState, Registration
from zimsend_common import bus, device_written
from zimsend_common.timefmt import isoformat_z

AgentState = Literal["online", "modem_lost", "stopped"]
UNKNOWN_NETWORK = NetworkState(Registration.UNKNOWN, None, None, None)


def heartbeat_data(
    state: AgentState,
    modem: Modem,
    identity: Identity | None,
    ledger: Ledger,
    connection: redis.Redis,
    queues: list[str],
    day: tuple[float, float],
) -> dict[str, Any]:
    """The heartbeat's ``data``, as ``wire.Event`` documents it (plus ``state`` and ``modem_lost``);
    ``sent_today`` counts the sends of the device's ``day`` (``local_day``): since it began, and
    ``day_ends_at`` says when it ends, which the relay cannot tell otherwise."""
    day_began, day_ends = day
    network = _network(modem) if state == "online" else UNKNOWN_NETWORK
    return {
        "state": state,
        "modem_lost": state == "modem_lost",
        "signal_percent": network.signal_percent,
        "signal_dbm": network.signal_dbm,
        "operator": network.operator,
        "registration": str(network.registration),
        "model": identity.model if identity else None,
        "manufacturer": identity.manufacturer if identity else None,
        "firmware": identity.firmware if identity else None,
        "phone_number": identity.phone_number if identity else None,
        "sent_today": ledger.count_sends_since(day_began),
        "day_ends_at": isoformat_z(datetime.fromtimestamp(day_ends, timezone.utc)),
        "queue_depth": queue_depth(connection, queues),
    }


def queue_depth(connection: redis.Redis, queues: list[str]) -> int:
    """How many jobs wait on these queues (one whose key holds no list counts none)."""
    pipeline = connection.pipeline()
    for name in queues:
        pipeline.llen(bus.queue_key(name))
    return sum(depth for depth in device_written.answers(pipeline) if not device_written.unreadable(depth))


def _network(modem: Modem) -> NetworkState:
    try:
        return modem.network_state()
    except ModemError:
        return UNKNOWN_NETWORK
