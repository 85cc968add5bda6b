"""``zimsend-agent send``: send one SMS and wait for its delivery reports.

Prints one JSON object: the references the network gave each part and the
outcome (``delivered``, ``failed``, ``pending`` when reports did not all come
in time, or ``sent`` when none was asked for). Exit status 0 unless the
modem refused the message (3) or a report says it failed (1).
"""

from __future__ import annotations

import argparse
import json
import time

from gateway_agent.cli.options import EXIT_MODEM, EXIT_USAGE, add_modem_arguments, fail, modem_settings, open_modem_for
from gateway_agent.errors import ModemError
from gateway_agent.modem import DeliveryReport, Modem, SendReceipt
from gateway_agent.reports.matcher import ReportMatcher
from zimsend_common.config import ConfigError

EXIT_UNDELIVERED = 1


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("send", help="send one SMS and wait for its delivery report")
    add_modem_arguments(parser)
    parser.add_argument("--to", required=True, metavar="NUMBER", help="recipient phone number")
    parser.add_argument("--message", required=True, metavar="TEXT", help="the text to send")
    parser.add_argument("--no-report", action="store_true", help="do not ask for a delivery report")
    parser.add_argument("--timeout", type=float, default=120.0, metavar="S",
                        help="seconds to wait for delivery reports (default: 120)")  # fmt: skip
    parser.set_defaults(handler=_main)


def _main(args: argparse.Namespace) -> int:
    try:
        settings = modem_settings(args)
    except ConfigError as error:
        return fail("send", str(error), EXIT_USAGE)
    try:
        modem = open_modem_for(settings)
        try:
            receipt = modem.send(args.to, args.message, request_report=not args.no_report)
            reports = [] if args.no_report else _await_reports(modem, receipt, args.timeout)
        finally:
            modem.close()
    except ModemError as error:
        temporary = "temporary" if error.temporary else "permanent"
        return fail("send", f"{error} ({error.failure}, {temporary})", EXIT_MODEM)
    outcome = _outcome(receipt, reports, asked=not args.no_report)
    print(json.dumps({
        "to": receipt.recipient,
        "references": list(receipt.references),
        "outcome": outcome,
        "reports": [
            {"reference": r.reference, "outcome": r.outcome, "status": r.status_code, "failure": r.failure}
            for r in reports
        ],
    }))  # fmt: skip
    return EXIT_UNDELIVERED if outcome == "failed" else 0


def _await_reports(modem: Modem, receipt: SendReceipt, timeout: float) -> list[DeliveryReport]:
    """The final report of each part, as many as come within ``timeout`` seconds."""
    matcher = ReportMatcher()
    matcher.record("this", receipt)
    finals: list[DeliveryReport] = []
    deadline = time.monotonic() + timeout
    while len(finals) < receipt.parts and (left := deadline - time.monotonic()) > 0:
        event = modem.next_event(min(left, 1.0))
        if isinstance(event, DeliveryReport) and event.outcome != "pending" and matcher.match(event):
            finals.append(event)
    return finals


def _outcome(receipt: SendReceipt, reports: list[DeliveryReport], *, asked: bool) -> str:
    if not asked:
        return "sent"
    if any(report.outcome == "failed" for report in reports):
        return "failed"
    return "delivered" if len(reports) == receipt.parts else "pending"
