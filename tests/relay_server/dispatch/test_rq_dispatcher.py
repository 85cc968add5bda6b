"""The RQ dispatcher against a real redis-server and a real SQLite store."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
import redis
from relay_parts import GRACE, OFFLINE_AFTER_SECONDS, expected_after_submit, minutes
from rq.job import Job
from signed_jobs import signed_for

from relay_server.dispatch import RQDispatcher, placement
from relay_server.dispatch.dispatcher import CancelUndecided, DeviceOffline, NoDeviceAvailable
from relay_server.dispatch.estimate import DEFAULT_SEND_SECONDS
from relay_server.worker.epoch import recovery_resumes_at, server_id
from zimsend_common import bus, redis_client, wire
from zimsend_common.timefmt import utcnow


def queued_ids(redis_client: redis.Redis, name: str) -> list[str]:
    return bus.queue(name, redis_client).job_ids


def test_a_send_with_no_device_online_is_refused_as_no_device_available(parts, dispatcher):
    caller = parts.client()
    parts.device(caller)
    with pytest.raises(NoDeviceAvailable):
        dispatcher.choose_device(caller, None, scheduled=False)


def test_a_send_to_a_device_silent_past_the_threshold_is_refused_as_offline(parts, dispatcher):
    caller = parts.client()
    device = parts.device(caller)
    device.heartbeat(at=utcnow() - timedelta(seconds=OFFLINE_AFTER_SECONDS + 5))
    with pytest.raises(DeviceOffline):
        dispatcher.choose_device(caller, device.device_id, scheduled=False)


def test_a_device_heard_from_recently_is_chosen_and_without_one_asked_the_shared_queues_are(parts, dispatcher):
    caller = parts.client()
    device = parts.device(caller)
    device.heartbeat()
    assert dispatcher.choose_device(caller, device.device_id, scheduled=False) == device.device_id
    assert dispatcher.choose_device(caller, None, scheduled=False) is None


def test_another_clients_online_device_does_not_make_a_client_available(parts, dispatcher):
    caller, other = parts.client(), parts.client()
    parts.device(caller)
    parts.device(other).heartbeat()
    with pytest.raises(NoDeviceAvailable):
        dispatcher.choose_device(caller, None, scheduled=False)


def test_scheduled_and_test_sends_are_accepted_whatever_the_devices_state(parts, dispatcher):
    caller = parts.client()
    device = parts.device(caller)
    assert dispatcher.choose_device(caller, device.device_id, scheduled=True) == device.device_id
    assert dispatcher.choose_device(parts.client(test=True), None, scheduled=False) is None


def test_a_message_for_a_device_goes_on_that_devices_queue_at_its_priority(parts, dispatcher):
    caller = parts.client()
    device = parts.device(caller)
    message = parts.message(caller, device_id=device.device_id, priority=2)
    dispatcher.submit([message])
    assert queued_ids(parts.redis, wire.device_queue(device.device_id, 2)) == [
        wire.send_job_id(message.client_id, message.message_id)
    ]
    job = bus.fetch(wire.send_job_id(message.client_id, message.message_id), parts.redis)
    assert job.func_name == wire.SEND_JOB_FUNC
    sent = wire.SendJob.from_dict(job.args[0])
    assert replace(sent, issued_at="", nonce="") == replace(placement.send_job(message), issued_at="", nonce="")


def test_a_message_without_a_device_goes_on_the_clients_shared_queue(parts, dispatcher):
    caller = parts.client()
    message = parts.message(caller, priority=5)
    dispatcher.submit([message])
    assert queued_ids(parts.redis, wire.client_queue(caller.client_id, 5)) == [
        wire.send_job_id(message.client_id, message.message_id)
    ]


def test_a_device_added_is_signed_for_from_at_most_the_keys_age_later(parts):
    dispatcher = RQDispatcher(parts.store, parts.redis, timedelta(seconds=OFFLINE_AFTER_SECONDS), GRACE)
    dispatcher.keys.max_age = 3600  # a second in service: here no read ages until the test says so
    caller = parts.client()
    first = parts.device(caller)
    keys = {first.device_id: first.signing_key}
    dispatcher.submit([parts.message(caller)])  # the client's keys read: one device

    added = parts.device(caller)
    keys[added.device_id] = added.signing_key
    within = parts.message(caller)
    dispatcher.submit([within])
    dispatcher.keys.max_age = 0  # the keys read are now past their age
    later = parts.message(caller)
    dispatcher.submit([later])

    def signed(message):
        job = bus.fetch(wire.send_job_id(message.client_id, message.message_id), parts.redis)
        return signed_for(parts.redis, job, keys)

    assert signed(within) == {first.device_id}
    assert signed(later) == {first.device_id, added.device_id}


def test_a_device_disabled_with_a_fresh_heartbeat_is_neither_chosen_nor_signed_for_once_the_reads_age(parts):
    dispatcher = RQDispatcher(parts.store, parts.redis, timedelta(seconds=OFFLINE_AFTER_SECONDS), GRACE)
    caller = parts.client()
    kept, gone = parts.device(caller), parts.device(caller)
    kept.heartbeat()
    gone.heartbeat()
    assert dispatcher.choose_device(caller, gone.device_id, scheduled=False) == gone.device_id

    parts.store.devices.disable(gone.device_id)
    dispatcher.keys.max_age = dispatcher.states.max_age = 0  # a second in service: past the reads' age
    message = parts.message(caller)
    dispatcher.submit([message])

    with pytest.raises(DeviceOffline):
        dispatcher.choose_device(caller, gone.device_id, scheduled=False)
    assert dispatcher.choose_device(caller, None, scheduled=False) is None  # the other device serves
    job = bus.fetch(wire.send_job_id(message.client_id, message.message_id), parts.redis)
    assert signed_for(parts.redis, job, {d.device_id: d.signing_key for d in (kept, gone)}) == {kept.device_id}
    parts.store.devices.disable(kept.device_id)
    with pytest.raises(NoDeviceAvailable):
        dispatcher.choose_device(caller, None, scheduled=False)


def test_a_test_keys_message_goes_to_the_simulated_device(parts, dispatcher):
    caller = parts.client(test=True)
    message = parts.message(caller)
    dispatcher.submit([message])
    assert queued_ids(parts.redis, wire.SIMULATED_QUEUE) == [wire.send_job_id(message.client_id, message.message_id)]


def test_a_scheduled_message_waits_in_the_store_alone_with_no_job_in_redis(parts, dispatcher):
    caller = parts.client()
    message = parts.message(caller, scheduled_at=utcnow() + minutes(10))
    dispatcher.submit([message])
    assert queued_ids(parts.redis, wire.client_queue(caller.client_id, 3)) == []
    assert not Job.exists(wire.send_job_id(message.client_id, message.message_id), connection=parts.redis)


def test_submitting_a_message_twice_queues_one_job(parts, dispatcher):
    caller = parts.client()
    message = parts.message(caller)
    dispatcher.submit([message])
    dispatcher.submit([message])
    assert queued_ids(parts.redis, wire.client_queue(caller.client_id, 3)) == [
        wire.send_job_id(message.client_id, message.message_id)
    ]


def test_a_submit_while_redis_is_down_returns_and_the_message_stays_queued(parts):
    caller = parts.client()
    message = parts.message(caller)
    dead = redis_client.connect("redis://127.0.0.1:1/0", redis_client.REQUEST)
    RQDispatcher(parts.store, dead, timedelta(seconds=30), GRACE).submit([message])
    assert parts.reload(message).status == "queued"


def test_cancel_of_a_queued_message_wins_the_claim_and_removes_its_job(parts, dispatcher):
    caller = parts.client()
    message = parts.message(caller)
    dispatcher.submit([message])
    assert dispatcher.cancel(message) is True
    assert parts.redis.get(wire.claim_key(message.client_id, message.message_id)) == wire.CLAIM_CANCELLED.encode()
    assert queued_ids(parts.redis, wire.client_queue(caller.client_id, 3)) == []
    assert not parts.redis.exists(Job.key_for(wire.send_job_id(message.client_id, message.message_id)))


def test_cancel_of_a_scheduled_message_claims_it_so_no_device_can_take_it_when_due(parts, dispatcher):
    caller = parts.client()
    message = parts.message(caller, scheduled_at=utcnow() + minutes(10))
    dispatcher.submit([message])
    assert dispatcher.cancel(message) is True
    assert parts.redis.get(wire.claim_key(message.client_id, message.message_id)) == wire.CLAIM_CANCELLED.encode()


def test_cancel_after_a_device_claimed_the_message_is_refused(parts, dispatcher):
    caller = parts.client()
    device = parts.device(caller)
    message = parts.message(caller)
    dispatcher.submit([message])
    parts.redis.set(
        wire.claim_key(message.client_id, message.message_id), wire.claim_value_device(device.device_id), nx=True
    )
    assert dispatcher.cancel(message) is False
    assert Job.exists(wire.send_job_id(message.client_id, message.message_id), connection=parts.redis)


def test_cancelling_twice_is_still_a_cancel(parts, dispatcher):
    message = parts.message(parts.client())
    assert dispatcher.cancel(message) is True
    assert dispatcher.cancel(message) is True


def test_cancel_while_redis_is_down_is_undecided_rather_than_promised_or_refused(parts):
    message = parts.message(parts.client())
    dead = redis_client.connect("redis://127.0.0.1:1/0", redis_client.REQUEST)
    with pytest.raises(CancelUndecided) as undecided:
        RQDispatcher(parts.store, dead, timedelta(seconds=30), GRACE).cancel(message)
    assert undecided.value.retry_after > timedelta(0)


def test_a_cancel_right_after_redis_lost_its_data_waits_for_the_grace_period_then_wins(parts, dispatcher):
    caller = parts.client()
    device = parts.device(caller)
    message = parts.message(caller)
    dispatcher.submit([message])
    # A device claimed it and sent it; its `sent` event is not applied yet when Redis loses everything.
    parts.redis.set(wire.claim_key(message.client_id, message.message_id), wire.claim_value_device(device.device_id))
    parts.redis.flushall()

    with pytest.raises(CancelUndecided) as before_noticed:
        dispatcher.cancel(message)
    assert before_noticed.value.retry_after == GRACE
    resume_at = recovery_resumes_at(parts.redis, utcnow(), GRACE)  # the worker notices the loss
    with pytest.raises(CancelUndecided) as during_grace:
        dispatcher.cancel(message)
    assert timedelta(0) < during_grace.value.retry_after <= GRACE
    assert parts.redis.get(wire.claim_key(message.client_id, message.message_id)) is None

    parts.redis.set(
        wire.redis_epoch_key(), wire.epoch_value(resume_at - GRACE - timedelta(seconds=1), server_id(parts.redis))
    )
    assert dispatcher.cancel(message) is True


def test_a_cancel_during_the_grace_period_is_refused_once_the_agent_claimed_its_message_again(parts, dispatcher):
    caller = parts.client()
    device = parts.device(caller)
    message = parts.message(caller)
    dispatcher.submit([message])
    parts.redis.flushall()
    recovery_resumes_at(parts.redis, utcnow(), GRACE)
    parts.redis.set(wire.claim_key(message.client_id, message.message_id), wire.claim_value_device(device.device_id))
    assert dispatcher.cancel(message) is False


def test_a_scheduled_message_not_yet_due_is_cancelled_at_once_even_right_after_redis_lost_its_data(parts, dispatcher):
    message = parts.message(parts.client(), scheduled_at=utcnow() + minutes(10))
    parts.redis.flushall()
    assert dispatcher.cancel(message) is True
    assert parts.redis.get(wire.claim_key(message.client_id, message.message_id)) == wire.CLAIM_CANCELLED.encode()


def test_estimated_delivery_counts_the_jobs_ahead_at_the_devices_recent_send_time(parts, dispatcher):
    caller = parts.client()
    device = parts.device(caller)
    device.heartbeat()
    parts.redis.rpush(wire.send_times_key(device.device_id), 2.0, 4.0)
    ahead = [parts.message(caller, priority=2) for _ in range(3)]
    later = parts.message(caller, priority=4)
    dispatcher.submit([*ahead, later])
    before = utcnow()
    urgent = parts.message(caller, priority=1)
    dispatcher.submit([urgent])
    # 1 job ahead of and including the urgent one; 5 for the one at priority 4; 3 s a send.
    urgent_eta = dispatcher.estimated_delivery(urgent)
    later_eta = dispatcher.estimated_delivery(later)
    assert before + timedelta(seconds=3) <= urgent_eta < later_eta
    assert later_eta - urgent_eta == pytest.approx(timedelta(seconds=12), abs=timedelta(seconds=1))


def test_a_send_for_one_device_is_estimated_ahead_of_its_clients_shared_messages_of_its_priority(parts, dispatcher):
    caller = parts.client()
    device = parts.device(caller)
    device.heartbeat()
    parts.redis.rpush(wire.send_times_key(device.device_id), 10.0)
    dispatcher.submit([parts.message(caller) for _ in range(30)])  # 300 s of shared sends queued
    urgent = parts.message(caller, priority=1)
    dispatcher.submit([urgent])

    # The device takes its own queue of a priority before its client's shared one: its own send
    # alone, not behind the 30; behind a shared message of a higher priority, though.
    own = parts.message(caller, device_id=device.device_id)
    assert expected_after_submit(dispatcher, own) == pytest.approx(timedelta(seconds=20), abs=timedelta(seconds=1))


def test_estimated_delivery_without_send_history_uses_the_default_send_time(parts, dispatcher):
    caller = parts.client()
    device = parts.device(caller)
    message = parts.message(caller, device_id=device.device_id)
    before = utcnow()
    dispatcher.submit([message])
    eta = dispatcher.estimated_delivery(message)
    assert eta >= before + timedelta(seconds=DEFAULT_SEND_SECONDS)


def test_estimated_delivery_of_a_scheduled_message_is_not_before_its_time(parts, dispatcher):
    caller = parts.client()
    when = utcnow() + minutes(30)
    message = parts.message(caller, scheduled_at=when)
    dispatcher.submit([message])
    assert dispatcher.estimated_delivery(message) >= when


def test_a_scheduled_message_is_estimated_behind_only_the_jobs_still_queued_at_its_time(parts, dispatcher):
    caller = parts.client()
    device = parts.device(caller)
    device.heartbeat()
    parts.redis.rpush(wire.send_times_key(device.device_id), 10.0)
    dispatcher.submit([parts.message(caller, priority=2) for _ in range(30)])  # 300 s of sends queued now
    before = utcnow()
    tomorrow = parts.message(caller, scheduled_at=before + timedelta(days=1))
    soon = parts.message(caller, scheduled_at=before + minutes(1))

    # The jobs queued now are long sent by tomorrow: its own send alone follows its time.
    assert dispatcher.estimated_delivery(tomorrow) - tomorrow.scheduled_at == pytest.approx(
        timedelta(seconds=10), abs=timedelta(seconds=1)
    )
    # Due before they are sent, it waits for them, then its own send.
    assert dispatcher.estimated_delivery(soon) - before == pytest.approx(
        timedelta(seconds=310), abs=timedelta(seconds=1)
    )


def test_estimated_delivery_ignores_what_a_device_wrote_that_is_no_send_time(parts, dispatcher):
    caller = parts.client()
    honest, planting = parts.device(caller), parts.device(caller)
    honest.heartbeat()
    planting.heartbeat()
    parts.redis.rpush(wire.send_times_key(honest.device_id), 2.0)
    # A device writes its own send times and queue keys: nothing there may fail its client's sends.
    parts.redis.rpush(wire.send_times_key(planting.device_id), "inf", "nan", "-1", "1e300", "soon", 4.0)
    parts.redis.set(bus.queue_key(wire.device_queue(planting.device_id, 3)), "not a list")

    # Its own job, at the mean of the two believable samples (3 s), shared by the two devices.
    assert expected_after_submit(dispatcher, parts.message(caller)) == pytest.approx(
        timedelta(seconds=1.5), abs=timedelta(seconds=1)
    )


def test_estimated_delivery_for_a_rack_counts_every_online_devices_queue_and_send_times(parts, dispatcher):
    caller = parts.client()
    devices = [parts.device(caller) for _ in range(50)]
    for device in devices:
        device.heartbeat()
        parts.redis.rpush(wire.send_times_key(device.device_id), 10.0)
    for device in devices[:25]:
        dispatcher.submit([parts.message(caller, device_id=device.device_id, priority=2) for _ in range(2)])

    # 50 jobs on devices' queues and its own: 51 jobs of 10 s over 50 devices.
    assert expected_after_submit(dispatcher, parts.message(caller, priority=3)) == pytest.approx(
        timedelta(seconds=10.2), abs=timedelta(seconds=1)
    )


def test_estimated_delivery_after_redis_lost_its_scripts(parts, dispatcher):
    caller = parts.client()
    device = parts.device(caller)
    device.heartbeat()
    parts.redis.rpush(wire.send_times_key(device.device_id), 2.0)
    message = parts.message(caller)
    assert dispatcher.estimated_delivery(message) is not None
    parts.redis.script_flush()  # as a restarted Redis: the estimate's script is gone
    before = utcnow()
    eta = dispatcher.estimated_delivery(message)
    assert eta is not None and eta - before == pytest.approx(timedelta(seconds=2), abs=timedelta(seconds=1))


def test_a_device_whose_modem_is_lost_is_not_available(parts, dispatcher):
    caller = parts.client()
    device = parts.device(caller)
    device.heartbeat(state="modem_lost")
    with pytest.raises(DeviceOffline):
        dispatcher.choose_device(caller, device.device_id, scheduled=False)
    with pytest.raises(NoDeviceAvailable):
        dispatcher.choose_device(caller, None, scheduled=False)


def test_estimated_delivery_of_a_shared_send_counts_only_the_agents_that_drain_the_shared_queues(parts, dispatcher):
    caller = parts.client()
    agent = parts.device(caller)
    agent.heartbeat()
    parts.redis.rpush(wire.send_times_key(agent.device_id), 2.0)
    phone, _ = parts.store.devices.add_android(caller.client_id)
    parts.store.devices.record_heartbeat(phone.device_id, utcnow(), {"state": "online"})
    parts.redis.rpush(wire.send_times_key(phone.device_id), 60.0)

    # Its own send on the agent, at the agent's 2 s: the phone never takes a shared job.
    assert timedelta(seconds=2) <= expected_after_submit(dispatcher, parts.message(caller)) < timedelta(seconds=10)
