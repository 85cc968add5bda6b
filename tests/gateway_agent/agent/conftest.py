"""Fixtures for the device agent's tests: a private Redis and its URL, a ledger file, modems, agents."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from agent_support import AgentProcess, RunningAgent, agent_settings
from own_redis import own_redis  # noqa: F401  (a redis-server the test may stop)

from gateway_agent.agent import Agent
from gateway_agent.agent.ledger import Ledger
from gateway_agent.backends.emulator import EmulatorConfig, ModemEmulator
from gateway_agent.backends.emulator.fake_modem import FakeModem


@pytest.fixture
def redis_url(redis_proc) -> str:
    return f"redis://{redis_proc.host}:{redis_proc.port}/0"


@pytest.fixture
def conn(redisdb) -> redis.Redis:
    """A client of the private redis-server, emptied after the test."""
    return redisdb


@pytest.fixture
def ledger(tmp_path) -> Iterator[Ledger]:
    """An agent's ledger in a real SQLite file, closed after the test."""
    ledger = Ledger(tmp_path / "agent.sqlite3")
    yield ledger
    ledger.close()


@pytest.fixture
def start_emulator():
    """Starts emulated modems on real ptys; all are stopped after the test."""
    started: list[ModemEmulator] = []

    def start(**config: object) -> ModemEmulator:
        emulator = ModemEmulator(EmulatorConfig(**config)).start()
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        emulator.stop()


@pytest.fixture
def fake_modem() -> FakeModem:
    """A modem in memory, for tests of what the agent does rather than what a modem says."""
    return FakeModem()


@pytest.fixture
def start_agent(tmp_path):
    """Runs agents (the real loop, in a thread) on an emulated modem's pty, or on a
    ``FakeModem``; all are stopped after the test."""
    running: list[RunningAgent] = []

    def start(redis_url: str, modem: ModemEmulator | FakeModem, **agent: object) -> RunningAgent:
        if isinstance(modem, FakeModem):
            handle = RunningAgent(Agent(agent_settings(tmp_path / "data", redis_url, **agent), modem=modem))
        else:
            settings = agent_settings(tmp_path / "data", redis_url, modem_port=modem.port_path, **agent)
            handle = RunningAgent(Agent(settings))
        running.append(handle)
        return handle

    yield start
    for handle in running:
        handle.stop()


@pytest.fixture(autouse=True)
def no_agent_process_outlives_its_test() -> Iterator[None]:
    """Kills the ``zimsend-agent run`` processes a test started and left running (it failed first)."""
    yield
    AgentProcess.stop_leftovers()


@pytest.fixture
def start_agent_process(tmp_path):
    """Starts ``zimsend-agent run`` processes for the test device on one data directory, each
    logging to a file of its own."""
    count = 0

    def start(redis_url: str, emulator: ModemEmulator) -> AgentProcess:
        nonlocal count
        count += 1
        return AgentProcess(tmp_path / "data", redis_url, emulator.port_path, tmp_path / f"agent-{count}.log")

    return start
