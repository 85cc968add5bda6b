"""The device agent: one process, one modem opened once, one message at a time.

An RQ worker's ``work()`` blocks on its queues, while an agent must also serve
its modem between jobs (status reports, incoming SMS, a lost port:
``agent.modem_events``), publish heartbeats and drain its event journal. So
the agent runs its own loop in the main thread and takes each job with
``bus.take`` and a short timeout, from
``wire.agent_queue_order`` (priority first, the device's own queue before the
client's shared one); the round trip that hands on the events journalled
since the last one also pops a job already waiting (``bus.pop_now``), so a
busy agent waits for Redis once less a message. Nothing is forked: the serial port
stays with this process. Jobs are JSON data read through ``zimsend_common.bus``
and only send jobs the relay signed for this device are taken
(``gateway_agent.agent.jobs.accept``); the queues carry messages, never code for the
device's host. A refused job is reported to the relay as a ``job_refused`` event.

Which queues it takes from, and when it waits instead (its send rate, its
daily send limit, its client's shared queues left after its SIM refused for
want of credit), is ``agent.intake``'s.

When Redis is unreachable the agent keeps serving its modem, journals what
it has to say, and takes jobs again once Redis is back.

One agent serves a device: on a host by its lock, across hosts by the
instance its heartbeats name (``agent.instance``).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from gateway_agent.agent import jobs
from gateway_agent.agent.binding import ClientBinding
from gateway_agent.agent.device_lock import DeviceLock
from gateway_agent.agent.epoch import EpochWatch
from gateway_agent.agent.heartbeat import AgentState, heartbeat_data
from gateway_agent.agent.instance import DeviceTaken, instance_of, wait_while_held
from gateway_agent.agent.intake import Intake
from gateway_agent.agent.ledger import Ledger
from gateway_agent.agent.local_day import start_of_day, start_of_next_day
from gateway_agent.agent.manifests import Manifests
from gateway_agent.agent.modem_events import RETRY_SECONDS, ModemEvents
from gateway_agent.agent.outbox import Outbox
from gateway_agent.agent.pulse import Pulse
from gateway_agent.agent.sender import Sender
from gateway_agent.backends import open_modem
from gateway_agent.errors import ModemError
from gateway_agent.modem import Identity, Modem, PortLost, PortRestored
from gateway_agent.reports.tracker import DeliveryTracker
from zimsend_common import bus, redis_client, signing, wire
from zimsend_common.config import ConfigError, Settings

log = logging.getLogger(__name__)

POLL_SECONDS = redis_client.AGENT_BLOCKING_READ_SECONDS
MAX_OPEN_PAUSE_SECONDS = 30.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
LEDGER_KEPT_SECONDS = 7 * 24 * 3600  # longer than any status report takes to come
PRUNE_EVERY_SECONDS = 3600


def ledger_path(settings: Settings) -> Path:
    """Where an agent keeps its ledger: beside the relay's data, one file per device."""
    return settings.relay.data_dir / "agents" / f"{settings.agent.device_id}.sqlite3"


def lock_path(settings: Settings) -> Path:
    """The file whose lock the device's agent holds (``device_lock``), beside its ledger."""
    return ledger_path(settings).with_suffix(".lock")


class Agent:
    """Serves one device until stopped; the only one on this host from its making until
    ``run()`` returns (``DeviceBusy`` when another holds the device), and the only one
    anywhere while it serves (``run()`` waits for another instance, or raises ``DeviceTaken``)."""

    def __init__(
        self,
        settings: Settings,
        *,
        modem: Modem | None = None,
        connection: redis.Redis | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``clock`` tells the time the device's day is counted by (``daily_cap``, ``sent_today``)."""
        agent = settings.agent
        if not agent.device_id or not agent.device_password:
            raise ConfigError("an agent needs device_id and device_password")
        self._clock = clock
        self._lock = DeviceLock.take(lock_path(settings), agent.device_id)
        try:
            self._prepare(settings, modem, connection)
        except BaseException:
            self._lock.release()
            raise

    def _prepare(self, settings: Settings, modem: Modem | None, connection: redis.Redis | None) -> None:
        """Make the agent's parts; the device's lock is held."""
        agent = settings.agent
        self._settings = settings
        self._device_id = agent.device_id
        self._modem = modem or open_modem(settings)
        self._connection = connection or redis_client.connect(settings.relay.redis_url, redis_client.AGENT)
        self._ledger = Ledger(ledger_path(settings))
        self._modem.recall_parts_with(self._ledger.incoming_parts.event_of_part)
        self._modem.hold_parts_in(self._ledger.incoming_parts)
        self._signing_key = signing.device_signing_key(agent.device_password.get_secret_value())
        self._manifests = Manifests(self._connection, self._device_id, self._signing_key)
        self._outbox = Outbox(
            self._ledger,
            self._connection,
            self._device_id,
            self._signing_key,
            rehand_seconds=agent.event_rehand_seconds,
            instance=instance_of(lock_path(settings)),
        )
        self._pulse = Pulse(
            self._outbox,
            agent.heartbeat_seconds,
            settings.relay.device_offline_after_seconds,
            agent.longest_send_seconds() + agent.heartbeat_seconds,
        )
        self._epoch = EpochWatch(self._connection, self._ledger, self._outbox, self._device_id)
        self._binding = ClientBinding(self._connection, self._ledger, self._device_id, self._signing_key)
        self._intake = Intake(self._ledger, settings, self._binding, clock=self._clock, changed=self._beat_soon)
        self._sender = Sender(
            agent,
            self._connection,
            self._ledger,
            self._outbox,
            self._modem,
            self.idle,
            self._intake.cap,
            self._intake.refused_for_credit,
        )
        self._modem_events = ModemEvents(
            self._modem,
            self._outbox,
            DeliveryTracker(self._ledger, self._outbox),
            self._device_id,
            self._on_port,
            self._pause,
        )
        self._state: AgentState = "modem_lost"
        self._identity: Identity | None = None
        self._held: jobs.Taken | None = None  # taken from Redis, not yet claimed
        self._next_heartbeat = 0.0
        self._next_prune = 0.0
        self._redis_up = True
        self._stopping = False
        self._taken: DeviceTaken | None = None  # another instance took the device while this one served

    # -- life ---------------------------------------------------------------

    def run(self) -> None:
        """Wait while another instance serves the device, open the modem, serve the device
        until ``stop()`` or SIGTERM/SIGINT, close the modem. Raises ``DeviceTaken`` when
        another instance took the device while this one served it."""
        restore = self._handle_signals()
        served = False
        try:
            served = wait_while_held(self._outbox.heartbeat_key, self._device_id, self._pause)
            if served:
                self._pulse.start()
                self._sender.answer_for_last_run()
                if self._open_modem():
                    while not self._stopping:
                        self._step()
            log.info("stopping", extra={"device_id": self._device_id})
        finally:
            self._farewell(served)
            restore()
        if self._taken is not None:
            raise self._taken

    def stop(self) -> None:
        """Finish the current send, then return from ``run()``."""
        self._stopping = True

    def send(self, job: wire.SendJob, carrier: bus.TakenJob | None = None) -> str:
        """Send one message through this agent's modem; returns what became of it.
        ``carrier`` is the queue's job it came in, deleted with the message's claim."""
        return self._sender.handle(job, carrier)

    def idle(self, seconds: float) -> bool:
        """Serve the modem for ``seconds``; False when the agent was asked to stop."""
        deadline = time.monotonic() + seconds
        while not self._stopping and (remaining := deadline - time.monotonic()) > 0:
            self._modem_events.serve(min(remaining, POLL_SECONDS))
        return not self._stopping

    def _handle_signals(self) -> Callable[[], None]:
        """Stop on SIGTERM and SIGINT; returns what puts the previous handlers back."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous = {sig: signal.signal(sig, lambda signum, frame: self.stop()) for sig in STOP_SIGNALS}

        def restore() -> None:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

        return restore

    def _open_modem(self) -> bool:
        pause = RETRY_SECONDS
        while not self._stopping:
            try:
                self._modem.open()  # a backend cleans up after a failed open
            except Exception as error:  # whatever the backend raised, the modem may come later
                detail = error.detail if isinstance(error, ModemError) else repr(error)
                log.warning("modem not ready", extra={"device_id": self._device_id, "error": detail})
                self._pause(pause)
                pause = min(pause * 2, MAX_OPEN_PAUSE_SECONDS)
                continue
            self._identify()
            self._state = "online"
            log.info("modem open", extra={"device_id": self._device_id})
            return True
        return False

    def _farewell(self, served: bool) -> None:
        """Say goodbye if this agent served the device and still does; close the modem and
        the ledger, free the device's lock."""
        if self._held is not None:
            log.warning(
                "message taken but not sent; the relay queues it again",
                extra={"message_id": self._held.send.message_id},
            )
        self._pulse.stop()
        try:
            self._outbox.flush()
            if self._state != "modem_lost":
                self._state = "stopped"
            if served and self._taken is None:  # else the device is another agent's: no goodbye
                self._outbox.publish_goodbye(self._heartbeat_data())
        except redis.RedisError:
            pass  # the relay sees the heartbeat lapse instead
        finally:
            # An event it could not journal stays on the modem, unacknowledged, to be read again.
            self._modem.close(handed_out_kept=self._modem_events.all_kept)
            self._ledger.close()
            self._lock.release()

    # -- one turn of the loop -------------------------------------------------

    def _step(self) -> None:
        try:
            with self._outbox.handing_on_later():  # in the round trip of _take or _hand_on below
                self._modem_events.serve(0)
            if time.monotonic() >= self._next_heartbeat:
                self._heartbeat()
            if self._held is None:
                self._held = self._take()
            else:
                self._hand_on()
            if self._held is not None:
                outcome = self.send(self._held.send, self._held.job)
                log.info("job done", extra={"message_id": self._held.send.message_id, "outcome": outcome})
                self._held = None
        except DeviceTaken as taken:
            log.error(f"{taken}; this agent stops and takes no more jobs", extra={"device_id": self._device_id})
            self._taken, self._stopping = taken, True
            return
        except redis.RedisError as error:
            if self._redis_up:
                log.warning("Redis unreachable", extra={"device_id": self._device_id, "error": str(error)})
            self._redis_up = False
            self._next_heartbeat = 0.0  # once Redis is back, the heartbeat key is read before a job is taken
            self.idle(RETRY_SECONDS)
            return
        except Exception:  # whatever went wrong, the device keeps being served
            log.exception("agent step failed", extra={"device_id": self._device_id})
            # A message already taken is never sent twice (the ledger answers a
            # second try); one not yet claimed is placed again by the relay.
            self._held = None
            self.idle(RETRY_SECONDS)
            return
        if not self._redis_up:
            log.warning("Redis reachable again", extra={"device_id": self._device_id})
            self._redis_up = True

    def _take(self) -> jobs.Taken | None:
        """Hand on the events waiting, then take a job when the device may send."""
        wait = self._intake.wait_seconds()
        if self._state != "online" or wait > 0:
            self._hand_on()
            self.idle(min(wait or POLL_SECONDS, POLL_SECONDS))
            return None
        names = self._intake.queue_names()
        popped = self._hand_on_popping(names)
        job = bus.take(names, POLL_SECONDS, self._connection, popped)
        if job is None:
            return None
        self._modem_events.serve(0)  # a port lost while we waited for the job shows now
        if self._state != "online":
            bus.put_back(job)
            return None
        return jobs.accept(
            job, self._binding.client_id, self._device_id, self._signing_key, self._manifests, self._report_refusal
        )

    def _hand_on(self) -> None:
        """Hand on the events waiting. Raises ``redis.ConnectionError`` when Redis is unreachable."""
        if not self._outbox.hand_on():
            raise redis.ConnectionError("events are waiting for Redis")

    def _hand_on_popping(self, names: list[str]) -> Any:
        """Hand on the events waiting and, in the same round trip, pop a job already waiting on
        the queues ``names``: what that pop answered (``bus.take``'s ``popped``), or None
        when there was nothing to hand on (the pop is then ``take``'s own wait). Raises
        ``redis.ConnectionError`` when Redis is unreachable."""
        answered = self._outbox.hand_on_with(lambda pipeline: bus.pop_now(pipeline, names))
        if answered is None:
            raise redis.ConnectionError("events are waiting for Redis")
        return answered[0] if answered else None

    def _beat_soon(self) -> None:
        """Have the relay hear at once of a change in what the device takes (a pause, a day over)."""
        self._next_heartbeat = 0.0

    def _report_refusal(self, refusal: jobs.JobRefusal) -> None:
        if not refusal.left_for_relay:
            self._outbox.report("job_refused", refusal.data())

    # -- heartbeats -------------------------------------------------------------

    def _heartbeat(self) -> None:
        self._next_heartbeat = time.monotonic() + self._settings.agent.heartbeat_seconds
        if time.monotonic() >= self._next_prune:
            self._next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
            self._ledger.prune(time.time() - LEDGER_KEPT_SECONDS)
        self._binding.learn()
        self._epoch.check(self._binding.client_id)
        self._pulse.beat(self._heartbeat_data())

    def _heartbeat_data(self) -> dict[str, Any]:
        now = self._clock()
        day = (start_of_day(now), start_of_next_day(now))
        data = heartbeat_data(
            self._state, self._modem, self._identity, self._ledger, self._connection, self._intake.queue_names(), day
        )
        # The whole limit, so that the relay routes the device no message it could never send in a day.
        return {**data, **self._intake.pauses(), "daily_send_limit": self._settings.agent.daily_send_limit}

    # -- the modem ----------------------------------------------------------------

    def _on_port(self, event: PortLost | PortRestored) -> None:
        """Follow the modem's port: lost, the agent takes no job; back, the device on it is read again."""
        if isinstance(event, PortLost):
            log.warning("modem port lost", extra={"device_id": self._device_id, "reason": event.reason})
            self._state = "modem_lost"
            self._next_heartbeat = 0.0
        else:
            log.warning("modem port restored", extra={"device_id": self._device_id})
            self._state = "online"
            self._next_heartbeat = 0.0
            self._identify()

    def _identify(self) -> None:
        """Read the modem's identity again: the device back on the port may be another one."""
        try:
            self._identity = self._modem.identify()
        except ModemError as error:
            log.warning("modem identity unknown", extra={"device_id": self._device_id, "error": error.detail})

    def _pause(self, seconds: float) -> bool:
        """Wait ``seconds``; False when the agent was asked to stop."""
        deadline = time.monotonic() + seconds
        while not self._stopping and time.monotonic() < deadline:
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
        return not self._stopping
