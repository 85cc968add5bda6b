"""Operators, made with ``zimsend-relay add-operator``, see every client on one page; nobody else does."""

from __future__ import annotations

import json

import pytest
from store_factories import new_message

from relay_server.cli.main import main


@pytest.fixture
def operator_password(console, migrated_sqlite_url, tmp_path, monkeypatch, capsys) -> str:
    (tmp_path / "zimsend.toml").write_text("")  # whatever /etc holds, this test's settings only
    monkeypatch.setenv("ZIMSEND_CONFIG", str(tmp_path / "zimsend.toml"))
    monkeypatch.setenv("ZIMSEND_DATABASE_URL", migrated_sqlite_url)
    monkeypatch.setenv("ZIMSEND_DATA_DIR", str(tmp_path))
    assert main(["add-operator", "ops"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["operator"] == "ops"
    return printed["password"]


def _sign_in(browser, name: str, password: str):
    return browser.client.post(
        "/console/operator/signin",
        data={
            "name": name,
            "password": password,
            "csrf_token": browser.token("/console/operator/signin"),
        },
    )


def test_add_operator_prints_a_password_once_and_refuses_the_same_name_again(operator_password, capsys):
    assert len(operator_password) == 32
    assert main(["add-operator", "ops"]) == 1
    assert json.loads(capsys.readouterr().err)["error"]["code"] == "OPERATOR_EXISTS"


def test_the_operator_sees_every_client_its_key_prefixes_and_devices_never_a_key(console, operator_password):
    acme, globex = console.new_client("acme"), console.new_client("globex")
    device, _password = console.store.devices.add(globex.client_id, "globex-modem")
    browser = console.browser()
    assert _sign_in(browser, "ops", operator_password).status_code == 302
    page = browser.text("/console/operator")
    for expected in (acme.client_id, globex.client_id, acme.api_key[:12], device.device_id, "globex-modem"):
        assert expected in page
    assert acme.api_key not in page and globex.api_key not in page
    assert 'data-check="redis"' in page and 'data-check="worker"' in page


def test_a_wrong_password_is_refused(console, operator_password):
    browser = console.browser()
    assert _sign_in(browser, "ops", "x" * 32).status_code == 401
    assert _sign_in(browser, "nobody", operator_password).status_code == 401
    assert browser.client.get("/console/operator").headers["Location"].endswith("/console/operator/signin")


def test_a_client_session_does_not_open_the_operator_view(console, operator_password):
    acme = console.new_client()
    browser = console.browser()
    browser.sign_in(acme)
    assert browser.client.get("/console/operator").headers["Location"].endswith("/console/operator/signin")


def test_an_operator_session_does_not_open_a_clients_pages(console, operator_password):
    browser = console.browser()
    _sign_in(browser, "ops", operator_password)
    assert browser.client.get("/console/messages").headers["Location"].endswith("/console/signin")


def test_the_operator_disables_a_device_sees_its_redis_line_and_enables_it_again(console, operator_password):
    globex = console.new_client("globex")
    device, _password = console.store.devices.add(globex.client_id, "globex-modem")
    browser = console.browser()
    _sign_in(browser, "ops", operator_password)

    disabled = browser.post(f"/console/operator/devices/{device.device_id}/disable", page="/console/operator")

    assert disabled.status_code == 302 and disabled.headers["Location"].endswith("/console/operator")
    assert console.store.devices.get(device.device_id).disabled is True
    page = browser.text("/console/operator")
    assert f"Device {device.device_id} disabled." in page
    assert f"ACL DELUSER zimsend-{device.device_id}" in page
    browser.post(f"/console/operator/devices/{device.device_id}/enable", page="/console/operator")
    assert console.store.devices.get(device.device_id).disabled is False
    assert "ACL DELUSER" not in browser.text("/console/operator")


def test_disabling_a_device_without_the_forms_token_or_an_operators_session_changes_nothing(console, operator_password):
    acme = console.new_client("acme")
    device, _password = console.store.devices.add(acme.client_id)
    operator = console.browser()
    _sign_in(operator, "ops", operator_password)
    client = console.browser()
    client.sign_in(acme)
    path = f"/console/operator/devices/{device.device_id}/disable"

    assert operator.client.post(path, data={"csrf_token": "forged"}).status_code == 403
    assert client.post(path).headers["Location"].endswith("/console/operator/signin")
    assert (
        operator.post("/console/operator/devices/device_000000000000/disable", page="/console/operator").status_code
        == 404
    )
    assert console.store.devices.get(device.device_id).disabled is False


def test_the_operator_sees_each_clients_daily_quota_and_what_today_used(console, operator_password):
    acme, globex = console.new_client("acme"), console.new_client("globex")
    console.store.daily_quotas.set_limit(globex.client_id, 300)
    caller = console.store.clients.authenticate(globex.client_id, globex.api_key)
    console.store.insert_messages([new_message(caller), new_message(caller)], daily_quota=300)
    browser = console.browser()
    assert _sign_in(browser, "ops", operator_password).status_code == 302

    page = browser.text("/console/operator")

    assert f'data-quota="{globex.client_id}">2 / 300<' in page
    assert f'data-quota="{acme.client_id}">–<' in page
