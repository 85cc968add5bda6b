"""What the agent takes, and when: the queues it listens on, and how long it waits first.

It listens on its own device queues and, once it knows its client, on the
client's shared ones too (``wire.agent_queue_order``). The client is taken
only from a binding the relay signed with the device's key
(``agent.binding``); until one is read (or when it fails its check) the agent
serves its own device queues only.

After its SIM refused a send for want of credit the agent may leave its
client's shared queues to the other devices for a while
(``agent.shared_pause``). A shared job of a message it declined is dropped
(refused as signed for other devices only, or by the sender, which never
sends such a message): the relay's recovery places the message again, within
a maintenance round, for the client's devices that are online and have not
refused it, or fails it when none is. Put back on its queue instead, it would
stay at the head, taken and put back by this device for ever, while the
device it was meant for was offline.

It takes no job while its send rate is used up (``agent.ratelimit``), and
none from any queue once the device's day is over for its daily send limit
(``agent.daily_cap``) until the next day begins; a message that does not fit
goes back to the head of its queue, unclaimed, as a job taken while the port
was lost does.

Heartbeats say until when each pause lasts (``pauses``), and the relay is told
at once when one begins or ends (``changed``), as it counts on the device
only from then.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from gateway_agent.agent.binding import ClientBinding
from gateway_agent.agent.daily_cap import DailyCap
from gateway_agent.agent.ledger import Ledger
from gateway_agent.agent.ratelimit import SendRateLimit
from gateway_agent.agent.shared_pause import SharedPause
from zimsend_common import wire
from zimsend_common.config import Settings


class Intake:
    """Which queues the agent takes its next job from, and how long it waits first."""

    def __init__(
        self,
        ledger: Ledger,
        settings: Settings,
        binding: ClientBinding,
        *,
        clock: Callable[[], float] = time.time,
        changed: Callable[[], None] = lambda: None,
    ) -> None:
        """The intake of the device of ``settings``, whose client ``binding`` tells; ``clock``
        tells the time the device's day is counted by; ``changed`` is told when a pause
        begins or ends."""
        agent = settings.agent
        self._device_id = agent.device_id
        self._binding = binding
        self._changed = changed
        self._rate = SendRateLimit(ledger, agent.send_rate_per_minute)
        self.cap = DailyCap(ledger, settings, clock=clock, changed=changed)
        self._shared_pause = SharedPause(ledger, agent.device_id, agent.no_credit_pause_seconds)

    def wait_seconds(self) -> float:
        """How long until the device may take a job: 0 when it may now."""
        return max(self._rate.wait_seconds(), self.cap.wait_seconds())

    def queue_names(self) -> list[str]:
        """The queues to take the next job from, first first: the device's own alone, until its
        client is known or while its shared queues are paused; else its own and its client's."""
        if self._binding.client_id is None or self._shared_pause.active():
            return [wire.device_queue(self._device_id, priority) for priority in wire.PRIORITY_LEVELS]
        return wire.agent_queue_order(self._device_id, self._binding.client_id)

    def refused_for_credit(self, detail: str) -> None:
        """The SIM refused a send for want of credit: leave the shared queues for a while, when
        ``no_credit_pause_seconds`` says so, and have the relay hear of it at once."""
        self._shared_pause.refused_for_credit(detail)
        self._changed()

    def pauses(self) -> dict[str, str | None]:
        """What heartbeats say of the device's pauses: when each ends (UTC ISO 8601), or None."""
        return {
            "shared_paused_until": self._shared_pause.until(),
            "daily_limit_reached_until": self.cap.reached_until(),
        }
