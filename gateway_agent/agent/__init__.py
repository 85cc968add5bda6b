"""The long-running device agent (``zimsend-agent run``)."""

from gateway_agent.agent.loop import Agent, ledger_path

__all__ = ["Agent", "ledger_path"]
