"""What the OTP tests share: a clock moved by hand and a relay that queues on Redis."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from relay_server.dispatch.rq_dispatcher import RQDispatcher
from zimsend_common.timefmt import utcnow


class Clock:
    """The relay's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = utcnow().replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class EveryDeviceOnline(RQDispatcher):
    """The RQ dispatcher, counting every device online: no agent heartbeats in these tests."""

    def choose_device(self, caller, device_id, *, scheduled, to=()):
        return device_id


def rq_relay(make_relay: Callable, **options):
    """A relay that queues send jobs on Redis as in production; ``options`` as for ``make_relay``."""
    first = make_relay()
    dispatcher = EveryDeviceOnline(first.store, first.redis, timedelta(seconds=60), timedelta(seconds=60))
    return make_relay(dispatcher=dispatcher, **options)
