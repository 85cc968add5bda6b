"""Resident memory across a long run: is it flat?

Runs the gateway as its own processes (relay, worker, one agent on an
emulated modem with no delay, as ``bench/pipeline.py`` does) and sends N
messages in bulks of 1,000, each to a number of its own, keeping at most a few bulks undelivered, and reads
each kind of process's resident set (VmRSS, the largest of its process tree)
after each tenth of them. Flat means the last reading is no more than the
first tenth's, warmed up (pools, caches and lazy imports settled), by a margin
that does not grow with N.

With ``--phone``, a phone of another client (the SMSGate app's calls, as the
end-to-end tests make them) also takes a few messages before each reading:
it pulls them, reports each delivered and pulls again. A relay that serves
phones holds what their pulls need besides (their statements, built at the
first pull), and that is the relay to measure against the target.

Targets: an agent's peak ≤ 40 MB, a relay process ≤ 80 MB (serving phones),
both flat across 100,000 messages.

    .venv/bin/python bench/memory.py                   # 100,000 messages (about ten minutes)
    .venv/bin/python bench/memory.py --phone           # the same, a phone pulling meanwhile
    .venv/bin/python bench/memory.py --quick           # 2,000: proves it still runs
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "support"), str(ROOT / "tests" / "e2e")]

from e2e_gateway import Gateway, wait_until  # noqa: E402
from pipeline import BULK, QUICK, gateway_on_fresh_redis, peak_rss_mb, processes_of, rss_mb, send_bulk  # noqa: E402
from smsgate_phone import Phone  # noqa: E402
from stopping import stop_cleanly_on_sigterm  # noqa: E402

from relay_server.store.models import Caller  # noqa: E402

UNDELIVERED_BULKS = 3  # in flight at once: the queue stays short, as in steady use
READINGS = 10
PHONE_MESSAGES = 5  # sent to the phone before each reading


def own_number(n: int) -> str:
    """A number of its own for each of a run's first 100,000 messages, as when a gateway
    sends codes to its customers: what a process keeps for each number shows here."""
    return f"+2637710{n % 100_000:05d}"


class PhoneClient:
    """A registered phone of a client of its own (its messages count in no other's delivered),
    and how often it pulled."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway, self.account = gateway, gateway.new_account("phone")
        _, token = gateway.store.mobile_devices.add_android(self.account.client_id, None)
        self.phone = Phone(gateway.base_url.removesuffix("/v1") + "/api/mobile/v1", token)
        if self.phone.register().status_code != 201:
            raise RuntimeError("the phone could not register")
        self.pulls = 0

    def take(self, first: int) -> None:
        """What the app does with messages sent to it: it says it is there (a send to a phone
        offline is refused), pulls them, reports each delivered, and pulls until none is listed."""
        phone = self.phone
        phone.use_sse()
        wait_until(lambda: self.gateway.device(self.account, phone.device_id)["online"], "the phone online")
        sent = {
            self.gateway.queue(self.account, device_id=phone.device_id, to=own_number(first + n), message=f"phone {n}")
            for n in range(PHONE_MESSAGES)
        }
        wait_until(lambda: {message["id"] for message in self._pull()} == sent, "the phone to list its messages")
        for message_id in sent:
            if phone.report(message_id, "Delivered").status_code != 204:
                raise RuntimeError(f"the phone's report on {message_id} was refused")
        wait_until(lambda: not self._pull(), "the phone's messages to be taken")

    def _pull(self) -> list[dict[str, Any]]:
        self.pulls += 1
        return self.phone.pull()


def readings(gateway: Gateway, count: int, phone: PhoneClient | None) -> list[tuple[int, dict[str, float]]]:
    """(messages delivered so far, resident MB by kind) after each tenth of ``count`` messages,
    ``phone`` (when given) taking its messages before each reading."""
    account = gateway.new_account("memory")
    gateway.new_agent(account, QUICK)
    caller = Caller(client_id=account.client_id, key_id="", is_test=False)

    def delivered_at_least(count: int) -> None:
        wait_until(
            lambda: gateway.store.stats(caller, None, None, None).delivered >= count, f"{count:,} delivered", 600
        )

    every, found = max(BULK, count // READINGS), []
    for start in range(0, count, BULK):
        size = min(BULK, count - start)
        delivered_at_least(start - UNDELIVERED_BULKS * BULK)
        send_bulk(gateway, account, start, size, own_number)
        if (start + size) % every == 0 or start + size == count:
            delivered_at_least(start + size)
            if phone is not None:
                phone.take(start)
            found.append((start + size, {kind: rss_mb(pids) for kind, pids in processes_of(gateway).items()}))
    return found


def main() -> None:
    stop_cleanly_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="2,000 messages: proves the benchmark still runs")
    parser.add_argument("--phone", action="store_true", help="a phone pulls its messages before each reading")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.quick:
        args.messages = 2000
    with tempfile.TemporaryDirectory() as directory, gateway_on_fresh_redis(Path(directory)) as gateway:
        phone = PhoneClient(gateway) if args.phone else None
        found = readings(gateway, args.messages, phone)
        peaks = peak_rss_mb(gateway)
    kinds = sorted(found[0][1])
    print(f"{'messages delivered':>18} " + " ".join(f"{kind + ' MB':>10}" for kind in kinds))
    for delivered, resident in found:
        print(f"{delivered:>18,} " + " ".join(f"{resident[kind]:>10.1f}" for kind in kinds))
    growth = {kind: round(found[-1][1][kind] - found[0][1][kind], 1) for kind in kinds}
    print(
        f"{'growth after the first reading':>18}: " + ", ".join(f"{kind} {mb:+.1f} MB" for kind, mb in growth.items())
    )
    print("peak RSS: " + ", ".join(f"{kind} {mb:.1f} MB" for kind, mb in sorted(peaks.items())))
    if phone is not None:
        print(f"a phone took {PHONE_MESSAGES} messages before each reading, in {phone.pulls} pulls")
    report: dict[str, Any] = {
        "messages": args.messages,
        "phone_pulls": 0 if phone is None else phone.pulls,
        "readings": [{"delivered": delivered, "rss_mb": resident} for delivered, resident in found],
        "growth_mb": growth,
        "peak_rss_mb": peaks,
    }
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
