"""Matching status reports to sends by (TP-MR, recipient, time), TP-MR wrapping after 255."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from gateway_agent.modem import DeliveryReport, SendReceipt
from gateway_agent.reports.matcher import ReportMatcher

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)


def receipt(references: tuple[int, ...], recipient: str = "+263771234567", at: datetime = T0) -> SendReceipt:
    return SendReceipt(references, recipient, at)


def report(
    reference: int, recipient: str = "+263771234567", outcome: str = "delivered", submitted: datetime = T0
) -> DeliveryReport:
    """A report whose service-centre time stamp says when the part it concerns was submitted."""
    status = 0 if outcome == "delivered" else 0x20
    return DeliveryReport(reference, recipient, outcome, status, submitted, submitted + timedelta(seconds=5))  # type: ignore[arg-type]


def test_a_report_matches_the_part_with_its_reference_and_recipient() -> None:
    matcher = ReportMatcher()
    matcher.record("a", receipt((7, 8)))
    matcher.record("b", receipt((9,), "+263779999999"))
    part = matcher.match(report(8), now=T0)
    assert (part.key, part.part, part.parts) == ("a", 2, 2)
    assert matcher.match(report(9, "+263771234567"), now=T0) is None


def test_when_a_reference_recurs_the_send_nearest_the_reports_time_stamp_wins_whatever_order_reports_come_in() -> None:
    matcher = ReportMatcher()
    matcher.record("old", receipt((5,), at=T0))
    matcher.record("new", receipt((5,), at=T0 + timedelta(seconds=30)))
    later = T0 + timedelta(minutes=5)
    assert matcher.match(report(5, submitted=T0), now=later).key == "old"
    assert matcher.match(report(5, submitted=T0 + timedelta(seconds=30)), now=later).key == "new"


def test_a_time_stamp_names_a_whole_second_so_a_send_late_in_it_beats_one_early_in_the_second_before() -> None:
    matcher = ReportMatcher()
    matcher.record("before", receipt((4,), at=T0 - timedelta(seconds=0.7)))  # stamped 07:59:59
    matcher.record("late", receipt((4,), at=T0 + timedelta(seconds=0.95)))  # stamped 08:00:00
    later = T0 + timedelta(minutes=5)
    assert matcher.match(report(4, submitted=T0), now=later).key == "late"
    assert matcher.match(report(4, submitted=T0 - timedelta(seconds=1)), now=later).key == "before"


def test_a_send_made_after_the_reports_time_stamp_is_not_what_it_reports_on() -> None:
    matcher = ReportMatcher()
    matcher.record("later", receipt((6,), at=T0 + timedelta(hours=1)))
    assert matcher.match(report(6, submitted=T0), now=T0 + timedelta(hours=2)) is None


def test_a_final_report_uses_the_part_up_and_a_pending_one_does_not() -> None:
    matcher = ReportMatcher()
    matcher.record("a", receipt((3,)))
    assert matcher.match(report(3, outcome="pending"), now=T0).key == "a"
    assert matcher.match(report(3), now=T0).key == "a"
    assert matcher.match(report(3), now=T0) is None


def test_national_and_international_forms_of_a_number_match() -> None:
    matcher = ReportMatcher()
    matcher.record("a", receipt((1,), "0771234567"))
    assert matcher.match(report(1, "+263771234567"), now=T0).key == "a"


def test_sends_older_than_the_window_are_forgotten() -> None:
    matcher = ReportMatcher(window=timedelta(hours=1))
    matcher.record("a", receipt((1,)))
    assert matcher.match(report(1), now=T0 + timedelta(hours=2)) is None
    assert len(matcher) == 0
