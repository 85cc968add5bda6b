"""An agent runs for each modem, on machines as small as a Raspberry Pi: what it loads stays small."""

from __future__ import annotations

import subprocess
import sys


def printed_by(code: str) -> list[str]:
    """The words ``code`` prints, run in a process of its own after the agent's command line is loaded."""
    ran = subprocess.run(
        [sys.executable, "-c", "import sys, threading; import gateway_agent.cli.main; " + code],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 0, ran.stderr
    return ran.stdout.split()


def test_an_agent_reads_its_settings_without_loading_the_http_sides_validation():
    # pydantic's first model costs a process about 9 MB; only the relay's HTTP bodies need it.
    code = (
        "from zimsend_common.config import load_settings; load_settings(environ={}); print('pydantic' in sys.modules)"
    )
    assert printed_by(code) == ["False"]


def test_an_agent_loads_no_greenlet_and_leaves_it_importable():
    # RQ would load greenlet (about 1 MB) to key its current job by greenlet; the agent runs threads only.
    code = (
        "import rq.local; print('greenlet' in sys.modules, rq.local.get_ident is threading.get_ident);"
        " import greenlet; print('greenlet' in sys.modules)"
    )
    assert printed_by(code) == ["False", "True", "True"]
