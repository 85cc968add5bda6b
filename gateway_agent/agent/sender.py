"""Sending one message: claim it, hand it to the modem once, report the outcome.

The order is what makes a message leave at most once:

1. a message this device already took (a duplicate job, or one re-queued
   after Redis lost its data) is answered with the events already reported,
   never sent again;
2. the claim (``SET NX`` on ``wire.claim_key``) decides between this device,
   a cancel and any other device of the client; the loser drops the job.
   The job that carried the message is deleted in the claim's round trip,
   whoever wins: from there on the claim speaks for the message.
   The ledger notes the claim first: a claim the agent was killed before
   taking up is given back when it starts again (``give_back_claims``),
   so the relay places its message again at once instead of minutes later;
3. the ledger records the message as taken, durably, before the modem sees it;
4. the modem is asked again only when it answered that the message did not
   go and that the reason may pass (``ModemError.temporary``); a send whose
   outcome is unknown (no answer, port gone) is reported failed, never retried.
   A message some parts of which went is asked again only for the rest
   (``ModemError.progress``); when it ends failed all the same, its outcome
   is unknown, since its recipient may have those parts.
5. a message of the client's shared queue that the SIM refused for want of
   credit (``FailureCode.NO_CREDIT``: barred, not subscribed) before any of its
   parts went is declined rather than failed: the ledger holds it as declined
   (this device never sends it) and journals a ``declined`` event, then the
   device gives its claim back, only while the claim is still its own
   (compare-and-delete: a cancel that won meanwhile keeps it), and hands the
   event on. The relay's worker decides where it goes next. A message the
   client pinned to this device fails as before: no other device may send it.

Between 1 and 2, a message that does not fit in what is left of the device's
daily send limit (``agent.daily_cap``) is not started: its job goes back,
unclaimed, to the head of its queue (``bus.put_back``), for another device or
the next day. One of more parts than the whole limit is claimed and taken as
any other, then leaves unsent: a shared one is declined as in 5, with
``DEVICE_ERROR`` and the limit in its detail, for a device of a larger limit;
one pinned to this device fails with them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import redis
from redis.client import Pipeline

from gateway_agent.agent.daily_cap import Admission, DailyCap
from gateway_agent.agent.ledger import DECLINED, Ledger
from gateway_agent.agent.outbox import Outbox
from gateway_agent.errors import ModemError, ModemTimeout, PortGone
from gateway_agent.modem import Modem, SendReceipt
from zimsend_common import bus, device_written, job_deletion, wire
from zimsend_common.config import AgentSettings
from zimsend_common.failures import FailureCode, describe
from zimsend_common.timefmt import isoformat_precise, parse_utc, utcnow

log = logging.getLogger(__name__)

SEND_TIMES_KEPT = 100
UNKNOWN_OUTCOME = "outcome unknown: {reason}; the message was not sent again"


class Sender:
    """Sends the messages of one device, one at a time."""

    def __init__(
        self,
        settings: AgentSettings,
        connection: redis.Redis,
        ledger: Ledger,
        outbox: Outbox,
        modem: Modem,
        idle: Callable[[float], bool],
        cap: DailyCap,
        no_credit: Callable[[str], None] = lambda detail: None,
    ) -> None:
        """``idle(seconds)`` waits while serving the modem; it returns False when asked to stop.
        ``cap`` says whether a message may start today.
        ``no_credit(detail)`` is told each time the SIM refuses a send for want of credit."""
        self._settings = settings
        self._cap = cap
        self._device_id = settings.device_id
        self._connection = connection
        self._ledger = ledger
        self._outbox = outbox
        self._modem = modem
        self._idle = idle
        self._no_credit = no_credit
        self._inflight_marked = False  # the current message's in-flight mark is not yet cleared

    def handle(self, job: wire.SendJob, carrier: bus.TakenJob | None = None) -> str:
        """Send the message unless it was taken or cancelled; returns what became of it.

        ``carrier`` is the queue's job the message came in, deleted with the claim.
        Raises ``redis.RedisError`` only before the modem was touched, so the
        same job may be handled again once Redis is back.
        """
        state = self._ledger.message_state(job.message_id)
        if state in DECLINED:
            # Declined here before: never ours to send, and never to be claimed again.
            if carrier is not None:
                job_deletion.discard(carrier)
            self._give_back(job.client_id, job.message_id)
            self._outbox.report_again(job.message_id)
            return "declined before"
        if state is not None:
            # Taken before (Redis may have lost the claim since): keep it ours, say it again.
            self._claim(job.client_id, job.message_id, carrier)
            self._outbox.report_again(job.message_id)
            return "duplicate"
        parts = self._cap.parts(job.text)  # split once: admitted, then counted once sent
        admission = self._cap.admit(parts)
        if admission is Admission.NEXT_DAY:
            if carrier is not None:
                bus.put_back(carrier)
            return "left for the next day"
        self._ledger.claiming(job.client_id, job.message_id, job.to, time.time())
        if not self._claim(job.client_id, job.message_id, carrier):
            self._ledger.forget_claim(job.message_id)
            return "not claimed"
        self._ledger.take(job.message_id, job.to, time.time())
        if _expired(job.valid_until):
            detail = f"valid_until {job.valid_until} passed before the message could be sent"
            self._outbox.report_failure(job.message_id, FailureCode.TIMEOUT, detail)
            return "expired"
        if admission is Admission.NEVER:
            if job.device_id is None:  # another device of the client, of a larger limit, may send it
                return self._decline(job, FailureCode.DEVICE_ERROR, self._cap.too_long(parts))
            return self._fail(job.message_id, FailureCode.DEVICE_ERROR, self._cap.too_long(parts))
        self._mark_inflight(job.message_id)
        self._inflight_marked = True
        try:
            return self._send(job, parts)
        finally:
            if self._inflight_marked:
                self._clear_inflight()

    def _claim(self, client_id: str, message_id: str, carrier: bus.TakenJob | None) -> bool:
        key, mine = wire.claim_key(client_id, message_id), wire.claim_value_device(self._device_id)
        pipeline = self._connection.pipeline(transaction=False)
        if carrier is not None:
            job_deletion.discard(carrier, pipeline)
        pipeline.set(key, mine, nx=True, ex=wire.CLAIM_TTL_SECONDS)
        # Our own claim from a run that stopped before the ledger took the
        # message (the modem never saw it) is ours too.
        pipeline.get(key)
        # A key of another kind where a sibling device should have left a claim or
        # a registry answers as a refusal, never fails the round trip.
        *_, won, holder = device_written.answers(pipeline)
        return won is True or holder == mine.encode()

    def answer_for_last_run(self) -> None:
        """Report failed, never resend, whatever the modem had when the agent last stopped;
        give back what it claimed and never handed to the modem."""
        unknown = UNKNOWN_OUTCOME.format(reason="the agent stopped while its modem had the message")
        for message_id in self._ledger.unfinished_sends():
            self._outbox.report_failure(message_id, FailureCode.DEVICE_ERROR, unknown)
        try:
            raw = self._connection.get(wire.inflight_key(self._device_id))
            inflight = raw.decode() if isinstance(raw, bytes) else None
            if inflight is not None and self._ledger.message_state(inflight) is None:
                self._outbox.report_failure(inflight, FailureCode.DEVICE_ERROR, unknown)
            self._connection.delete(wire.inflight_key(self._device_id))
            given = self.give_back_claims()
            if given:
                log.warning("claims never taken up given back", extra={"device_id": self._device_id, "count": given})
        except redis.RedisError:
            pass  # the ledger already answered for every message this agent took

    def give_back_claims(self) -> int:
        """Give back the claims this device made and never took up (the agent stopped
        in between: the modem never saw their messages), and those of the messages it
        declined and stopped before giving back; returns how many it held."""
        given = 0
        for client_id, message_id in self._ledger.claims_not_taken():
            given += int(self._release(client_id, message_id))
            self._ledger.forget_claim(message_id)
        for client_id, message_id in self._ledger.declined_claims():
            given += int(self._give_back(client_id, message_id))
        return given

    def _release(self, client_id: str, message_id: str) -> bool:
        """Delete the message's claim while it is this device's (never a cancel's or another
        device's); whether it was."""
        key, mine = wire.claim_key(client_id, message_id), wire.claim_value_device(self._device_id)
        return device_written.delete_if_equal(self._connection, key, mine)

    def _give_back(self, client_id: str, message_id: str) -> bool:
        """Give back the claim of a message this device declined; whether it held it. A Redis
        that cannot be asked leaves it to the next start (and to the relay's worker, which
        takes a claim from a device that declined its message)."""
        try:
            held = self._release(client_id, message_id)
        except redis.RedisError:
            return False
        self._ledger.claim_given_back(message_id)
        return held

    def _send(self, job: wire.SendJob, parts: int) -> str:
        """Send the message of ``parts`` (``DailyCap.parts``), retrying what the network refused for now."""
        refusal: ModemError | None = None
        for attempt in range(self._settings.send_retries + 1):
            if refusal is not None:
                if not self._idle(self._settings.retry_backoff_seconds * 2 ** (attempt - 1)):
                    detail = _outcome(f"{refusal.detail}; the agent stopped", refusal)
                    return self._fail(job.message_id, refusal.failure, detail)
                if _expired(job.valid_until):
                    detail = _outcome(f"{refusal.detail}; valid_until passed", refusal)
                    return self._fail(job.message_id, FailureCode.TIMEOUT, detail)
            started = time.monotonic()
            try:
                receipt = self._modem.send(job.to, job.text, resume=refusal.progress if refusal else None)
            except (ModemTimeout, PortGone) as error:
                self._keep_accepted(job, error)
                return self._fail(job.message_id, error.failure, UNKNOWN_OUTCOME.format(reason=error.detail))
            except ModemError as error:
                self._keep_accepted(job, error)
                if error.failure == FailureCode.NO_CREDIT:
                    self._no_credit(error.detail)
                    if _may_decline(job, error, refusal):
                        return self._decline(job, error.failure, error.detail)
                if not error.temporary:
                    return self._fail(job.message_id, error.failure, _outcome(error.detail, error))
                refusal = error
                log.info("send refused for now", extra={"message_id": job.message_id, "attempt": attempt + 1})
                continue
            except Exception as error:  # a backend bug must not take the agent down
                log.exception("modem backend failed", extra={"message_id": job.message_id})
                reason = UNKNOWN_OUTCOME.format(reason=repr(error))
                return self._fail(job.message_id, FailureCode.DEVICE_ERROR, reason)
            self._sent(
                job.message_id, receipt, self._cap.unreferenced(parts, receipt.parts), time.monotonic() - started
            )
            return "sent"
        assert refusal is not None
        detail = _outcome(f"{refusal.detail} (tried {attempt + 1} times)", refusal)
        return self._fail(job.message_id, refusal.failure, detail)

    def _sent(self, message_id: str, receipt: SendReceipt, unreferenced_parts: int, seconds: float) -> None:
        # The in-flight mark is cleared in the round trip that hands on the ``sent`` event.
        along = self._inflight_cleared(seconds)
        if self._outbox.report_sent(message_id, receipt, unreferenced_parts=unreferenced_parts, along=along):
            self._inflight_marked = False
        log.info("message sent", extra={"message_id": message_id, "parts": receipt.parts})

    def _keep_accepted(self, job: wire.SendJob, error: ModemError) -> None:
        """Keep in the ledger the parts the network accepted before ``error``, if any: they
        count against the daily limit whether or not the rest follow."""
        if error.progress is not None and error.progress.references:
            self._ledger.record_accepted_parts(job.message_id, error.progress.references, job.to, time.time())

    def _decline(self, job: wire.SendJob, code: FailureCode, detail: str) -> str:
        """Leave the message to the client's other devices, unsent here for ``code`` (one of
        ``wire.DECLINE_CODES``): declined in the ledger with its event journalled, then the
        claim given back, then the event handed on."""
        data = {
            "message_id": job.message_id,
            "declined_at": isoformat_precise(utcnow()),
            "code": str(code),
            "message": describe(code),
            "detail": detail,
        }
        # The claim goes back before the event reaches the worker, which then finds the
        # message unclaimed and places it at once.
        with self._outbox.handing_on_later():
            self._outbox.report_declined(job.message_id, data)
        self._give_back(job.client_id, job.message_id)
        self._outbox.hand_on()
        log.warning(
            "message declined: left to the client's other devices",
            extra={"message_id": job.message_id, "code": str(code), "detail": detail},
        )
        return "declined"

    def _fail(self, message_id: str, code: FailureCode, detail: str) -> str:
        self._outbox.report_failure(message_id, code, detail)
        log.warning("message failed", extra={"message_id": message_id, "code": str(code), "detail": detail})
        return "failed"

    def _mark_inflight(self, message_id: str) -> None:
        try:
            self._connection.set(wire.inflight_key(self._device_id), message_id)
        except redis.RedisError:
            pass  # the ledger alone still keeps the message from a second send

    def _clear_inflight(self) -> None:
        try:
            pipeline = self._connection.pipeline()
            self._inflight_cleared(None)(pipeline)
            pipeline.execute()
        except redis.RedisError:
            pass  # the mark is cleared at the next start

    def _inflight_cleared(self, send_seconds: float | None) -> Callable[[Pipeline], None]:
        """What clears the in-flight mark and, after a send, keeps how long it took (for
        the relay's estimates), as commands for a pipeline."""

        def clear(pipeline: Pipeline) -> None:
            pipeline.delete(wire.inflight_key(self._device_id))
            if send_seconds is not None:
                key = wire.send_times_key(self._device_id)
                pipeline.lpush(key, f"{send_seconds:.3f}")
                pipeline.ltrim(key, 0, SEND_TIMES_KEPT - 1)

        return clear


def _may_decline(job: wire.SendJob, error: ModemError, earlier: ModemError | None) -> bool:
    """Whether a refusal leaves the message to the client's other devices: one for want of
    credit, of a message of the shared queue (one the client pinned here may leave through
    no other device), before any of its parts went (by this try or an earlier one)."""
    untouched = error.progress is None and (earlier is None or earlier.progress is None)
    return error.failure == FailureCode.NO_CREDIT and job.device_id is None and untouched


def _outcome(detail: str, error: ModemError) -> str:
    """The ``detail`` of a message failed by ``error``: its outcome is unknown when some of
    its parts went, for its recipient may have them."""
    return detail if error.progress is None else UNKNOWN_OUTCOME.format(reason=detail)


def _expired(valid_until: str | None) -> bool:
    if not valid_until:
        return False
    try:
        return utcnow() > parse_utc(valid_until)
    except ValueError:
        return False
