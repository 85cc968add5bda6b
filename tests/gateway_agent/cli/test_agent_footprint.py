"""An agent runs for each modem, on machines as small as a Raspberry Pi: what it loads stays small."""

from __future__ import annotations

import subprocess
import sys


def test_an_agent_reads_its_settings_without_loading_the_http_sides_validation():
    # pydantic's first model costs a process about 9 MB; only the relay's HTTP bodies need it.
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; import gateway_agent.cli.main; from zimsend_common.config import load_settings;"
            " load_settings(environ={}); print('pydantic' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.split() == ["False"]
