"""What ``GET /message`` lists: the messages a phone has still to take, the most urgent first.

A message placed on the phone waits in the store, queued, until it leaves,
with a send job on the phone's device queue: one its client sent to the
phone, or a shared one routed to it by its destination (``routed_to``:
``dispatch.routes``), read together, each way from its own index. The phone takes it with its
first report on it, which claims it and drops the job (``reports``); from
then on it is not listed: the app would only report on it again, and a
hundred taken but not yet sent would hide a new one. Recovery gives a
message back to a phone that took it and said nothing more of it for a
while (``worker.recovery``) by placing its send job again: the phone then
finds it listed, and either reports what became of it or sends it. A message
to a number its client blocked is never listed (``handing``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from redis import Redis

from relay_server.dispatch import placement
from relay_server.mobile.shapes import MAX_PULL
from relay_server.store.mobile_devices import MobileDevice, Pending
from relay_server.store.models import Message
from relay_server.store.store import Store

_BATCH = 2 * MAX_PULL  # messages read from the store, and looked up in Redis, at once


@dataclass(frozen=True)
class Page:
    """What a pull found to take: up to ``MAX_PULL`` messages to list, and the messages it
    read on the way whose number their client blocked, which are not to be listed."""

    listed: list[Message]
    blocked: list[Message]


def to_take(store: Store, redis: Redis, device: MobileDevice, now: datetime, *, newest_first: bool) -> Page:
    """Up to ``MAX_PULL`` due messages the phone has to take: by priority (1 first), then
    oldest (or newest) first; those to a blocked number apart."""
    listed: list[Message] = []
    blocked: list[Message] = []
    for batch in _queued(store, device, now, newest_first=newest_first):
        for message, on_its_list in _untaken(redis, batch):
            (blocked if on_its_list else listed).append(message)
        if len(listed) >= MAX_PULL:
            break
    return Page(listed[:MAX_PULL], blocked)


def _queued(store: Store, device: MobileDevice, now: datetime, *, newest_first: bool) -> Iterator[list[Pending]]:
    """The phone's due queued messages, a batch at a time, in the order ``to_take`` lists them:
    each batch one query, which reads on from the last message of the one before."""
    after: Message | None = None
    while True:
        batch = store.mobile_devices.pending_messages(
            device.client_id, device.device_id, now, _BATCH, newest_first=newest_first, after=after
        )
        yield batch
        if len(batch) < _BATCH:
            return
        after = batch[-1].message


def _untaken(redis: Redis, pending: list[Pending]) -> list[Pending]:
    """The messages no one claimed, and those whose send job is back: a claimed message's job
    was dropped when the phone claimed it (a cancel's is stopped), so a live one was placed again."""
    refs = [(found.message.client_id, found.message.message_id) for found in pending]
    gone, _ = placement.without_live_job(redis, refs)
    return [found for found in pending if gone.get(found.message.message_id) is None]
