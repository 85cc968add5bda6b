"""The extension point between the HTTP API and whatever carries messages to devices.

The API stores a message first, then hands it to the app's ``Dispatcher``.
``StoreOnlyDispatcher`` leaves messages queued in the store (what the relay
does when run without Redis and agents); the RQ dispatcher in
``relay_server.dispatch`` puts them on device queues.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Protocol

from relay_server.store.models import Caller, Message, NewMessage


class DeviceOffline(Exception):
    """The device asked for has not been seen for longer than the offline threshold."""


class NoDeviceAvailable(Exception):
    """No device was asked for, and none of the client's devices is online."""


class CancelUndecided(Exception):
    """Redis cannot be reached, or lost its data a moment ago: a device may hold the message
    (and not have claimed it again yet), so a cancel can be neither won nor refused until
    ``retry_after``."""

    def __init__(self, retry_after: timedelta) -> None:
        super().__init__(f"retry after {retry_after}")
        self.retry_after = retry_after


class Dispatcher(Protocol):
    def choose_device(
        self, caller: Caller, device_id: str | None, *, scheduled: bool, to: Collection[str] = ()
    ) -> str | None:
        """The device a new send will go to, or None for any of the client's devices.

        ``device_id`` is one the client owns (the API has checked); ``to``, the numbers of the
        shared messages asked for, which a route may take (``routes``). Raises
        DeviceOffline or NoDeviceAvailable when the send cannot go now;
        scheduled sends are accepted whatever the devices' state.
        """
        ...

    def route(self, messages: list[NewMessage]) -> list[NewMessage]:
        """``messages`` about to be stored, each shared one with the device of its destination's
        route that can send now as its ``routed_to``, when it has one (``routes``)."""
        ...

    def submit(self, messages: list[Message]) -> None:
        """Queue stored messages for sending, each routed one on its route device's queue
        (``routes``). Never raises for a transport outage: the messages stay queued in the
        store and are queued again later."""
        ...

    def estimated_delivery(self, message: Message | NewMessage) -> datetime | None:
        """When the message (stored, or about to be) should leave, from its device's queue and send times."""
        ...

    def cancel(self, message: Message) -> bool:
        """Claim a queued message for cancellation; False when a device already took it, or the
        worker did to fail it unsent (it can no longer leave, or its device is gone).

        Raises CancelUndecided when whether a device took it cannot be known yet.
        """
        ...


class StoreOnlyDispatcher:
    """Keeps messages queued in the store; nothing leaves."""

    def choose_device(
        self, caller: Caller, device_id: str | None, *, scheduled: bool, to: Collection[str] = ()
    ) -> str | None:
        return device_id

    def route(self, messages: list[NewMessage]) -> list[NewMessage]:
        return messages

    def submit(self, messages: list[Message]) -> None:
        return None

    def estimated_delivery(self, message: Message | NewMessage) -> datetime | None:
        return None

    def cancel(self, message: Message) -> bool:
        return True
