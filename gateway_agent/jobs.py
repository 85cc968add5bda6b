"""The job functions agents run, as ``wire`` names them.

A send job runs inside the agent that took it, on that agent's one open
modem; there is no modem to use anywhere else.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from zimsend_common import wire

if TYPE_CHECKING:
    from gateway_agent.agent.loop import Agent

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
