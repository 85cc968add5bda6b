"""Events reach the relay in order and exactly once, whatever Redis does meanwhile."""

from __future__ import annotations

import time

import redis
from agent_support import DEVICE_ID, SIGNING_KEY, eventually, message_events
from rq import Queue
from rq.job import Job

from gateway_agent.agent.ledger import Ledger
from gateway_agent.agent.outbox import ACK_CHECK_SECONDS, Outbox
from zimsend_common import bus, wire


def incoming(number: int) -> dict:
    return {"sender": "+263771234567", "text": f"reply {number}", "received_at": "2026-01-01T00:00:00Z", "parts": 1}


def test_events_reported_while_redis_is_down_arrive_once_and_in_order_when_it_is_back(tmp_path, own_redis):
    ledger = Ledger(tmp_path / "agent.sqlite3")
    outbox = Outbox(ledger, own_redis.client(), DEVICE_ID, SIGNING_KEY)
    outbox.report("received", incoming(0))

    own_redis.stop()
    for number in (1, 2, 3):
        outbox.report("received", incoming(number))
    assert outbox.flush() is False
    own_redis.start()  # an empty Redis: what it held before is gone

    assert outbox.flush() is True
    assert outbox.flush() is True
    texts = [event.data["text"] for event in message_events(own_redis.client())]
    assert texts == ["reply 1", "reply 2", "reply 3"]


def exec_calls(client) -> int:
    """How many transactions Redis has run."""
    return int(client.info("commandstats").get("cmdstat_exec", {}).get("calls", 0))


def test_reports_handed_on_later_go_with_the_next_hand_on_and_its_commands_in_one_round_trip(tmp_path, own_redis):
    client = own_redis.client()
    outbox = Outbox(Ledger(tmp_path / "agent.sqlite3"), client, DEVICE_ID, SIGNING_KEY)
    outbox.flush()
    with outbox.handing_on_later():
        outbox.report("received", incoming(1))
        outbox.report("received", incoming(2))
    assert message_events(client) == []  # journalled only
    client.rpush("waiting", "a job")
    transactions = exec_calls(client)

    assert outbox.hand_on_with(lambda pipeline: pipeline.lpop("waiting")) == [b"a job"]

    assert exec_calls(client) == transactions + 1
    assert [event.data["text"] for event in message_events(client)] == ["reply 1", "reply 2"]
    outbox.report("received", incoming(3))  # at once, out of it
    assert len(message_events(client)) == 3


def test_what_a_hand_on_popped_stands_when_a_later_step_of_it_fails(tmp_path, own_redis):
    admin = own_redis.client()
    # A Redis user that may hand events on and pop, but not ask whether a handed job still waits.
    admin.acl_setuser("no-hget", enabled=True, passwords=["+pw"], keys=["*"], commands=["+@all", "-hget"])
    limited = redis.Redis.from_url(own_redis.url, username="no-hget", password="pw")
    outbox = Outbox(Ledger(tmp_path / "agent.sqlite3"), limited, DEVICE_ID, SIGNING_KEY, rehand_seconds=0.01)
    outbox.report("received", incoming(1))  # handed, never acknowledged
    time.sleep(ACK_CHECK_SECONDS)  # the next hand-on asks, then hands it again: that step fails
    with outbox.handing_on_later():
        outbox.report("received", incoming(2))
    admin.rpush("waiting", "a job")

    assert outbox.hand_on_with(lambda pipeline: pipeline.lpop("waiting")) == [b"a job"]
    assert admin.llen("waiting") == 0
    assert [event.data["text"] for event in message_events(admin)] == ["reply 1", "reply 2"]


def test_what_a_hand_on_popped_stands_when_its_own_commands_are_refused(tmp_path, own_redis):
    client = own_redis.client()
    outbox = Outbox(Ledger(tmp_path / "agent.sqlite3"), client, DEVICE_ID, SIGNING_KEY)
    with outbox.handing_on_later():
        outbox.report("received", incoming(1))
    client.set(Queue.redis_queues_keys, "not a set")  # refuses the event's registration, in the same transaction
    client.rpush("waiting", "a job")

    assert outbox.hand_on_with(lambda pipeline: pipeline.lpop("waiting")) == [b"a job"]
    assert client.llen("waiting") == 0
    client.delete(Queue.redis_queues_keys)
    assert outbox.flush() is True  # the event was kept, and goes at the next hand-on
    assert {event.data["text"] for event in message_events(client)} == {"reply 1"}


def test_events_journalled_before_the_agent_stopped_are_handed_over_by_its_next_run(tmp_path, own_redis):
    own_redis.stop()
    first_run = Ledger(tmp_path / "agent.sqlite3")
    Outbox(first_run, own_redis.client(), DEVICE_ID, SIGNING_KEY).report("received", incoming(1))
    first_run.close()
    own_redis.start()

    next_run = Ledger(tmp_path / "agent.sqlite3")
    assert Outbox(next_run, own_redis.client(), DEVICE_ID, SIGNING_KEY).flush() is True

    events = message_events(own_redis.client())
    assert [(event.kind, event.device_id, event.data["text"]) for event in events] == [
        ("received", DEVICE_ID, "reply 1")
    ]


def test_an_event_redis_lost_before_the_worker_ran_it_is_handed_on_again_until_acknowledged(tmp_path, own_redis):
    ledger = Ledger(tmp_path / "agent.sqlite3")
    client = own_redis.client()
    outbox = Outbox(ledger, client, DEVICE_ID, SIGNING_KEY, rehand_seconds=0.2)
    outbox.report("received", incoming(1))
    [handed] = message_events(client)

    client.flushall()  # Redis loses its data before the relay's worker applied the event

    [again] = eventually(lambda: outbox.flush() and message_events(client))
    assert (again.event_id, again.data["text"]) == (handed.event_id, "reply 1")
    client.set(wire.event_ack_key(DEVICE_ID, again.event_id), 1)  # as the worker does once it applied it
    Queue(wire.EVENTS_QUEUE, connection=client).empty()
    assert outbox.flush() is True
    assert ledger.handed_events() == [] and ledger.due_events(time.time() + 3600) == []


def test_an_event_still_waiting_for_a_stopped_worker_is_not_handed_on_twice(tmp_path, own_redis):
    ledger = Ledger(tmp_path / "agent.sqlite3")
    client = own_redis.client()
    outbox = Outbox(ledger, client, DEVICE_ID, SIGNING_KEY, rehand_seconds=0.05)
    outbox.report("received", incoming(1))

    time.sleep(0.1)  # past the re-hand interval, with no acknowledgement
    assert outbox.flush() is True

    assert client.llen(Queue(wire.EVENTS_QUEUE, connection=client).key) == 1
    assert [event.data["text"] for event in message_events(client)] == ["reply 1"]


def test_events_awaiting_acknowledgement_are_asked_about_at_most_once_a_second_however_many_reports_follow(
    tmp_path, own_redis
):
    ledger = Ledger(tmp_path / "agent.sqlite3")
    client = own_redis.client()
    outbox = Outbox(ledger, client, DEVICE_ID, SIGNING_KEY)
    for number in range(200):  # behind a slow worker: none acknowledged yet
        outbox.report("received", incoming(number))
    client.config_resetstat()

    started = time.monotonic()
    for number in range(200, 250):
        outbox.report("received", incoming(number))
    seconds = time.monotonic() - started

    asked = client.info("commandstats").get("cmdstat_exists", {}).get("calls", 0)
    # Each ask is one command for every event waiting (200 to 250 of them), none acknowledged.
    assert asked <= 1 + int(seconds / ACK_CHECK_SECONDS)
    assert len(message_events(client)) == 250  # every new event was handed on at once all the same


def test_acknowledged_events_leave_the_journal_within_a_second_of_steps(tmp_path, own_redis):
    ledger = Ledger(tmp_path / "agent.sqlite3")
    client = own_redis.client()
    outbox = Outbox(ledger, client, DEVICE_ID, SIGNING_KEY)
    outbox.report("received", incoming(1))
    [(_, event_id)] = ledger.handed_events()
    client.set(wire.event_ack_key(DEVICE_ID, event_id), 1)

    eventually(lambda: outbox.hand_on() and ledger.handed_events() == [], timeout=ACK_CHECK_SECONDS + 5)


def acknowledge(client, event_ids) -> None:
    """As the worker does once it applied each event."""
    for event_id in event_ids:
        client.set(wire.event_ack_key(DEVICE_ID, event_id), 1)


def handed_over(tmp_path, client, count: int) -> tuple[Outbox, Ledger, list[str]]:
    """An outbox that reported ``count`` events, its ledger, and the events' ids in order."""
    ledger = Ledger(tmp_path / "agent.sqlite3")
    outbox = Outbox(ledger, client, DEVICE_ID, SIGNING_KEY)
    for number in range(count):
        outbox.report("received", incoming(number))
    return outbox, ledger, [event_id for _, event_id in ledger.handed_events()]


def test_the_oldest_events_acknowledged_leave_the_journal_for_two_commands_however_many_wait(tmp_path, own_redis):
    client = own_redis.client()
    outbox, ledger, handed = handed_over(tmp_path, client, 200)
    acknowledge(client, handed[:120])  # a worker part way through the backlog, in order
    client.config_resetstat()

    assert outbox.flush() is True

    assert [event_id for _, event_id in ledger.handed_events()] == handed[120:]
    assert client.info("commandstats")["cmdstat_exists"]["calls"] <= 2


def test_events_acknowledged_out_of_order_each_leave_the_journal_and_no_other(tmp_path, own_redis):
    client = own_redis.client()
    outbox, ledger, handed = handed_over(tmp_path, client, 10)
    acknowledge(client, handed[1::2])  # as after some were handed again, behind the others

    assert outbox.flush() is True

    assert [event_id for _, event_id in ledger.handed_events()] == handed[0::2]


def test_events_reported_while_earlier_ones_wait_for_their_ack_are_each_handed_on_once_in_order(tmp_path, own_redis):
    ledger = Ledger(tmp_path / "agent.sqlite3")
    outbox = Outbox(ledger, own_redis.client(), DEVICE_ID, SIGNING_KEY)
    for number in range(3):
        outbox.report("received", incoming(number))  # handed on, never acknowledged

    for number in range(3, 5):
        outbox.report("received", incoming(number))
        assert outbox.hand_on() is True

    texts = [event.data["text"] for event in message_events(own_redis.client())]
    assert texts == [f"reply {number}" for number in range(5)]
    assert ledger.unhanded_events() == []


def test_an_event_is_handed_on_as_the_job_rqs_own_enqueue_stores_field_for_field(tmp_path, own_redis):
    client = own_redis.client()
    outbox = Outbox(Ledger(tmp_path / "agent.sqlite3"), client, DEVICE_ID, SIGNING_KEY)
    outbox.report("received", incoming(1))
    [ours_id] = [item.decode() for item in client.lrange(bus.queue_key(wire.EVENTS_QUEUE), 0, -1)]
    document, signature = bus.fetch(ours_id, client).args

    events = bus.queue(wire.EVENTS_QUEUE, client)
    events.enqueue_many([Queue.prepare_data(wire.APPLY_EVENT_FUNC, args=(document, signature), job_id="theirs")])

    ours, theirs = (client.hgetall(Job.key_for(job_id)) for job_id in (ours_id, "theirs"))
    moments = {b"created_at", b"enqueued_at"}  # when each was made
    assert set(ours) == set(theirs)
    assert {name: value for name, value in ours.items() if name not in moments} == {
        name: value for name, value in theirs.items() if name not in moments
    }
    assert client.ttl(Job.key_for(ours_id)) == client.ttl(Job.key_for("theirs")) == -1
    assert client.smembers(events.redis_queues_keys) == {events.key.encode()}
