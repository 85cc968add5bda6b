"""Incoming SMS with the real relay, worker, agent and emulated modem: each is kept once,
whatever becomes of the agent between reading it and deleting it from the SIM."""

from __future__ import annotations

import signal
import sqlite3
from pathlib import Path

import pytest
import requests
from e2e_gateway import Agent, Gateway, wait_until

from gateway_agent.backends.emulator import EmulatorConfig

pytestmark = pytest.mark.slow  # relay, worker and agents as processes

SENDER = "+263772000111"


def _journalled(gateway: Gateway, agent: Agent, kind: str) -> int:
    """How many events of ``kind`` the agent's ledger still keeps, unacknowledged."""
    path = Path(gateway.env["ZIMSEND_DATA_DIR"]) / "agents" / f"{agent.device_id}.sqlite3"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as ledger:
        rows = ledger.execute("SELECT event FROM outbox").fetchall()
    return sum(1 for (event,) in rows if f'"kind": "{kind}"' in event)


def _log(gateway: Gateway, agent: Agent) -> str:
    return (gateway.workdir / f"agent-{agent.device_id}.log").read_text()


def _inbox(gateway: Gateway, headers: dict[str, str]) -> list[dict]:
    return requests.get(gateway.url("/sms/inbox"), headers=headers, timeout=10).json()["data"]


@pytest.mark.parametrize(("text", "parts"), [("Ndatenda", 1), ("Ndatenda! " * 20, 2)], ids=["one part", "two parts"])
def test_an_sms_the_agent_was_killed_before_deleting_is_read_again_and_kept_once(
    gateway: Gateway, text: str, parts: int
):
    account = gateway.new_account()
    # The SIM refuses the deletion of every part, so the SMS is still on it when the agent
    # is killed: as when the agent is killed after reporting it and before deleting it.
    agent = gateway.new_agent(account, EmulatorConfig(refused_deletions=parts))
    agent.emulator.inject_incoming(SENDER, text)
    [received] = wait_until(lambda: _inbox(gateway, account.headers), "the incoming SMS to be kept")
    wait_until(lambda: "stored message not deleted" in _log(gateway, agent), "the agent to try the deletion")
    assert agent.process is not None
    agent.process.send_signal(signal.SIGKILL)
    agent.process.wait(timeout=10)
    assert agent.emulator.stored == parts

    gateway.start_agent(agent, account)

    wait_until(lambda: agent.emulator.stored == 0, "the SMS read again to be deleted")
    wait_until(lambda: _journalled(gateway, agent, "received") == 0, "the agent's report to be settled")
    assert _inbox(gateway, account.headers) == [received]
    assert received["message"] == text
