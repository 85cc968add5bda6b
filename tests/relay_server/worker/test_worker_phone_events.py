"""A phone's reports, answered 2xx by a real relay (``zimsend-relay serve``), reach the store
even when Redis loses its data before the worker applied them: the maintenance round hands
them on again from the store, as an agent hands on its own, and forgets those applied."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from relay_parts import Parts, maintenance
from relay_process import served_environment, serving
from smsgate_phone import Phone

from relay_server.store.inbox import InboxQuery
from relay_server.store.mobile_schema import phone_events
from relay_server.store.models import Caller, Message
from relay_server.worker.event_pump import EventPump
from zimsend_common import bus, wire
from zimsend_common.timefmt import utcnow

pytestmark = pytest.mark.slow  # each test starts zimsend-relay serve


@dataclass
class PhoneOfClient:
    caller: Caller
    phone: Phone
    webhook_url: str
    webhook_key: str


@pytest.fixture
def mobile_url(tmp_path, database_url: str, redis_proc: Any, parts: Parts) -> Iterator[str]:
    """The phone API of a relay serving the test's store and Redis; no worker runs."""
    env, port = served_environment(tmp_path, database_url, redis_proc)
    with serving(env):
        yield f"http://127.0.0.1:{port}/api/mobile/v1"


@pytest.fixture
def phone(parts: Parts, mobile_url: str) -> PhoneOfClient:
    caller = parts.client()
    _, token = parts.store.mobile_devices.add_android(caller.client_id, None)
    phone = Phone(mobile_url, token)
    assert phone.register().status_code == 201
    phone.use_sse()
    key = phone.call("GET", "/settings").json()["webhooks"]["signing_key"]
    return PhoneOfClient(caller, phone, f"{mobile_url}/webhooks/in/{phone.device_id}", key)


def _refuse_phone_events(parts: Parts) -> None:
    """From now on, the database itself refuses to keep any phone's event."""
    with parts.store.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(
                sa.text(
                    "CREATE FUNCTION refuse_phone_event() RETURNS trigger AS $$ BEGIN "
                    "RAISE EXCEPTION 'no room'; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                sa.text(
                    "CREATE TRIGGER refuse_phone_event BEFORE INSERT ON phone_events "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_phone_event()"
                )
            )
        else:
            conn.execute(
                sa.text(
                    "CREATE TRIGGER refuse_phone_event BEFORE INSERT ON phone_events "
                    "BEGIN SELECT RAISE(ABORT, 'no room'); END"
                )
            )


def _received_payload() -> dict[str, Any]:
    return {
        "message": "Oui, merci",
        "receivedAt": "2026-12-03T15:01:02.345+02:00",
        "messageId": "abc",
        "sender": "+33698765432",
        "phoneNumber": "+33698765432",
    }


def _sms_received(of: PhoneOfClient) -> None:
    answer = of.phone.webhook(of.webhook_url, "sms:received", _received_payload(), key=of.webhook_key)
    assert answer.status_code == 204


def _sent(parts: Parts, of: PhoneOfClient) -> Message:
    message = parts.message(of.caller, device_id=of.phone.device_id)
    assert of.phone.report(message.message_id, "Sent").status_code == 204
    return message


def _inbox(parts: Parts, of: PhoneOfClient) -> list[str]:
    listed, _ = parts.store.inbox.page(of.caller.client_id, InboxQuery())
    return [incoming.body for incoming in listed]


def _kept(parts: Parts) -> int:
    with parts.store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(phone_events)).scalar_one()


def _queued(parts: Parts) -> int:
    return bus.queue(wire.EVENTS_QUEUE, parts.redis).count


def _apply_all(parts: Parts) -> None:
    pump = EventPump(parts.ctx, wait_seconds=0)
    while pump.round():
        pass


def _after_rehand(parts: Parts):
    return utcnow() + timedelta(seconds=parts.ctx.settings.agent.event_rehand_seconds + 1)


def test_a_phones_reports_answered_before_redis_lost_its_data_reach_the_store_after_a_maintenance_round(
    parts: Parts, phone: PhoneOfClient
):
    _sms_received(phone)
    message = _sent(parts, phone)
    parts.redis.flushall()  # before the worker ran: the events' jobs are gone

    assert maintenance(parts).round(_after_rehand(parts))
    _apply_all(parts)

    assert _inbox(parts, phone) == ["Oui, merci"]
    assert parts.reload(message).status == "sent"


def test_a_phones_event_the_worker_applied_is_forgotten_and_not_handed_on_again(parts: Parts, phone: PhoneOfClient):
    _sms_received(phone)
    message = _sent(parts, phone)
    assert _kept(parts) == 2  # kept before the phone was answered
    _apply_all(parts)

    assert maintenance(parts).round(_after_rehand(parts))

    assert _kept(parts) == 0
    assert _queued(parts) == 0  # nothing handed on again
    assert _inbox(parts, phone) == ["Oui, merci"]
    assert parts.reload(message).status == "sent"


def test_a_phones_event_whose_job_still_waits_for_a_stopped_worker_is_not_handed_on_twice(
    parts: Parts, phone: PhoneOfClient
):
    _sms_received(phone)
    waiting = _queued(parts)

    assert maintenance(parts).round(_after_rehand(parts))

    assert _queued(parts) == waiting
    assert _kept(parts) == 1


def test_a_phones_report_the_store_cannot_keep_is_answered_with_an_error_so_that_the_app_sends_it_again(
    parts: Parts, phone: PhoneOfClient
):
    message = parts.message(phone.caller, device_id=phone.phone.device_id)
    _refuse_phone_events(parts)

    received = phone.phone.webhook(phone.webhook_url, "sms:received", _received_payload(), key=phone.webhook_key)
    sent = phone.phone.report(message.message_id, "Sent")

    assert received.status_code >= 500 and sent.status_code >= 500
    _apply_all(parts)
    assert _inbox(parts, phone) == []
    assert parts.reload(message).status == "queued"
