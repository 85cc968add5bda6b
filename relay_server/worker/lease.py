"""Which of the relay's workers is the active one: a lease in Redis.

Some of the worker's duties must run in one process at a time. Two event
pumps share one list of the jobs they took (``event_pump.PROCESSING_KEY``):
a worker killed beside a running one left its batch there, which the other
never looked at again, so those events were never applied (and their agents,
finding their jobs still waiting, never handed them on again). Two liveness
rounds recorded a device's coming online twice (two ``device.connected``
webhooks). And the moment before which no released scheduled message can
have been taken by an agent (``epoch.EpochWatch``) is known to one process
only. Two daily purges at once, each a purge of a backlog that may take
minutes, doubled the work and the hold on SQLite's write lock (and on
PostgreSQL, until ``store.retention`` counted only what its own DELETE
removed, took a purged batch off the history's counts twice). So the event pump, the due release, the maintenance
and the daily purge (each in a thread of its own: a long purge holds up no
maintenance round) run only in the worker that holds this lease; any other
stands by, says so once, and takes the lease when it is free.

The rest are safe twice and run in every worker: RQ's loop (the simulated
device) hands each job to one worker, RQ's scheduler takes a lock of its
own, and the webhook pump claims each delivery in the store for the length
of its attempt.

The lease is a key (``wire.WORKER_LEASE_KEY``) naming its holder, set to
expire after ``LEASE_SECONDS`` and renewed every ``RENEW_SECONDS`` by one
script that also sets it again when it is gone (Redis flushed, or restarted
empty): the holder keeps it, unless a standby got there first.

- The holder counts the lease as held until ``LEASE_SECONDS`` after it asked
  for its last successful renewal; Redis can only expire it later. A holder
  that cannot renew in time (Redis away, the process paused or starved) has
  its duties stop at the end of their current round, and starts them again
  only once it holds the lease again (a renewal of its own answered after the
  lease ran out, Redis only paused, is asked again at once: it does not stand
  by a renewal for itself). The daily purge ends between two of its batches;
  one caught in a batch may meet the new holder's purge
  (``store.retention`` takes each message off the history's counts once,
  whoever deleted it).
- A worker that takes the lease from another, or at its start, starts its
  duties one renewal later: a holder that lost the key to a flush of Redis
  has by then tried to renew, found the key another's, and stopped its own.
  One that held it last takes it again and starts them at once (Redis back
  after an outage longer than the lease: none could take it meanwhile).
- A worker killed leaves its lease to expire: a standby is active within
  ``LEASE_SECONDS`` and two renewals. One stopped cleanly gives it back, and
  a standby is active within two renewals. A worker started on the machine
  of a holder whose process is gone (systemd restarting one that was
  killed) takes the lease at once: a holder names its machine (the kernel's
  boot id and the pid namespace), so that its pid is asked after there and
  nowhere else.
- Each term's duties start as in a worker just started: the event pump
  first takes what the last holder took and did not finish (an event
  applied twice is answered as a repeat, with no change).
- A holder paused longer than the lease (SIGSTOP, a VM stalled) may still
  end the round it was in when it wakes, beside the next holder: the lease
  cannot stop a round already under way. The event pump's round then takes
  off the shared list only the items it took itself (``event_pump.finish``),
  so the next holder's, finished or not, stay there.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Sequence
from functools import cache
from math import ceil
from pathlib import Path

from redis import Redis
from redis.exceptions import RedisError

from zimsend_common import device_written, wire

log = logging.getLogger(__name__)

LEASE_SECONDS = 10.0
RENEW_SECONDS = 1.0
# How long a worker told to stop waits for its duties' rounds before it gives up on them.
STOP_WAIT_SECONDS = 5.0

# Renews the lease (KEYS[1]) for ARGV[1], or takes it when nobody holds it; returns the holder.
_KEEP = """
local holder = redis.call('GET', KEYS[1])
if not holder or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return ARGV[1]
end
return holder
"""

Duty = Callable[[threading.Event], None]  # runs until the event it is given is set


def who(holder: str) -> str:
    """The ``host:pid`` of a holder's name, for the logs."""
    return ":".join(holder.split(":")[:2])


@cache
def _machine() -> str:
    """What names the machine whose pids this process sees: its kernel's boot and its pid
    namespace (a container has one of its own); a name of this process's own off Linux."""
    try:
        seen = Path("/proc/sys/kernel/random/boot_id").read_text().strip() + os.readlink("/proc/self/ns/pid")
    except OSError:
        seen = secrets.token_hex(8)
    return hashlib.sha256(seen.encode()).hexdigest()[:12]


def _gone_from_here(holder: str) -> bool:
    """Whether ``holder`` names a process of this machine that is gone."""
    fields = holder.split(":")
    if len(fields) != 4 or fields[2] != _machine() or not fields[1].isdigit():
        return False
    try:
        os.kill(int(fields[1]), 0)
    except ProcessLookupError:
        return True
    except OSError:
        pass  # another user's process: alive
    return False


class WorkerLease:
    """This worker's side of the lease."""

    def __init__(self, redis: Redis, seconds: float = LEASE_SECONDS) -> None:
        self.redis = redis
        self.seconds = seconds
        self.name = f"{socket.gethostname()}:{os.getpid()}:{_machine()}:{secrets.token_hex(4)}"
        self._held_until = 0.0  # time.monotonic()'s clock

    def keep(self) -> str | None:
        """Renew the lease, or take it when nobody holds it; the holder's name then (this
        worker's when it holds it), None when Redis did not answer.

        A renewal of its own answered after the lease it asked for ran out (Redis paused,
        this process starved) is asked again at once: held by it no longer, and by nobody
        else, the lease is its own for the asking."""
        holder = self._ask()
        if holder == self.name and not self.held():
            holder = self._ask()
        return holder

    def _ask(self) -> str | None:
        asked_at = time.monotonic()
        try:
            answer = self.redis.eval(_KEEP, 1, wire.WORKER_LEASE_KEY, self.name, int(self.seconds * 1000))
            holder = answer.decode(errors="replace") if isinstance(answer, bytes) else str(answer)
            if (
                holder != self.name
                and _gone_from_here(holder)
                and device_written.replace_if_equal(
                    self.redis, wire.WORKER_LEASE_KEY, holder, self.name, ex=ceil(self.seconds)
                )
            ):
                holder = self.name
        except RedisError:
            return None
        self._held_until = asked_at + self.seconds if holder == self.name else 0.0
        return holder

    def held(self) -> bool:
        """Whether this worker holds the lease now, by its last successful renewal."""
        return time.monotonic() < self._held_until

    def release(self) -> None:
        """Give the lease back, if this worker still holds it, so a standby need not wait for it to expire."""
        self._held_until = 0.0
        try:
            device_written.delete_if_equal(self.redis, wire.WORKER_LEASE_KEY, self.name)
        except RedisError:
            pass  # it expires


class Term(threading.Event):
    """The stop of one term of duties: set when the worker stops or loses the lease, and
    set of itself, for good, once the lease ran out unrenewed (a process paused longer
    than the lease may find a standby active when it wakes)."""

    def __init__(self, lease: WorkerLease) -> None:
        super().__init__()
        self._lease = lease

    def is_set(self) -> bool:
        if not super().is_set() and not self._lease.held():
            self.set()
        return super().is_set()


class LeasedDuties:
    """Runs the duties ``make_duties`` makes, anew for each term, while this worker holds
    the lease; ``run`` until ``stop`` is set, in a thread of its own."""

    def __init__(self, lease: WorkerLease, make_duties: Callable[[], Sequence[tuple[str, Duty]]]) -> None:
        self.lease = lease
        self.make_duties = make_duties
        self._told: str | None = None  # the holder this worker last said it stands by for

    def run(self, stop: threading.Event) -> None:
        term: Term | None = None
        threads: list[threading.Thread] = []
        named_before = False  # whether Redis's last answer named this worker the holder
        try:
            while not stop.is_set():
                holder = self.lease.keep()
                held = self.lease.held()
                if term is not None and term.is_set():
                    self._lost(holder)
                    _end(term, threads, stop)
                    term = None
                if term is None and held and named_before:
                    term = Term(self.lease)
                    threads = self._begin(term)
                elif holder is not None and holder != self.lease.name and not held:
                    self._standing_by(holder)
                if holder is not None:
                    named_before = holder == self.lease.name
                stop.wait(RENEW_SECONDS)
        finally:
            if term is not None:
                _end(term, threads, stop)
            if not any(thread.is_alive() for thread in threads):
                self.lease.release()

    def _begin(self, term: Term) -> list[threading.Thread]:
        if self._told is None:
            log.info("worker is the active one", extra={"worker": who(self.lease.name)})
        else:  # it stood by: a word as loud as that one
            log.warning("worker took over: it is the active one", extra={"worker": who(self.lease.name)})
            self._told = None
        # Started from this thread, they block the signals it blocks (the main thread's to take).
        threads = [
            threading.Thread(target=duty, args=(term,), name=name, daemon=True) for name, duty in self.make_duties()
        ]
        for thread in threads:
            thread.start()
        return threads

    def _lost(self, holder: str | None) -> None:
        if holder is None or holder == self.lease.name:
            why = "not renewed in time"
        else:
            why = f"taken by {who(holder)}"
        log.warning("worker lost its lease: its duties stop until it holds it again", extra={"cause": why})

    def _standing_by(self, holder: str) -> None:
        if holder != self._told:
            log.warning("worker stands by: another worker is active", extra={"active_worker": who(holder)})
            self._told = holder


def _end(term: Term, threads: list[threading.Thread], stop: threading.Event) -> None:
    """Stop a term's duties and wait for their rounds to end: no longer than
    ``STOP_WAIT_SECONDS`` once the worker is told to stop."""
    term.set()
    for thread in threads:
        while thread.is_alive() and not stop.is_set():
            thread.join(timeout=RENEW_SECONDS)
        thread.join(timeout=STOP_WAIT_SECONDS)
