"""A message still queued when its number is blocked (a STOP reply, or by hand): it fails with
BLOCKED_NUMBER at the next maintenance round, its job (its text with it) deleted from Redis, with
one ``sms.failed`` webhook. One a device claimed, one a pull handed to a phone, and another client's or
another key mode's message to the same number are left as they were."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from query_plans import statements_run
from redis_contents import keys_holding
from relay_parts import AgentDevice, Parts, known_to_the_worker, maintenance, run_round

from relay_server.dispatch import placement
from relay_server.mobile import reports
from relay_server.store.models import Caller, Message
from relay_server.worker.due import release_due
from relay_server.worker.messages import NUMBER_BLOCKED
from relay_server.worker.newly_blocked import NewlyBlocked
from zimsend_common import bus, wire
from zimsend_common.timefmt import isoformat_z, utcnow

NUMBER = "+263771234567"
HOOK = "https://hooks.example.com/zimsend"
TEXT = "Promo ZZ731ZZ"


def queued(parts: Parts, caller: Caller, text: str = TEXT, **fields: object) -> Message:
    """A message of ``caller``'s to NUMBER, its send job (holding ``text``) on its queue, as the relay leaves it."""
    message = parts.message(caller, to=NUMBER, webhook_url=HOOK, **fields)
    placement.enqueue_send(parts.redis, parts.store.devices.signing_keys, replace(message, body=text))
    return message


def reply(device: AgentDevice, text: str) -> None:
    """NUMBER's reply reaching ``device``, as its agent reports it."""
    data = {"sender": NUMBER, "text": text, "received_at": isoformat_z(utcnow()), "parts": 1}
    assert device.report("received", data) == "applied"


def assert_failed_blocked(parts: Parts, message: Message) -> None:
    failed = parts.reload(message)
    assert failed.error is not None
    assert (failed.status, failed.error.code, failed.error.detail) == ("failed", "BLOCKED_NUMBER", NUMBER_BLOCKED)
    [hook] = parts.failed_webhooks(message)
    assert hook["data"]["error"]["code"] == "BLOCKED_NUMBER"


def test_a_message_queued_for_an_offline_device_fails_at_the_next_round_once_its_number_replies_stop(parts: Parts):
    caller = parts.client()
    offline, replier = parts.device(caller), parts.device(caller)
    message = queued(parts, caller, device_id=offline.device_id)
    assert run_round(parts)
    assert parts.reload(message).status == "queued"  # not before its number is blocked

    reply(replier, "STOP")
    assert run_round(parts)

    assert_failed_blocked(parts, message)
    assert keys_holding(parts.redis, TEXT.encode()) == []
    assert bus.queue(wire.device_queue(offline.device_id, message.priority), parts.redis).count == 0
    assert parts.redis.get(wire.claim_key(caller.client_id, message.message_id)) == wire.CLAIM_BLOCKED.encode()


def test_a_number_blocked_during_a_term_fails_its_queued_messages_at_that_terms_next_round(parts: Parts):
    caller = parts.client()
    message = queued(parts, caller)  # on the shared queue, behind a backlog no device drains
    known_to_the_worker(parts.redis)
    rounds = maintenance(parts)
    assert rounds.round(utcnow())

    reply(parts.device(caller), "STOP")
    assert rounds.round(utcnow())

    assert_failed_blocked(parts, message)
    assert keys_holding(parts.redis, TEXT.encode()) == []


def test_a_message_a_device_claimed_is_left_to_its_device(parts: Parts):
    caller = parts.client()
    device = parts.device(caller)
    message = queued(parts, caller, device_id=device.device_id)
    claim = wire.claim_value_device(device.device_id)
    parts.redis.set(wire.claim_key(caller.client_id, message.message_id), claim)

    reply(device, "STOP")
    assert run_round(parts)

    # It may be on air: its device reports what became of it.
    assert parts.reload(message).status == "queued"
    assert parts.redis.get(wire.claim_key(caller.client_id, message.message_id)) == claim.encode()


def test_another_clients_message_and_the_test_modes_to_the_same_number_are_untouched(parts: Parts):
    acme, globex = parts.client(), parts.client()
    acme_test = parts.client(test=True)
    theirs = queued(parts, globex, "Globex ZZ9ZZ")
    tested = queued(parts, acme_test, "Test ZZ8ZZ")

    reply(parts.device(acme), "STOP")
    assert run_round(parts)

    assert parts.reload(theirs).status == parts.reload(tested).status == "queued"
    assert keys_holding(parts.redis, b"Globex ZZ9ZZ") and keys_holding(parts.redis, b"Test ZZ8ZZ")


def test_a_phones_message_no_pull_handed_fails_at_the_next_round_though_the_phone_stays_away(parts: Parts):
    caller = parts.client()
    phone = parts.phone(caller)  # and never pulls again
    message = queued(parts, caller, device_id=phone.device_id)

    parts.store.blocked_numbers.add(caller.client_id, False, NUMBER, utcnow())
    assert run_round(parts)

    # No pull handed it to the phone: it surely never left, and fails as an agent's would.
    assert_failed_blocked(parts, message)
    assert keys_holding(parts.redis, TEXT.encode()) == []
    assert parts.redis.get(wire.claim_key(caller.client_id, message.message_id)) == wire.CLAIM_BLOCKED.encode()


def test_a_phones_message_a_pull_handed_is_left_to_the_phone(parts: Parts):
    caller = parts.client()
    phone = parts.phone(caller)
    message = queued(parts, caller, device_id=phone.device_id)
    assert parts.pulled(phone) == [message]

    parts.store.blocked_numbers.add(caller.client_id, False, NUMBER, utcnow())
    assert run_round(parts)

    # The phone has it and may have sent it: its report says what became of it (relay_server.mobile.handing).
    assert parts.reload(message).status == "queued"
    assert parts.failed_webhooks(message) == []


def test_a_phones_message_that_lost_its_job_to_a_number_blocked_meanwhile_is_placed_again_not_failed(parts: Parts):
    caller = parts.client()
    phone = parts.phone(caller)
    # Its job lost with Redis's data: the phone may have pulled it, sent it, and report it later.
    message = parts.message(caller, to=NUMBER, device_id=phone.device_id, webhook_url=HOOK)
    parts.redis.set(wire.redis_epoch_key(), wire.epoch_value(utcnow(), None))  # recovery resumed since
    parts.store.blocked_numbers.add(caller.client_id, False, NUMBER, utcnow())

    assert run_round(parts)

    # Not failed behind the phone's back: its mark may have gone with the data (relay_server.mobile.handing).
    assert parts.reload(message).status == "queued"
    assert parts.failed_webhooks(message) == []
    assert parts.redis.get(wire.claim_key(caller.client_id, message.message_id)) is None
    assert bus.queue(wire.device_queue(phone.device_id, message.priority), parts.redis).count == 1
    # The phone's report on it claims it for the phone, and is handed on.
    assert reports.report_moves(parts.store, parts.redis, phone, [(message, [("sent", utcnow(), {})])]) == [message]


def test_a_phones_scheduled_message_to_a_number_blocked_meanwhile_fails_at_its_time_without_a_job(parts: Parts):
    caller = parts.client()
    phone = parts.phone(caller)
    at = utcnow()
    message = parts.message(caller, to=NUMBER, device_id=phone.device_id, webhook_url=HOOK, scheduled_at=at)
    parts.store.blocked_numbers.add(caller.client_id, False, NUMBER, utcnow())
    known_to_the_worker(parts.redis)

    assert release_due(parts.ctx, None, at + timedelta(seconds=1), late_after=timedelta(minutes=1)) == 0

    # No pull could list it before its time: it fails then, and the phone is not woken for it.
    assert_failed_blocked(parts, message)
    assert bus.queue(wire.device_queue(phone.device_id, message.priority), parts.redis).count == 0


def test_the_first_round_of_a_term_reads_the_messages_queued_to_fifty_blocked_numbers_in_one_query(parts: Parts):
    caller = parts.client()
    numbers = [f"+2637712{n:05d}" for n in range(50)]
    messages = [parts.message(caller, to=number, webhook_url=HOOK) for number in numbers]
    for number in numbers:
        parts.store.blocked_numbers.add(caller.client_id, False, number, utcnow())
    known_to_the_worker(parts.redis)

    # A new term reads every entry ever put on a list, and the messages queued to each number:
    # in one query for them all, not one an entry.
    reads = statements_run(parts.store.engine, lambda: NewlyBlocked(parts.ctx).fail_queued(utcnow()), "SELECT")
    lookups = [statement for statement, _ in reads if "blocked_numbers" in statement or "recipient =" in statement]

    assert len(lookups) == 1
    assert {parts.reload(message).status for message in messages} == {"failed"}


def test_failing_the_messages_queued_to_fifty_blocked_numbers_takes_as_many_statements_as_for_five(parts: Parts):
    caller = parts.client()
    known_to_the_worker(parts.redis)
    newly_blocked = NewlyBlocked(parts.ctx)
    assert newly_blocked.fail_queued(utcnow()) == 0  # the term's first round, past every entry so far
    ran = []
    for count in (5, 50):
        numbers = [f"+2637713{count:02d}{n:03d}" for n in range(count)]
        messages = [parts.message(caller, to=number, webhook_url=HOOK) for number in numbers]
        for number in numbers:
            parts.store.blocked_numbers.add(caller.client_id, False, number, utcnow())
        ran.append(statements_run(parts.store.engine, lambda: newly_blocked.fail_queued(utcnow()), ""))
        for message in messages:
            assert_failed_blocked(parts, message)

    # Each message read once, with the entries; failed with its webhook and status change in a
    # set of statements that does not grow with the messages, none of them read again by id.
    assert len(ran[1]) == len(ran[0])
    by_id = [
        statement for statement, _ in ran[1] if statement.startswith("SELECT") and "messages.message_id =" in statement
    ]
    assert by_id == []
