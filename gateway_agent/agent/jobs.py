"""What an agent accepts of the send jobs it takes from its queues.

A send job is data, never code to run: the agent's loop takes it from Redis,
checks it here and hands the message to its sender, on its one open modem.

Redis is shared with every agent host, so a job is believed only when the
relay signed it for this device within ``wire.SEND_JOB_MAX_AGE_SECONDS``
(``signing.sign_send_job``, or the manifest of its batch:
``zimsend_common.manifest``), and it names this device or, on the client's
shared queue, this device's client; a shared message the relay routed to
this device by its destination (``dispatch.routes``) waits on the device's
own queue, signed for it alone, and is taken before the device knows its
client too. Whatever fails a check never reaches the modem: it is refused
with a ``JobRefusal`` reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from gateway_agent.agent.manifests import Manifests
from zimsend_common import bus, job_deletion, manifest, signing, wire
from zimsend_common.timefmt import utcnow

log = logging.getLogger(__name__)

# A shared job signed for the client's other devices only: this device was
# added after it was queued. Not an attack; the relay places it again, signed
# for every device, once it finds the message without a job.
NOT_SIGNED_FOR_DEVICE = "not_signed_for_device"
# A job of a batch whose manifest lapsed (it waited longer than
# ``manifest.KEPT_SECONDS``): left to the relay likewise.
MANIFEST_LAPSED = "manifest_lapsed"
_LEFT_FOR_RELAY = frozenset({NOT_SIGNED_FOR_DEVICE, MANIFEST_LAPSED})
_TEXT_FIELDS = ("message_id", "client_id", "to", "text", "issued_at", "nonce")


@dataclass(frozen=True)
class JobRefusal:
    """A job the agent would not take, and why; ``data`` is the ``job_refused`` event's."""

    reason: str
    job_id: str
    queue: str
    message_id: str | None

    @property
    def left_for_relay(self) -> bool:
        """True when the job is no fault to report: the relay places its message again."""
        return self.reason in _LEFT_FOR_RELAY

    def data(self) -> dict[str, Any]:
        return {"reason": self.reason, "job_id": self.job_id, "queue": self.queue, "message_id": self.message_id}


@dataclass(frozen=True)
class Taken:
    """A send job the agent accepted: its message, and the queue's job that carried it,
    which the sender deletes in its claim's round trip (``job_deletion.discard``)."""

    send: wire.SendJob
    job: bus.TakenJob


class _Refused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def send_job_from(payload: dict[str, Any]) -> wire.SendJob:
    """The message a send job's payload describes; ValueError when it is not one."""
    if not isinstance(payload, dict):
        raise ValueError("a send job's payload is a dict")
    job = wire.SendJob.from_dict(payload)
    for name in _TEXT_FIELDS:
        if not isinstance(getattr(job, name), str) or not getattr(job, name):
            raise ValueError(f"a send job needs {name}")
    if isinstance(job.priority, bool) or not isinstance(job.priority, int):
        raise ValueError("a send job's priority is a number")
    for name in ("device_id", "valid_until"):
        if getattr(job, name) is not None and not isinstance(getattr(job, name), str):
            raise ValueError(f"a send job's {name} is text")
    return job


def accept(
    job: bus.TakenJob,
    client_id: str | None,
    device_id: str,
    signing_key: str,
    manifests: Manifests,
    refused: Callable[[JobRefusal], None] = lambda refusal: None,
) -> Taken | None:
    """The message a dequeued job carries, when it is a send the relay signed for this device.

    ``client_id`` is the device's client as its signed binding says (None
    when unknown: then only jobs naming this device, or routed to it on its
    own queue, are taken); ``manifests`` finds the manifest a job of a batch names. A refused job is logged, handed
    to ``refused`` and deleted; None is returned.

    An accepted job is deleted by the sender, with its claim: from there on the
    claim speaks for the message, and a message nobody claimed is one the relay
    may place again. A job deleted or cancelled since it was dequeued (by a
    cancel, or by recovery placing its message again) still yields its message:
    the claim decides whether it leaves.
    """
    try:
        return Taken(_checked(job, client_id, device_id, signing_key, manifests), job)
    except _Refused as exc:
        refusal = JobRefusal(exc.reason, job.id, job.origin, message_id_of(job))
        level = logging.INFO if refusal.left_for_relay else logging.ERROR
        log.log(level, "job refused", extra={"job_id": job.id, "reason": exc.reason, "message_id": refusal.message_id})
        refused(refusal)
    job_deletion.discard(job)
    return None


def _checked(
    job: bus.TakenJob, client_id: str | None, device_id: str, signing_key: str, manifests: Manifests
) -> wire.SendJob:
    if job.func_name != wire.SEND_JOB_FUNC:
        raise _Refused("not_a_send_job")
    if job.kwargs or len(job.args) != 2:
        raise _Refused("unsigned")
    payload, proof = job.args
    try:
        send = send_job_from(payload)
    except ValueError:
        raise _Refused("malformed") from None
    if send.device_id not in (None, device_id):
        raise _Refused("other_device")
    # A shared job names the device's client, but for one routed to this device (``dispatch.routes``,
    # on its own queue, signed for it alone), whose client it may not know yet: the relay signs a
    # shared job only for its client's devices.
    routed_here = client_id is None and wire.queue_device(job.origin) == device_id
    if send.client_id != client_id and (client_id is not None or (send.device_id is None and not routed_here)):
        raise _Refused("other_client")
    if manifest.is_manifest_id(proof):
        _check_listed(payload, client_id, proof, device_id, manifests)
    else:
        _check_signed(payload, send, proof, device_id, signing_key)
    if _issued_long_ago(send.issued_at):
        raise _Refused("expired_signature")
    return send


def _check_signed(payload: dict[str, Any], send: wire.SendJob, signatures: Any, device_id: str, key: str) -> None:
    """Refuses the job unless it carries its own signature for this device, and that holds."""
    signature = signatures.get(device_id) if isinstance(signatures, dict) else None
    if not isinstance(signature, str):
        shared = send.device_id is None and isinstance(signatures, dict) and signatures
        raise _Refused(NOT_SIGNED_FOR_DEVICE if shared else "unsigned")
    try:
        genuine = signing.verify(payload, signature, key)
    except TypeError:  # a signature that is not plain ASCII text
        genuine = False
    if not genuine:
        raise _Refused("bad_signature")


def _check_listed(
    payload: dict[str, Any], client_id: str | None, manifest_id: str, device_id: str, manifests: Manifests
) -> None:
    """Refuses the job unless its batch's manifest, one of this device's client, is signed
    for this device and lists the payload as it is."""
    if client_id is None:  # a batch is its client's shared jobs: unknown client, no batch
        raise _Refused("unsigned")
    found = manifests.find(client_id, manifest_id)
    if found is None:
        raise _Refused(MANIFEST_LAPSED)
    if not found.manifest.names(device_id):
        raise _Refused(NOT_SIGNED_FOR_DEVICE if found.manifest.signatures else "unsigned")
    if not found.signed or not found.manifest.lists(payload):
        raise _Refused("bad_signature")


def _issued_long_ago(issued_at: str) -> bool:
    try:
        issued = datetime.fromisoformat(issued_at)
        return utcnow() - issued > timedelta(seconds=wire.SEND_JOB_MAX_AGE_SECONDS)
    except (TypeError, ValueError):  # unreadable, or without a zone
        return True


def message_id_of(job: bus.TakenJob) -> str | None:
    """The message id a refused job names, as far as it names one (for the report only)."""
    try:
        payload = job.args[0]
        message_id = payload.get("message_id") if isinstance(payload, dict) else None
    except (IndexError, TypeError, AttributeError):
        return None
    return message_id[:64] if isinstance(message_id, str) else None
