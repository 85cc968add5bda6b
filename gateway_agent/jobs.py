"""The job functions agents run, as ``wire`` names them, and what an agent accepts.

A send job runs inside the agent that took it, on that agent's one open
modem; there is no modem to use anywhere else.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job

from zimsend_common import wire

if TYPE_CHECKING:
    from gateway_agent.agent.loop import Agent

log = logging.getLogger(__name__)

# The agent serving this thread: one per process in production, one per
# thread when tests run several agents side by side.
_bound = threading.local()


def bind(agent: Agent) -> None:
    """Make ``agent`` the one that send jobs run in this thread go through."""
    _bound.agent = agent


def unbind(agent: Agent) -> None:
    if getattr(_bound, "agent", None) is agent:
        _bound.agent = None


def send_job_from(payload: dict[str, Any]) -> wire.SendJob:
    """The message a send job's payload describes; ValueError when it is not one."""
    if not isinstance(payload, dict):
        raise ValueError("a send job's payload is a dict")
    job = wire.SendJob.from_dict(payload)
    for name in ("message_id", "client_id", "to", "text"):
        if not isinstance(getattr(job, name), str) or not getattr(job, name):
            raise ValueError(f"a send job needs {name}")
    return job


def send_message(payload: dict[str, Any]) -> str:
    """Send one message through this process's agent; returns what became of it."""
    agent = getattr(_bound, "agent", None)
    if agent is None:
        raise RuntimeError("send jobs run only inside a running zimsend-agent")
    return agent.send(send_job_from(payload))


def accept(job: Job, client_id: str | None, device_id: str) -> wire.SendJob | None:
    """The message a dequeued job carries, when it is a send meant for this device.

    The job is deleted either way: from here on the claim speaks for the
    message, and a message nobody claimed is one the relay may place again.
    A job deleted or cancelled since it was dequeued (by a cancel, or by
    recovery placing its message again) still yields its message: the claim
    decides whether it leaves.
    """
    try:
        if job.func_name != wire.SEND_JOB_FUNC:
            raise ValueError(f"not a send job: {job.func_name}")
        send: wire.SendJob | None = send_job_from(*job.args, **job.kwargs)
    except Exception as error:  # a malformed job must not stop the device
        log.error("job refused", extra={"job_id": job.id, "error": str(error)})
        send = None
    if send is not None and (send.client_id != client_id or send.device_id not in (None, device_id)):
        log.error("job of another device refused", extra={"message_id": send.message_id})
        send = None
    try:
        job.delete(remove_from_queue=False)
    except (InvalidJobOperation, NoSuchJobError):
        log.info("job gone before it was accepted", extra={"job_id": job.id})
    return send
