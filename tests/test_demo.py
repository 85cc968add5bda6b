"""The README's first command, ``scripts/demo``, on a fresh data directory: its curl lines send an SMS to delivered."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from waiting import free_port

CHECKOUT = Path(__file__).resolve().parent.parent


def _first_command() -> str:
    readme = (CHECKOUT / "README.md").read_text()
    set_up = readme.split("## Set-up", 1)[1]
    return re.search(r"```sh\n(\S+)", set_up).group(1)


def _curl(line: str) -> dict:
    """Run a curl command line the demo printed, as a person would paste it."""
    done = subprocess.run(["bash", "-c", line], capture_output=True, text=True, timeout=30, check=True)
    return json.loads(done.stdout)


@pytest.mark.slow
def test_the_demo_runs_the_gateway_and_its_printed_curl_reaches_delivered(tmp_path: Path) -> None:
    command = _first_command()
    assert command == "scripts/demo"
    env = {key: value for key, value in os.environ.items() if not key.startswith("ZIMSEND_")}
    env.update(
        ZIMSEND_DATA_DIR=str(tmp_path / "data"),
        ZIMSEND_HTTP_PORT=str(free_port()),
        ZIMSEND_DEMO_REDIS_PORT=str(free_port()),
        ZIMSEND_HTTP_WORKERS="2",
    )
    demo = subprocess.Popen(
        [str(CHECKOUT / command)],
        cwd=CHECKOUT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    printed: list[str] = []
    try:
        for line in demo.stdout:
            printed.append(line)
            if line.startswith("Ctrl-C stops everything"):
                break
        text = "".join(printed)
        assert "The gateway is running" in text, text
        # The printed commands, their continuation lines joined.
        commands = [part.strip() for part in text.replace("\\\n", " ").splitlines() if part.strip().startswith("curl ")]
        send, status = commands

        sent = _curl(send)
        assert sent["status"] == "queued", sent

        deadline = time.monotonic() + 60
        while (answer := _curl(status.replace("MESSAGE_ID", sent["message_id"])))["status"] != "delivered":
            assert answer["status"] in ("queued", "sent"), answer
            assert time.monotonic() < deadline, answer
            time.sleep(0.5)
        assert answer["delivered_at"] is not None
    finally:
        os.killpg(demo.pid, signal.SIGINT)
        demo.wait(timeout=60)
