"""GET /metrics over real HTTP, read back with prometheus-client's own parser."""

from __future__ import annotations

import importlib
import re
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from credentials import Credentials
from database_outage import refusing_connections
from prometheus_client.parser import text_string_to_metric_families
from relay_process import RELAY, environment, serving
from waiting import free_port, wait_until
from worker_process import spawn_worker

from relay_server.store.models import EventFailure
from relay_server.store.store import Store
from zimsend_common import wire
from zimsend_common.timefmt import isoformat_z, utcnow


def scrape(root: str, **headers: str) -> dict[tuple[str, tuple], float]:
    """Every sample of /metrics by (name, sorted labels)."""
    answer = requests.get(root + "/metrics", headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def total(samples: dict, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    return sum(
        value
        for (sample, sample_labels), value in samples.items()
        if sample == name and labels.items() <= dict(sample_labels).items()
    )


def root(relay) -> str:
    return relay.base_url.removesuffix("/v1")


def send(base: str, creds, count: int) -> None:
    for index in range(count):
        answer = requests.post(
            base + "/v1/sms/send",
            json={"to": "+263771234567", "message": f"hello {index}"},
            headers=creds.headers,
            timeout=10,
        )
        assert answer.status_code == 202, answer.text


def test_metrics_count_the_messages_sent_and_the_requests_by_route(relay, acme):
    before = scrape(root(relay))
    send(root(relay), acme, 4)
    status = f"/v1/sms/status/{'msg_' + '0' * 16}"
    requests.get(root(relay) + status, headers=acme.headers, timeout=10)
    after = scrape(root(relay))
    assert total(after, "zimsend_messages", status="queued", mode="live") == 4
    assert total(after, "zimsend_messages", status="delivered") == 0
    sent = {"route": "/v1/sms/send", "method": "POST", "status": "202"}
    assert (
        total(after, "zimsend_http_requests_total", **sent) - total(before, "zimsend_http_requests_total", **sent) == 4
    )
    # Labelled by the route's rule, never by the path asked for.
    by_rule = {"route": "/v1/sms/status/<message_id>", "status": "404"}
    assert (
        total(after, "zimsend_http_requests_total", **by_rule) - total(before, "zimsend_http_requests_total", **by_rule)
        == 1
    )
    assert not any(status in str(labels) for _name, labels in after)


def test_metrics_show_devices_signal_queue_depths_and_dead_letters(relay, acme, redisdb):
    live = relay.new_device(acme.client_id)
    silent = relay.new_device(acme.client_id)
    relay.store.devices.record_heartbeat(live, utcnow(), {"signal_percent": 71})
    relay.store.devices.record_heartbeat(silent, utcnow() - timedelta(hours=2), {"signal_percent": 12})
    queue = wire.device_queue(live, 3)
    redisdb.rpush(f"rq:queue:{queue}", "a", "b", "c")
    relay.store.record_event_failure(
        EventFailure("ev_1", "sent", live, "ValueError", "bad", {"kind": "sent"}, utcnow()), max_attempts=1
    )
    samples = scrape(root(relay))
    assert total(samples, "zimsend_devices_online") == 1
    assert total(samples, "zimsend_device_online", device_id=live) == 1
    assert total(samples, "zimsend_device_online", device_id=silent) == 0
    assert total(samples, "zimsend_device_signal_percent", device_id=live) == 71
    assert total(samples, "zimsend_queue_depth", queue=queue) == 3
    assert total(samples, "zimsend_queue_depth", queue=wire.client_queue(acme.client_id, 1)) == 0
    assert total(samples, "zimsend_dead_letters") == 1
    assert total(samples, "zimsend_state_source_up", source="store") == 1
    assert total(samples, "zimsend_state_source_up", source="redis") == 1


def test_a_queue_key_a_device_filled_with_another_kind_of_value_hides_only_that_queues_depth(relay, acme, redisdb):
    planter, other = relay.new_device(acme.client_id), relay.new_device(relay.new_client().client_id)
    for device in (planter, other):
        relay.store.devices.record_heartbeat(device, utcnow(), {})
    planted, counted = wire.device_queue(planter, 3), wire.device_queue(other, 3)
    redisdb.set(f"rq:queue:{planted}", "not a queue")
    redisdb.rpush(f"rq:queue:{counted}", "a", "b")
    samples = scrape(root(relay))
    assert total(samples, "zimsend_queue_depth", queue=counted) == 2
    assert ("zimsend_queue_depth", (("queue", planted),)) not in samples
    assert total(samples, "zimsend_state_source_up", source="redis") == 1


def test_metrics_say_redis_cannot_be_read_and_still_answer(make_relay):
    relay = make_relay(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    samples = scrape(root(relay))
    assert total(samples, "zimsend_state_source_up", source="redis") == 0
    assert total(samples, "zimsend_state_source_up", source="store") == 1


@pytest.mark.parametrize("database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_metrics_say_the_store_cannot_be_read_and_leave_its_devices_out_rather_than_show_them_offline(
    relay, acme, database_url
):
    device = relay.new_device(acme.client_id)
    relay.store.devices.record_heartbeat(device, utcnow(), {"signal_percent": 71})
    assert total(scrape(root(relay)), "zimsend_devices_online") == 1
    with refusing_connections(database_url):
        samples = scrape(root(relay))
    assert total(samples, "zimsend_state_source_up", source="store") == 0
    assert total(samples, "zimsend_state_source_up", source="redis") == 1
    # Not a count of 0 online, which an alert on the devices would read as every one of them down.
    assert not {name for name, _labels in samples} & {"zimsend_devices_online", "zimsend_device_online"}


@pytest.mark.parametrize("allowed, expected", [(False, 403), (True, 200)])
def test_metrics_answer_a_remote_address_only_when_allowed(make_relay, allowed, expected):
    relay = make_relay(trusted_proxy_hops=1, metrics_allow_remote=allowed)
    remote = requests.get(root(relay) + "/metrics", headers={"X-Forwarded-For": "192.0.2.7"}, timeout=10)
    assert remote.status_code == expected
    assert requests.get(root(relay) + "/metrics", timeout=10).status_code == 200


@pytest.mark.slow
def test_metrics_add_up_what_two_server_processes_counted(tmp_path, redis_proc):
    redis_url = f"redis://{redis_proc.host}:{redis_proc.port}/0"
    ports = [free_port(), free_port()]
    envs = [environment(tmp_path, redis_url=redis_url, http_port=str(port)) for port in ports]
    subprocess.run([RELAY, "migrate"], env=envs[0], check=True, capture_output=True)
    store = Store.open(f"sqlite:///{tmp_path / 'data' / 'zimsend.sqlite3'}")
    client, _live = store.clients.create("acme")
    test_key = Credentials(client.client_id, store.clients.create_api_key(client.client_id, test=True))
    store.close()
    with serving(envs[0]), serving(envs[1]):
        send(f"http://127.0.0.1:{ports[0]}", test_key, 2)
        send(f"http://127.0.0.1:{ports[1]}", test_key, 3)
        for port in ports:
            samples = scrape(f"http://127.0.0.1:{port}")
            sent = {"route": "/v1/sms/send", "method": "POST", "status": "202"}
            assert total(samples, "zimsend_http_requests_total", **sent) == 5
            assert total(samples, "zimsend_messages", status="queued", mode="test") == 5
            assert total(samples, "zimsend_queue_depth", queue=wire.SIMULATED_QUEUE) == 5
    assert (tmp_path / "data" / "metrics").stat().st_mode & 0o777 == 0o700


def test_every_metric_the_grafana_dashboard_reads_is_served(relay):
    # ``zimsend-relay serve`` has the worker's metrics defined (its command line loads the worker's
    # modules); an app run in this process has them once they are imported.
    importlib.import_module("relay_server.cli.worker")
    dashboard = (Path(__file__).parents[3] / "contrib" / "grafana-zimsend.json").read_text()
    wanted = set(re.findall(r"zimsend_[a-z_]+", dashboard)) - {"zimsend_gateway"}
    answer = requests.get(root(relay) + "/metrics", timeout=10)
    served = set()
    for family in text_string_to_metric_families(answer.text):
        served |= {family.name, family.name + "_total", family.name + "_bucket"}
    assert wanted and wanted <= served, wanted - served


@pytest.mark.slow
def test_metrics_of_a_server_process_show_what_the_worker_process_counted(tmp_path, redis_proc):
    redis_url = f"redis://{redis_proc.host}:{redis_proc.port}/0"
    port = free_port()
    env = environment(tmp_path, redis_url=redis_url, http_port=str(port), due_check_seconds="0.2", log_level="INFO")
    subprocess.run([RELAY, "migrate"], env=env, check=True, capture_output=True)
    store = Store.open(f"sqlite:///{tmp_path / 'data' / 'zimsend.sqlite3'}")
    client, _live = store.clients.create("acme")
    test_key = Credentials(client.client_id, store.clients.create_api_key(client.client_id, test=True))
    store.close()
    worker = spawn_worker(env, tmp_path / "worker.log", maintenance_seconds=0.5)
    try:
        with serving(env):
            base = f"http://127.0.0.1:{port}"
            at = isoformat_z(utcnow() + timedelta(seconds=2))
            answer = requests.post(
                base + "/v1/sms/send",
                json={"to": "+263771234567", "message": "later", "scheduled_at": at},
                headers=test_key.headers,
                timeout=10,
            )
            assert answer.status_code == 202, answer.text
            released = "zimsend_scheduled_release_lateness_seconds_count"
            try:
                wait_until(lambda: total(scrape(base), released) == 1, "the worker's release counted in /metrics", 60)
            except AssertionError as exc:
                log = (tmp_path / "worker.log").read_text(errors="replace")[-4000:]
                raise AssertionError(
                    f"{exc}; counted {total(scrape(base), released)}; the worker's log:\n{log}"
                ) from None
    finally:
        worker.kill()
