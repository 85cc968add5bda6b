"""What the worker's jobs share: the store, Redis and the settings of this process.

RQ calls job functions with their arguments only, so the worker installs its
parts here once at start, and each job function asks for them.

The worker's placings run one at a time (``placing``: ``recovery.give_jobs``).
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import timedelta

from redis import Redis

from relay_server.store.store import Store
from relay_server.worker.agent_instances import AgentInstances
from zimsend_common.config import Settings


@dataclass(frozen=True)
class WorkerContext:
    store: Store
    redis: Redis
    settings: Settings
    agent_instances: AgentInstances = field(default_factory=AgentInstances, compare=False)
    # Held for each step of placing messages (``recovery.give_jobs``), by the threads of the process.
    placing: AbstractContextManager[object] = field(default_factory=threading.Lock, compare=False)

    @property
    def offline_after(self) -> timedelta:
        return timedelta(seconds=self.settings.relay.device_offline_after_seconds)

    @property
    def recovery_grace(self) -> timedelta:
        return timedelta(seconds=self.settings.relay.recovery_grace_seconds)

    @property
    def claim_abandoned_after(self) -> timedelta:
        # Never before liveness has called the device's agent dead (``liveness``).
        seconds = max(self.settings.relay.claim_abandoned_after_seconds, 2 * self.offline_after.total_seconds())
        return timedelta(seconds=seconds)


_current: WorkerContext | None = None


def install(context: WorkerContext) -> None:
    """Make ``context`` the one this process's jobs use."""
    global _current
    _current = context


def current() -> WorkerContext:
    """The installed context; raises RuntimeError outside a worker."""
    if _current is None:
        raise RuntimeError("no worker context installed in this process")
    return _current
