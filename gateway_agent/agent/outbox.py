"""Events from one device to the relay: signed, in order, and never lost.

Every report about a message or an incoming SMS is journalled in the ledger
first, then handed to Redis as an RQ job on ``wire.EVENTS_QUEUE``; it leaves
the journal only once the relay's worker acknowledged it
(``wire.event_ack_key``). Redis may lose a job before the worker ran it, so
an event with no acknowledgement after ``rehand_seconds``, and no job still
waiting in Redis, is handed on again; the worker answers a repeat with no
change. While Redis is
unreachable the journal grows, and it drains, oldest first, when Redis is
back, even after the agent was restarted in between. Heartbeats are
perishable and skip the journal; each names the agent's instance, and none is
written over another instance's (``gateway_agent.agent.instance``).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import redis
from redis.client import Pipeline

from gateway_agent.agent.instance import HeartbeatKey
from gateway_agent.agent.ledger import Ledger
from gateway_agent.modem import SendReceipt
from zimsend_common import bus, job_hashes, signing, wire
from zimsend_common.failures import FailureCode, describe
from zimsend_common.job_hashes import JobMaker
from zimsend_common.timefmt import isoformat_precise, utcnow

log = logging.getLogger(__name__)

_BATCH = 500  # events asked about, or handed on, per round trip
# How often ``hand_on`` asks which events the relay acknowledged. An event left
# in the journal a little longer costs nothing: it is handed again only after
# ``rehand_seconds``, and only when no job of it still waits.
ACK_CHECK_SECONDS = 1.0


class Outbox:
    """Reports this device's events to the relay's worker."""

    def __init__(
        self,
        ledger: Ledger,
        connection: redis.Redis,
        device_id: str,
        signing_key: str,
        *,
        rehand_seconds: float = 30.0,
        instance: str | None = None,
    ) -> None:
        """``instance``: the agent's, named in its heartbeats (``instance.instance_of``); one of
        this outbox's own when not given."""
        self._ledger = ledger
        self._rehand_seconds = rehand_seconds
        self._queue = bus.queue(wire.EVENTS_QUEUE, connection)
        self._connection = connection
        self._device_id = device_id
        self._signing_key = signing_key
        self.heartbeat_key = HeartbeatKey(connection, device_id, signing_key, instance or f"outbox-{uuid.uuid4().hex}")
        self._next_ack_check = 0.0
        # Events are handed on in their order, so those never handed follow the last one
        # handed: looked for from there (a seek on the key at each turn of the loop), not
        # among the hundreds waiting for their ack. An earlier run's are found at the first.
        self._handed_through = 0
        # Whether events may have been journalled since the last hand-on: if not, there is
        # none to look for. True at first, for an earlier run's.
        self._fresh = True
        self._later = False  # see handing_on_later
        self._jobs: JobMaker | None = None

    def event(self, kind: wire.EventKind, data: dict[str, Any], event_id: str | None = None) -> wire.Event:
        """A new event of this device, observed now; under a new id unless given ``event_id``."""
        event = wire.Event(kind=kind, device_id=self._device_id, at=isoformat_precise(utcnow()), data=data)
        return event if event_id is None else replace(event, event_id=event_id)

    def report(
        self,
        kind: wire.EventKind,
        data: dict[str, Any],
        *,
        message_id: str | None = None,
        finished: bool = False,
        event_id: str | None = None,
        received_parts: Sequence[str] = (),
    ) -> None:
        """Journal an event and try to hand it to Redis at once (but see ``handing_on_later``).

        ``finished`` says it is the last word on ``message_id``; ``event_id`` names an
        event that may have been reported before (the relay answers a repeat with no change);
        ``received_parts`` names the parts of the incoming message it hands on (``Ledger.append_event``).
        """
        document = self.event(kind, data, event_id).to_dict()
        self._ledger.append_event(document, message_id=message_id, finished=finished, received_parts=received_parts)
        self._fresh = True
        if not self._later:
            self.hand_on()

    @contextmanager
    def handing_on_later(self) -> Iterator[None]:
        """Within, reports are journalled only: the caller hands them on right after, in a
        round trip it makes anyway (the agent's loop, in the one that looks for a job), or
        with ``hand_on_journalled``. Within another, it hands on nothing either."""
        later, self._later = self._later, True
        try:
            yield
        finally:
            self._later = later

    def hand_on_journalled(self) -> None:
        """Hand on what was journalled within ``handing_on_later``, unless the caller is
        itself within one (it hands on in its own round trip)."""
        if not self._later:
            self.hand_on()

    def report_sent(
        self,
        message_id: str,
        receipt: SendReceipt,
        *,
        unreferenced_parts: int = 0,
        along: Callable[[Pipeline], None] | None = None,
    ) -> bool:
        """Report that the network accepted every part, and remember their references, and
        ``unreferenced_parts``, those it accepted under none of their own (``ledger.record_sent``).

        ``along`` adds commands of the caller's to the round trip that hands the event
        on; False when Redis was unreachable (the event waits in the journal, and
        ``along``'s commands were not run)."""
        data = {
            "message_id": message_id,
            "sent_at": isoformat_precise(receipt.submitted_at),
            "references": list(receipt.references),
            "parts": receipt.parts,
        }
        document = self.event("sent", data).to_dict()
        self._ledger.record_sent(
            message_id,
            receipt.references,
            receipt.recipient,
            receipt.submitted_at.timestamp(),
            document,
            unreferenced_parts=unreferenced_parts,
        )
        self._fresh = True
        return self.hand_on(along)

    def report_failure(self, message_id: str, code: FailureCode, detail: str, *, at: str | None = None) -> None:
        """Report that a message failed, with the contract's code and the modem's own words."""
        data = {
            "message_id": message_id,
            "failed_at": at or isoformat_precise(utcnow()),
            "code": str(code),
            "message": describe(code),
            "detail": detail,
        }
        self.report("failed", data, message_id=message_id, finished=True)

    def report_declined(self, message_id: str, data: dict[str, Any]) -> None:
        """Journal a ``declined`` event with the message held as declined in the ledger
        (``Ledger.decline``), both in one commit; handed on as ``report`` hands on."""
        self._ledger.decline(message_id, self.event("declined", data).to_dict())
        self._fresh = True
        if not self._later:
            self.hand_on()

    def report_again(self, message_id: str) -> None:
        """Journal once more the events already reported for a message, with their ids."""
        for document in self._ledger.message_events(message_id):
            self._ledger.append_event(document)
        self._fresh = True
        self.hand_on()

    def flush(self) -> bool:
        """Forget the events the relay acknowledged and hand on, oldest first, those due;
        False when Redis is unreachable."""
        return self._flush(ask_acknowledged=True) is not None

    def hand_on(self, along: Callable[[Pipeline], None] | None = None) -> bool:
        """Hand on new events; forget the acknowledged ones and hand on again those due
        as ``flush`` does, but at most every ``ACK_CHECK_SECONDS``. The agent calls it
        after each report and at each step of its loop. ``along`` adds commands to the
        first round trip, if one is made (there is one whenever an event was just
        journalled). False when Redis was unreachable.

        Behind a busy worker hundreds of events wait for their acknowledgement,
        and asking about them at every report made the agent's Redis traffic
        grow with the square of the backlog.
        """
        return self.hand_on_with(along) is not None

    def hand_on_with(self, along: Callable[[Pipeline], None] | None) -> list[Any] | None:
        """``hand_on``, answering what ``along``'s commands answered: [] when no round trip
        was made (nothing to hand on), None when Redis was unreachable before they ran."""
        return self._flush(ask_acknowledged=time.monotonic() >= self._next_ack_check, along=along)

    def _flush(self, *, ask_acknowledged: bool, along: Callable[[Pipeline], None] | None = None) -> list[Any] | None:
        answered: list[Any] | None = None
        try:
            if ask_acknowledged:
                self._next_ack_check = time.monotonic() + ACK_CHECK_SECONDS
            after = 0
            while True:
                handed = self._ledger.handed_events(after, _BATCH) if ask_acknowledged else []
                fresh = self._unhanded()
                if not handed and not fresh:
                    break
                keys = [wire.event_ack_key(self._device_id, event_id) for _, event_id in handed]
                own, reply = self._exchange(keys, fresh, along)
                if along is not None:
                    answered, along = reply, None
                self._settle([seq for seq, _ in handed], keys, fresh, own)
                self._handed_through = fresh[-1][0] if fresh else self._handed_through
                self._fresh = len(fresh) == _BATCH
                if len(handed) < _BATCH and len(fresh) < _BATCH:
                    break
                after = handed[-1][0] if handed else after
            if ask_acknowledged:  # so an event is never handed again unasked whether it was acknowledged
                self._hand_again_due()
        except redis.RedisError as exc:
            log.warning("events kept until Redis is back", extra={"error": str(exc)})
            # Once ``along``'s commands ran, what they answered stands (a job they popped
            # is off its queue): only what came after them waits for the next hand-on.
            return answered
        return [] if answered is None else answered

    def _unhanded(self) -> list[tuple[int, dict[str, Any]]]:
        """The events never handed on, oldest first (a batch of them); read only when one may have been journalled."""
        if not self._fresh:
            return []
        fresh = self._ledger.unhanded_events(_BATCH, self._handed_through)
        self._fresh = bool(fresh)
        return fresh

    def rehand_all(self) -> None:
        """Make every unacknowledged event due at the next ``flush``, however recently handed."""
        self._ledger.clear_handed()

    def _exchange(
        self,
        ack_keys: list[str],
        fresh: list[tuple[int, dict[str, Any]]],
        along: Callable[[Pipeline], None] | None = None,
    ) -> tuple[list[Any], list[Any]]:
        """In one round trip, count how many of the handed events the relay acknowledged
        (one command for all their ``ack_keys``), hand on the ``fresh`` ones (never handed: no job of
        theirs can be waiting, so none is looked for), and run ``along``'s commands: the
        answers to the outbox's own commands, and those to ``along``'s, a refusal among
        either left in its place."""
        # A transaction: a job's hash is never written without its place on the queue,
        # which would leave it "waiting" for ever (``_still_waiting``).
        pipeline = self._connection.pipeline()
        if ack_keys:
            pipeline.exists(*ack_keys)
        self._enqueue_all([document for _, document in fresh], pipeline)
        own = len(pipeline)
        if along is not None:
            along(pipeline)
        answers = pipeline.execute(raise_on_error=False)
        return answers[:own], answers[own:]

    def _settle(
        self, handed: list[int], ack_keys: list[str], fresh: list[tuple[int, dict[str, Any]]], answers: list[Any]
    ) -> None:
        """Keep in the ledger what an exchange's own ``answers`` tell: which of the ``handed``
        events (acknowledged under ``ack_keys``) were acknowledged (forgotten), and that the
        ``fresh`` ones were handed on. Raises the first refusal among them, having kept
        nothing; ``along``'s were never among them."""
        for answer in answers:
            if isinstance(answer, redis.ResponseError):
                raise answer
        try:
            acknowledged = self._acknowledged(handed, ack_keys, answers[0] if ack_keys else 0)
        except redis.RedisError:  # asked again at the next check
            acknowledged = []
        if handed or fresh:
            self._ledger.settle_outbox(acknowledged, [seq for seq, _ in fresh], time.time())

    def _acknowledged(self, seqs: list[int], keys: list[str], counted: int) -> list[int]:
        """Which of the events ``seqs`` (acknowledged under ``keys``) were acknowledged,
        knowing that ``counted`` of them were.

        The worker applies a device's events in the order they were handed, so
        the acknowledged ones are nearly always the oldest ``counted``: one more
        command proves it (``counted`` distinct keys all exist). Otherwise, as
        after an event was handed again, each is asked about alone. Asking
        each every second cost one command per waiting event, and behind a busy
        worker hundreds wait.
        """
        if counted == 0:
            return []
        if counted == len(seqs) or self._connection.exists(*keys[:counted]) == counted:
            return seqs[:counted]
        pipeline = self._connection.pipeline(transaction=False)
        for key in keys:
            pipeline.exists(key)
        return [seq for seq, found in zip(seqs, pipeline.execute(), strict=True) if found]

    def _hand_again_due(self) -> None:
        now = time.time()
        while batch := self._ledger.due_events(now - self._rehand_seconds):
            waiting = self._still_waiting([document["event_id"] for _, document in batch])
            self._enqueue_all([document for _, document in batch if document["event_id"] not in waiting])
            self._ledger.mark_handed([seq for seq, _ in batch], now)

    def _still_waiting(self, event_ids: list[str]) -> set[str]:
        """The events whose job Redis still holds, not yet run (``bus.still_waiting``)."""
        job_ids = {wire.event_job_id(self._device_id, event_id): event_id for event_id in event_ids}
        return {job_ids[job_id] for job_id in bus.still_waiting(self._connection, list(job_ids))}

    def publish_heartbeat(self, data: dict[str, Any], ttl_seconds: int) -> None:
        """Publish the device's state, naming this agent's instance, under its heartbeat key
        and as an event, in one transaction.

        Raises ``instance.DeviceTaken``, publishing nothing, when another instance's live
        heartbeat is in the key, and ``redis.RedisError`` when Redis is unreachable.
        """
        event = self.event("heartbeat", {**data, "instance": self.heartbeat_key.instance})
        document = event.to_dict()
        self._event_jobs()  # made before the transaction: it asks Redis its version
        self.heartbeat_key.write(
            signing.seal(event, self._signing_key),
            ttl_seconds,
            lambda pipeline: self._enqueue_all([document], pipeline),
        )

    def publish_goodbye(self, data: dict[str, Any]) -> bool:
        """Say the agent is going away: the last heartbeat event, and no heartbeat key left;
        nothing, and False, when another instance's live heartbeat is in the key (the device
        is that agent's: a goodbye would show it stopped).

        Raises ``redis.RedisError`` when Redis is unreachable.
        """
        if not self.heartbeat_key.clear():
            return False
        self._enqueue(self.event("heartbeat", {**data, "instance": self.heartbeat_key.instance}).to_dict())
        return True

    def _enqueue(self, document: dict[str, Any]) -> None:
        self._enqueue_all([document])

    def _enqueue_all(self, documents: list[dict[str, Any]], pipeline: redis.client.Pipeline | None = None) -> None:
        """Put each event on the events queue as its job, in order: in one round trip of
        its own, or as part of ``pipeline`` (which the caller executes).

        Each job is the hash RQ's ``enqueue_many`` would store, made from one model
        (``JobMaker``) and stored by ``job_hashes.enqueue``: RQ
        builds a whole job object for each, which cost the agent more than the round
        trip that hands it on.
        """
        if not documents:
            return
        if pipeline is None:
            with self._connection.pipeline() as own:
                self._enqueue_all(documents, own)
                own.execute()
            return
        maker, at = self._event_jobs(), utcnow()
        jobs = [
            maker.make(
                wire.event_job_id(self._device_id, document["event_id"]),
                [document, signing.sign(document, self._signing_key)],
                at,
            )
            for document in documents
        ]
        job_hashes.enqueue(pipeline, jobs)

    def _event_jobs(self) -> JobMaker:
        """What makes this device's event jobs; made at the first event (RQ asks Redis its version)."""
        if self._jobs is None:
            self._jobs = JobMaker(self._queue, wire.APPLY_EVENT_FUNC)
        return self._jobs
