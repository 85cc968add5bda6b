"""A one-time password sent with curl reaches the modem with its code, and the code is nowhere else."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
import requests
from e2e_gateway import Gateway
from store_rows import every_row

pytestmark = pytest.mark.slow  # relay, worker and agents as processes


def every_file(gateway: Gateway) -> dict[str, bytes]:
    """Every file the relay, the worker and the agent wrote: logs, databases, keys, ledgers."""
    return {str(path): path.read_bytes() for path in gateway.workdir.rglob("*") if path.is_file()}


def test_an_otp_reaches_the_modem_with_its_code_verifies_once_and_leaves_no_trace(gateway: Gateway):
    account = gateway.new_account()
    agent = gateway.new_agent(account, ZIMSEND_LOG_LEVEL="DEBUG")
    answer = subprocess.run(
        [
            "curl",
            "-sS",
            "-X",
            "POST",
            gateway.url("/sms/send-otp"),
            "-H",
            f"X-API-Key: {account.api_key}",
            "-H",
            f"X-Client-ID: {account.client_id}",
            "-H",
            "Content-Type: application/json",
            "-d",
            json.dumps({"to": "+263771234567", "length": 8, "template": "MonApp : {{code}}"}),
        ],
        capture_output=True,
        check=True,
        text=True,
        timeout=30,
    )
    sent = json.loads(answer.stdout)
    assert (sent["success"], sent["status"]) == (True, "queued")

    delivered = gateway.wait_for_status(account, sent["message_id"], "delivered")
    [text] = agent.texts_sent()
    code = re.fullmatch(r"MonApp : ([0-9]{8})", text).group(1)
    assert delivered["message"] == "MonApp : ********"
    assert delivered["priority"] == "urgent"

    verify = {"otp_id": sent["otp_id"], "code": code}
    first = requests.post(gateway.url("/sms/verify-otp"), json=verify, headers=account.headers, timeout=10)
    again = requests.post(gateway.url("/sms/verify-otp"), json=verify, headers=account.headers, timeout=10)
    assert first.status_code == 200 and first.json()["valid"] is True
    assert again.status_code == 404 and again.json()["error"]["code"] == "OTP_NOT_FOUND"

    for answer_text in (answer.stdout, first.text, again.text, json.dumps(delivered)):
        assert code not in answer_text
    files = every_file(gateway)
    assert any(name.endswith(".log") and b"DEBUG" in data for name, data in files.items())
    assert [name for name, data in files.items() if code.encode() in data] == []
    assert code not in every_row(gateway.store.engine)
