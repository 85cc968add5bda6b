import json
import logging

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
