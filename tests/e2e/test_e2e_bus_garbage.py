"""Random bytes and random JSON on every queue the gateway reads crash nothing and move no message.

An attacker holding Redis credentials pushes job ids, job hashes and job
data of every shape onto the agents' device and client queues and the
worker's events, simulated and schedule queues, naming real message and
client ids. The relay, the worker and the agent keep running, no stored
message changes, the modem sends nothing, and a real message still leaves.
"""

from __future__ import annotations

import json
import zlib
from datetime import timedelta

import pytest
from credentials import Credentials
from e2e_gateway import Gateway, wait_until
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zimsend_common import wire
from zimsend_common.timefmt import isoformat_z, utcnow

pytestmark = pytest.mark.slow  # relay, worker and agents as processes

FIELDS = [
    "message_id",
    "client_id",
    "to",
    "text",
    "priority",
    "device_id",
    "valid_until",
    "issued_at",
    "nonce",
    "kind",
    "event_id",
    "at",
    "data",
    "status",
    "origin",
]


def json_values(ids: list[str]) -> st.SearchStrategy:
    leaves = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False)
        | st.text(max_size=30)
        | st.sampled_from(ids + list(wire.JOB_FUNCTIONS))
    )
    return st.recursive(
        leaves,
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), inner, max_size=6)
        ),
        max_leaves=20,
    )


def job_data(ids: list[str]) -> st.SearchStrategy[bytes]:
    """What a job hash's ``data`` field may hold: bytes, or a JSON call, compressed or not."""
    any_call = st.tuples(
        st.sampled_from(sorted(wire.JOB_FUNCTIONS)) | st.text(max_size=20),
        json_values(ids),
        json_values(ids),
        json_values(ids),
    )
    # Shaped as the bus expects, so that the job functions themselves meet the garbage.
    shaped_call = st.tuples(
        st.sampled_from(sorted(wire.JOB_FUNCTIONS)),
        st.none(),
        st.lists(json_values(ids), max_size=3),
        st.dictionaries(st.sampled_from(["event", "signature", "job", "message_id"]), json_values(ids), max_size=2),
    )
    call = any_call | shaped_call
    raw = (
        st.binary(max_size=200)
        | json_values(ids).map(lambda v: json.dumps(v).encode())
        | call.map(lambda c: json.dumps(list(c)).encode())
    )
    return raw | raw.map(zlib.compress)


def job_hash(ids: list[str]) -> st.SearchStrategy[dict[str, bytes]]:
    other = st.dictionaries(
        st.sampled_from(
            [
                "status",
                "origin",
                "timeout",
                "meta",
                "result",
                "exc_info",
                "created_at",
                "dependency_ids",
                "retry_intervals",
                "result_ttl",
                "enqueued_at",
            ]
        ),
        st.binary(max_size=40) | st.sampled_from([b"queued", b"10", b"[]", b"2025-01-01T00:00:00Z"]),
        max_size=6,
    )
    return st.builds(lambda data, rest: {**rest, "data": data}, job_data(ids), other)


@pytest.mark.parametrize("examples", [60])
def test_garbage_on_every_queue_crashes_nothing_and_moves_no_message(gateway: Gateway, examples: int):
    account = gateway.new_account()
    agent = gateway.new_agent(account)
    owner = gateway.new_account("tester")
    tester = Credentials(owner.client_id, gateway.store.clients.create_api_key(owner.client_id, test=True))
    later = isoformat_z(utcnow() + timedelta(days=1))
    live = gateway.queue(account, to="+263771234567", message="later", scheduled_at=later)
    test_id = gateway.queue(tester, to="+263771234567", message="later", scheduled_at=later)
    ids = [live, test_id, account.client_id, tester.client_id, agent.device_id]
    queues = [wire.EVENTS_QUEUE, wire.SIMULATED_QUEUE]
    queues += [wire.device_queue(agent.device_id, p) for p in wire.PRIORITY_LEVELS]
    queues += [wire.client_queue(account.client_id, p) for p in wire.PRIORITY_LEVELS]
    job_ids = st.sampled_from(ids) | st.from_regex(r"[A-Za-z0-9_-]{1,30}", fullmatch=True)

    def statuses() -> dict[str, str]:
        return {
            live: gateway.store.get_message_by_id(live).status,
            test_id: gateway.store.get_message_by_id(test_id).status,
        }

    before = statuses()

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
    @given(queue=st.sampled_from(queues), job_id=job_ids, item=st.binary(max_size=40), fields=job_hash(ids))
    def push(queue: str, job_id: str, item: bytes, fields: dict[str, bytes]) -> None:
        gateway.redis.hset(f"rq:job:{job_id}", mapping=fields)
        gateway.redis.rpush(f"rq:queue:{queue}", job_id, item)
        assert all(process.poll() is None for process in gateway.processes)

    push()

    wait_until(lambda: all(gateway.redis.llen(f"rq:queue:{name}") == 0 for name in queues), "every queue to be read")
    assert all(process.poll() is None for process in gateway.processes)
    assert statuses() == before
    assert agent.texts_sent() == []
    # And the gateway still works.
    message_id = gateway.queue(account, to="+263771234567", message="still here")
    gateway.wait_for_status(account, message_id, "delivered")
    assert agent.texts_sent() == ["still here"]
    assert statuses() == before
