import json
import logging
import os
import subprocess
import sys

from zimsend_common.logs import JsonFormatter


def _format(**extra) -> dict:
    record = logging.makeLogRecord(
        {"name": "zimsend.test", "levelname": "INFO", "msg": "sent %s", "args": ("x",), **extra}
    )
    return json.loads(JsonFormatter().format(record))


def test_log_line_is_json_with_message_and_extra_fields():
    line = _format(message_id="msg_0123456789abcdef")
    assert line["message"] == "sent x"
    assert line["message_id"] == "msg_0123456789abcdef"
    assert line["time"].endswith("Z")


def test_fields_named_like_secrets_are_redacted():
    line = _format(api_key="zs_live_secret", device_password="hunter2", sim_pin="1234")
    assert "zs_live_secret" not in json.dumps(line)
    assert "hunter2" not in json.dumps(line)
    assert line["sim_pin"] == "[redacted]"


_LOG_TWO_LINES = """
import logging
from zimsend_common.config import LoggingSettings
from zimsend_common.logs import configure_logging
configure_logging(LoggingSettings(log_level="INFO"))
logging.getLogger("zimsend.test").warning("modem lost")
logging.getLogger("zimsend.test").info("message sent")
"""


def _stderr_lines(tmp_path, journal_stream: str | None) -> list[str]:
    """What a process writing to a file as its stderr logs, with ``JOURNAL_STREAM`` as given."""
    stderr = tmp_path / "stderr"
    env = {key: value for key, value in os.environ.items() if key != "JOURNAL_STREAM"}
    with stderr.open("w") as sink:
        if journal_stream == "this file":
            status = os.fstat(sink.fileno())
            journal_stream = f"{status.st_dev}:{status.st_ino}"
        if journal_stream is not None:
            env["JOURNAL_STREAM"] = journal_stream
        subprocess.run([sys.executable, "-c", _LOG_TWO_LINES], stderr=sink, env=env, check=True, timeout=60)
    return stderr.read_text().splitlines()


def test_under_systemd_each_line_starts_with_the_priority_journald_reads(tmp_path):
    warning, info = _stderr_lines(tmp_path, "this file")
    assert warning.startswith("<4>{") and json.loads(warning[3:])["message"] == "modem lost"
    assert info.startswith("<6>{")


def test_elsewhere_lines_carry_no_priority(tmp_path):
    for stream in (None, "0:0"):  # no journal, or one that is not this stderr
        assert all(line.startswith("{") for line in _stderr_lines(tmp_path, stream))
