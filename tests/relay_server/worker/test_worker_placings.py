"""Two placings of one message never leave its job on a queue other than the route the store keeps:
the worker's placings run one at a time, and one that finds the relay's job of a new message on the
route it moved the message from takes that job to the new route."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from types import TracebackType
from typing import Any

import pytest
from relay_parts import AgentDevice, Parts
from test_worker_rerouted import ECONET, own, own_queue, phone_route, route, routed, waits

from relay_server.dispatch import placement
from relay_server.store.mobile_devices import MobileDevice
from relay_server.store.models import Caller, Message
from relay_server.worker import recovery
from zimsend_common import bus, wire
from zimsend_common.timefmt import utcnow

# Each waits only for what the other thread does next; bounded so that a broken run fails, never hangs.
_STEP_SECONDS = 30


class ObservedLock:
    """A lock that sets ``waiting`` when a thread comes to wait for it."""

    def __init__(self, waiting: threading.Event) -> None:
        self._lock = threading.Lock()
        self.waiting = waiting

    def __enter__(self) -> None:
        if not self._lock.acquire(blocking=False):
            self.waiting.set()
            self._lock.acquire()

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._lock.release()


def checking_routes(monkeypatch: pytest.MonkeyPatch, parts: Parts, after: Mapping[str, Callable[[], None]]) -> None:
    """Have each thread named in ``after`` run its step right after its placing's check of the
    routes (``Store.route_messages``), before its job is placed."""
    route_messages = parts.store.route_messages

    def checked(routes: Mapping[str, tuple[str | None, str | None]]) -> set[str]:
        kept = route_messages(routes)
        after.get(threading.current_thread().name, lambda: None)()
        return kept

    monkeypatch.setattr(parts.store, "route_messages", checked)


def on_the_route_and_the_phone(parts: Parts) -> tuple[Caller, AgentDevice, Message, MobileDevice]:
    """A message routed to an agent of its route, its job on the agent's queue, and a phone of
    the same route that has been silent (so that the route keeps the agent)."""
    caller = parts.client()
    econet = route(parts, caller, "+26377")
    route(parts, caller)  # an agent reading the shared queue
    message = routed(parts, caller)
    assert message.routed_to == econet.device_id
    phone = phone_route(parts, caller, "+26377", heard_at=utcnow() - recovery.STUCK_AFTER)
    return caller, econet, message, phone


def run(name: str, step: Callable[[], Any], failures: list[BaseException]) -> threading.Thread:
    def guarded() -> None:
        try:
            step()
        except BaseException as exc:  # the test thread says it
            failures.append(exc)

    thread = threading.Thread(target=guarded, name=name)
    thread.start()
    return thread


@pytest.mark.parametrize("a_places_once_b", ["checked", "placed"])
def test_two_placings_of_a_message_at_once_leave_its_job_on_the_route_the_store_keeps(
    parts, monkeypatch, a_places_once_b
):
    _, econet, message, phone = on_the_route_and_the_phone(parts)
    read = parts.reload(message)
    now = utcnow()
    # Placing A reads the devices while the agent takes its route; placing B once it stopped and the phone is back.
    keeps = recovery.live_states_of(parts.ctx, parts.store.devices.signing_keys, now)
    assert keeps(message.client_id)
    econet.heartbeat(state="stopped")
    parts.heard(phone, now)
    moves = recovery.live_states_of(parts.ctx, parts.store.devices.signing_keys, now)
    assert moves(message.client_id)
    # A has checked the route it read (kept) when B moves it; A places its job once B has checked the
    # route (moved), or placed its own job; or once B waits for A to be done, should placings wait.
    a_checked, b_on, a_done = threading.Event(), threading.Event(), threading.Event()
    ctx = replace(parts.ctx, placing=ObservedLock(b_on))

    def a_waits_for_b() -> None:
        a_checked.set()
        assert b_on.wait(_STEP_SECONDS)

    def b_waits_for_a() -> None:
        if a_places_once_b == "checked":
            b_on.set()
            assert a_done.wait(_STEP_SECONDS)

    checking_routes(monkeypatch, parts, {"A": a_waits_for_b, "B": b_waits_for_a})
    failures: list[BaseException] = []
    a = run("A", lambda: (recovery.give_jobs(ctx, [read], now, keeps), a_done.set()), failures)
    assert a_checked.wait(_STEP_SECONDS)
    b = run("B", lambda: (recovery.give_jobs(ctx, [read], now, moves), b_on.set()), failures)
    for thread in (a, b):
        thread.join()

    assert failures == []
    assert parts.reload(message).routed_to == phone.device_id
    assert [m.message_id for m in parts.pulled(phone)] == [message.message_id]
    assert waits(parts, message) == (own_queue(phone.device_id), {phone.device_id})  # not the agent's as well


def moved_as_the_relay_enqueues(
    parts: Parts, monkeypatch: pytest.MonkeyPatch, meanwhile: Callable[[Message, AgentDevice], None]
) -> tuple[Message, AgentDevice, MobileDevice]:
    """A message the relay stored routed to an agent that then stopped, with a phone of its route
    back: a round finds it jobless and moves it to the phone, and the relay enqueues it by the route
    it stored, then ``meanwhile`` runs, between the round's check of the route and its placing."""
    caller, econet, _, phone = on_the_route_and_the_phone(parts)
    [stored] = parts.store.insert_messages([parts.new_message(caller, to=ECONET, routed_to=econet.device_id)])
    now = utcnow()
    econet.heartbeat(state="stopped")
    parts.heard(phone, now)
    moves = recovery.live_states_of(parts.ctx, parts.store.devices.signing_keys, now)

    def relay_enqueues() -> None:
        placement.place_all(parts.redis, parts.store.devices.signing_keys, [stored])
        assert waits(parts, stored) == (own(econet), {econet.device_id})
        meanwhile(stored, econet)

    checking_routes(monkeypatch, parts, {threading.current_thread().name: relay_enqueues})
    recovery.give_jobs(parts.ctx, [stored], now, moves)
    assert parts.reload(stored).routed_to == phone.device_id
    return stored, econet, phone


def test_a_placing_that_moves_a_new_message_takes_the_job_the_relay_placed_meanwhile_to_its_new_route(
    parts, monkeypatch
):
    stored, _, phone = moved_as_the_relay_enqueues(parts, monkeypatch, lambda *_: None)

    assert waits(parts, stored) == (own_queue(phone.device_id), {phone.device_id})


def test_a_placing_that_moves_a_new_message_leaves_the_relays_job_an_agent_took_meanwhile_to_the_claim(
    parts, monkeypatch
):
    def agent_takes(message: Message, agent: AgentDevice) -> None:
        job_id = wire.send_job_id(message.client_id, message.message_id)
        assert parts.redis.lrem(bus.queue_key(own(agent)), 0, job_id) == 1  # as its pop does

    stored, econet, phone = moved_as_the_relay_enqueues(parts, monkeypatch, agent_takes)

    # The agent holds the job it took, and claims the message before it sends: no job is placed beside it.
    assert bus.fetch(wire.send_job_id(stored.client_id, stored.message_id), parts.redis).origin == own(econet)
    assert parts.redis.lrange(bus.queue_key(own_queue(phone.device_id)), 0, -1) == []
