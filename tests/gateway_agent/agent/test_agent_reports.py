"""Status reports find their message and move it once: real SQLite ledger, real Redis."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from agent_support import DEVICE_ID, SIGNING_KEY, message_events

from gateway_agent.agent.ledger import Ledger
from gateway_agent.agent.outbox import Outbox
from gateway_agent.backends.at.inbox import Inbox
from gateway_agent.modem import DeliveryReport, SendReceipt
from gateway_agent.reports.tracker import DeliveryTracker
from zimsend_common.failures import FailureCode
from zimsend_common.timefmt import isoformat_precise, parse_utc, utcnow

RECIPIENT = "+263771234567"


@pytest.fixture
def outbox(ledger, conn):
    return Outbox(ledger, conn, DEVICE_ID, SIGNING_KEY)


@pytest.fixture
def tracker(ledger, outbox):
    return DeliveryTracker(ledger, outbox)


def sent(
    ledger: Ledger, outbox: Outbox, message_id: str, references: tuple[int, ...], at: datetime | None = None
) -> datetime:
    submitted = at or datetime.now(timezone.utc)
    ledger.take(message_id, RECIPIENT, time.time())
    outbox.report_sent(message_id, SendReceipt(references, RECIPIENT, submitted))
    return submitted


def report(reference: int, outcome: str, discharged: datetime, **fields) -> DeliveryReport:
    values = dict(
        reference=reference,
        recipient=fields.pop("recipient", "263771234567"),
        outcome=outcome,
        status_code=0 if outcome == "delivered" else 70,
        service_centre_time=discharged - timedelta(seconds=1),
        discharge_time=discharged,
    )
    values.update(fields)
    return DeliveryReport(**values)


def test_a_message_is_delivered_when_its_last_part_is_with_the_latest_discharge_time(ledger, outbox, tracker, conn):
    submitted = sent(ledger, outbox, "msg_0000000000000001", (5, 6))
    late, early = submitted + timedelta(seconds=9), submitted + timedelta(seconds=3)

    tracker.on_report(report(6, "delivered", late))
    assert [event.kind for event in message_events(conn)] == ["sent"]
    tracker.on_report(report(5, "delivered", early))

    events = message_events(conn)
    assert [event.kind for event in events] == ["sent", "delivered"]
    assert events[0].data["references"] == [5, 6]
    assert events[1].data == {"message_id": "msg_0000000000000001", "delivered_at": isoformat_precise(late)}


def test_a_failed_part_fails_the_message_with_the_reports_code_and_status(ledger, outbox, tracker, conn):
    submitted = sent(ledger, outbox, "msg_0000000000000002", (9,))

    tracker.on_report(report(9, "failed", submitted, failure=FailureCode.INVALID_NUMBER, status_code=65))

    failed = message_events(conn)[-1]
    assert failed.kind == "failed"
    assert failed.data["code"] == "INVALID_NUMBER"
    assert "65" in failed.data["detail"]


def test_a_repeated_or_pending_report_changes_nothing(ledger, outbox, tracker, conn):
    submitted = sent(ledger, outbox, "msg_0000000000000003", (11,))

    tracker.on_report(report(11, "pending", submitted))
    tracker.on_report(report(11, "delivered", submitted))
    tracker.on_report(report(11, "delivered", submitted))
    tracker.on_report(report(11, "failed", submitted))

    assert [event.kind for event in message_events(conn)] == ["sent", "delivered"]


def test_a_reference_that_wrapped_around_belongs_to_the_newest_message(ledger, outbox, tracker, conn):
    sent(ledger, outbox, "msg_0000000000000004", (200,))
    tracker.on_report(report(200, "delivered", datetime.now(timezone.utc)))
    submitted = sent(ledger, outbox, "msg_0000000000000005", (200,))

    tracker.on_report(report(200, "delivered", submitted + timedelta(seconds=1)))

    delivered = [event.data["message_id"] for event in message_events(conn) if event.kind == "delivered"]
    assert delivered == ["msg_0000000000000004", "msg_0000000000000005"]


def test_a_late_report_belongs_to_the_earlier_send_although_its_reference_was_used_again(ledger, outbox, tracker, conn):
    first = sent(ledger, outbox, "msg_0000000000000007", (30,), at=datetime.now(timezone.utc) - timedelta(seconds=20))
    second = sent(ledger, outbox, "msg_0000000000000008", (30,))  # 256 sends later, before the first's report

    tracker.on_report(report(30, "delivered", first + timedelta(seconds=1)))
    tracker.on_report(report(30, "delivered", second + timedelta(seconds=1)))

    delivered = [event.data["message_id"] for event in message_events(conn) if event.kind == "delivered"]
    assert delivered == ["msg_0000000000000007", "msg_0000000000000008"]


def test_a_service_centre_clock_minutes_ahead_is_learnt_and_still_tells_a_reused_reference_apart(
    ledger, outbox, tracker, conn
):
    ahead = timedelta(minutes=4)
    start = datetime.now(timezone.utc) - timedelta(minutes=10)
    for n in range(3):  # reports that leave no choice teach the tracker the service centre's clock
        at = start + timedelta(seconds=n)
        sent(ledger, outbox, f"msg_00000000000001{n:02d}", (40 + n,), at=at)
        tracker.on_report(report(40 + n, "delivered", at + ahead + timedelta(seconds=1)))
    earlier = sent(ledger, outbox, "msg_0000000000000200", (50,), at=start + timedelta(minutes=1))
    sent(ledger, outbox, "msg_0000000000000201", (50,), at=start + timedelta(minutes=4))

    # Stamped four minutes after the earlier send: by our clock, the later one's very moment.
    tracker.on_report(report(50, "delivered", earlier + ahead + timedelta(seconds=1)))

    delivered = [event.data["message_id"] for event in message_events(conn) if event.kind == "delivered"]
    assert delivered[-1] == "msg_0000000000000200"


def test_a_report_for_another_number_or_reference_matches_nothing(ledger, outbox, tracker, conn):
    submitted = sent(ledger, outbox, "msg_0000000000000006", (12,))

    tracker.on_report(report(12, "delivered", submitted, recipient="+263779999999"))
    tracker.on_report(report(13, "delivered", submitted))

    assert [event.kind for event in message_events(conn)] == ["sent"]


def test_a_report_with_a_zero_discharge_time_still_reaches_its_message(ledger, outbox, tracker, conn):
    # Reference 42 to +263771234567, taken by the service centre 2024-05-01 10:00 UTC, TP-DT all zeros.
    pdu = "00062A0C91627317325476425010010000000000000000000000"
    sent(ledger, outbox, "msg_0000000000000009", (42,), at=datetime(2024, 5, 1, 10, 0, 0, tzinfo=timezone.utc))

    received = Inbox().accept(pdu)
    assert isinstance(received.event, DeliveryReport)
    tracker.on_report(received.event)

    delivered = message_events(conn)[-1]
    assert (delivered.kind, delivered.data["message_id"]) == ("delivered", "msg_0000000000000009")
    # Delivered when the report came, to the millisecond the event carries.
    assert timedelta(0) <= utcnow() - parse_utc(delivered.data["delivered_at"]) < timedelta(seconds=5)
