"""Two Android phones and a modem as routes by destination prefix, under churn: every send
the relay accepted ends sent, delivered or failed, none leaves twice or through two devices,
and the API's answers and the devices' own logs agree.

The phones are the SMSGate app as the relay sees it over HTTP: each pulls ``GET /message``,
"sends" every message it is listed and does not know yet (its log, the witness of what it
sent), and reports it delivered with ``PATCH /message``, retrying a report the relay did not
take. The modem's witness is its emulated network's log. While a stream of sends runs, phone
A first holds its reports back (the app may report a message well after it sent it), then
falls silent past ``device_offline_after_seconds`` and comes back with them; phone B is
disabled and enabled again; and the prefixes of both phones change. On SQLite and on
PostgreSQL: a pull and the worker's moves meet in the store.

A message a pull handed a phone stays that phone's until it reports: moved to another device
meanwhile, it would leave twice. One the relay fails with its outcome unknown (a phone
disabled with messages it was handed and had not reported) may have left once, never twice.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
import requests
from credentials import Credentials
from e2e_gateway import BIN, Agent, Gateway, wait_until
from fault_gateway import ON_EACH_DATABASE
from smsgate_phone import Phone

from gateway_agent.backends.emulator import EmulatorConfig

pytestmark = pytest.mark.slow  # relay, worker and an agent as processes

FINAL = ("sent", "delivered", "failed")
TO_A, TO_B, TO_MODEM, TO_ANY = "+26377", "+26371", "+26373", "+26378"
SEND_EVERY_SECONDS = 0.1
SETTLE_SECONDS = 30  # the bound on every message's end once the churn is over
PULL_EVERY_SECONDS = 0.2
HELD = 3  # the reports a phone holds back when it falls silent, or is disabled, at least


@dataclass
class AppPhone:
    """A phone running the app, pulling and reporting in a thread of its own while ``pulling``;
    its reports held back while ``holding``."""

    phone: Phone
    sent: list[str] = field(default_factory=list)  # the witness: each message id it sent, in order
    unreported: list[str] = field(default_factory=list)
    pulling: threading.Event = field(default_factory=threading.Event)
    holding: threading.Event = field(default_factory=threading.Event)
    stopped: threading.Event = field(default_factory=threading.Event)

    @property
    def device_id(self) -> str:
        assert self.phone.device_id is not None
        return self.phone.device_id

    def run(self) -> None:
        while not self.stopped.wait(PULL_EVERY_SECONDS):
            if not self.pulling.is_set():
                continue  # silent: no pull, no report
            try:
                self._pull()
                if not self.holding.is_set():
                    self._report()
            except requests.RequestException:
                pass  # the app tries again at its next round

    def _pull(self) -> None:
        answer = self.phone.call("GET", "/message")
        if answer.status_code != 200:  # 401 while disabled: the app keeps trying
            return
        for listed in answer.json():
            # The app sends a message it is listed once: one it knows already it only reports on.
            if listed["id"] not in self.sent:
                self.sent.append(listed["id"])
                self.unreported.append(listed["id"])

    def _report(self) -> None:
        for message_id in list(self.unreported):
            if self.phone.report(message_id, "Delivered").status_code == 204:
                self.unreported.remove(message_id)


@contextmanager
def app_phones(gateway: Gateway, account: Credentials, count: int) -> Iterator[list[AppPhone]]:
    """``count`` registered phones of the account, pulling, each in its thread until the end."""
    phones = []
    for _ in range(count):
        _, token = gateway.store.mobile_devices.add_android(account.client_id, None)
        phone = Phone(gateway.base_url.removesuffix("/v1") + "/api/mobile/v1", token)
        assert phone.register().status_code == 201
        phones.append(AppPhone(phone))
    threads = [threading.Thread(target=phone.run, daemon=True) for phone in phones]
    for phone, thread in zip(phones, threads, strict=True):
        phone.pulling.set()
        thread.start()
    try:
        yield phones
    finally:
        for phone in phones:
            phone.stopped.set()
        for thread in threads:
            thread.join(timeout=15)


@dataclass
class Sends:
    """What the sending client was told: message ids by text, and every answer's status."""

    texts: dict[str, str] = field(default_factory=dict)  # message id -> text
    numbers: dict[str, str] = field(default_factory=dict)  # message id -> number
    answers: Counter = field(default_factory=Counter)


def send_stream(gateway: Gateway, account: Credentials, sends: Sends, until: threading.Event) -> None:
    """Send, one every SEND_EVERY_SECONDS, to the numbers of each prefix in turn, until ``until``."""
    http = requests.Session()
    prefixes = (TO_A, TO_B, TO_MODEM, TO_ANY)
    n = 0
    while not until.wait(SEND_EVERY_SECONDS):
        number, text = f"{prefixes[n % len(prefixes)]}1{n:06d}", f"churn {n}"
        n += 1
        try:
            answer = http.post(
                gateway.url("/sms/send"), json={"to": number, "message": text}, headers=account.headers, timeout=30
            )
        except requests.RequestException as exc:
            sends.answers[type(exc).__name__] += 1  # accepted or not, no one knows: the test fails
            continue
        sends.answers[answer.status_code] += 1
        if answer.status_code == 202:
            message_id = answer.json()["message_id"]
            sends.texts[message_id], sends.numbers[message_id] = text, number


def relay_command(gateway: Gateway, *args: str) -> subprocess.Popen:
    """``zimsend-relay`` started as an operator runs it, on the gateway's store: it takes seconds
    to start, and the churn goes on meanwhile (``succeeded`` waits for it)."""
    command = [str(BIN / "zimsend-relay"), *args]
    return subprocess.Popen(command, env=gateway.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def succeeded(*commands: subprocess.Popen) -> None:
    """Wait for each command; fails the test, with its errors, unless each exited 0."""
    for command in commands:
        _, errors = command.communicate(timeout=60)
        assert command.returncode == 0, (command.args, errors)


@ON_EACH_DATABASE
def test_phones_as_routes_under_churn_lose_nothing_and_send_nothing_twice(gateway: Gateway):
    account = gateway.new_account()
    modem = gateway.new_agent(account, EmulatorConfig(send_delay=0.02), start=False)
    gateway.store.devices.set_prefixes(modem.device_id, [TO_MODEM])
    gateway.start_agent(modem, account)
    with app_phones(gateway, account, 2) as (phone_a, phone_b):
        gateway.store.devices.set_prefixes(phone_a.device_id, [TO_A])
        gateway.store.devices.set_prefixes(phone_b.device_id, [TO_B])
        for phone in (phone_a, phone_b):
            wait_until(lambda phone=phone: gateway.device(account, phone.device_id)["online"], "the phone online")

        sends, stop_sending = Sends(), threading.Event()
        sender = threading.Thread(target=send_stream, args=(gateway, account, sends, stop_sending))
        sender.start()
        try:
            held_by_a = _churn(gateway, account, phone_a, phone_b)
        finally:
            stop_sending.set()
            sender.join(timeout=60)
        churn_over = time.monotonic()

        assert set(sends.answers) == {202}, sends.answers
        finals = _settle(gateway, account, sends.texts, churn_over + SETTLE_SECONDS)
    witnesses = _witnesses(sends, modem, phone_a, phone_b)

    left = Counter(message_id for sent in witnesses.values() for message_id in sent)
    assert not {message_id for message_id, times in left.items() if times > 1}, _by_device(witnesses, left)
    assert set(left) <= set(sends.texts)
    for message_id, status in finals.items():
        through = [device_id for device_id, sent in witnesses.items() if message_id in sent]
        if status["status"] == "failed":
            # Its outcome unknown when a device may have sent it; never failed behind a device's back else.
            assert not through or "unknown" in status["error"]["detail"], (message_id, through, status)
        else:
            assert through == [status["device_id"]], (message_id, through, status)
    reported = Counter(status["device_id"] for status in finals.values() if status["status"] != "failed")
    assert reported == Counter(
        {device_id: sum(1 for m in sent if finals[m]["status"] != "failed") for device_id, sent in witnesses.items()}
    )
    # What a pull handed phone A before it fell silent stayed A's, though the worker moved its other messages.
    assert {finals[message_id]["device_id"] for message_id in held_by_a} == {phone_a.device_id}
    assert any(
        sends.numbers[message_id].startswith(TO_A) and status.get("device_id") not in (None, phone_a.device_id)
        for message_id, status in finals.items()
    )
    print(
        f"{len(finals)} messages: {dict(Counter(status['status'] for status in finals.values()))}; "
        f"by device {dict(reported)}; phone A held {len(held_by_a)} reports through its silence"
    )


def _churn(gateway: Gateway, account: Credentials, phone_a: AppPhone, phone_b: AppPhone) -> list[str]:
    """Phone A holds its reports, falls silent past the offline bound and comes back with them;
    meanwhile phone B takes A's numbers besides its own, and is disabled with reports in hand
    and enabled again; then A takes the numbers of no route besides its own; all while the
    sends run. Returns the messages A was handed and had not reported when it fell silent."""
    time.sleep(1)
    phone_a.holding.set()  # it sends what it is listed, and says so later
    wait_until(lambda: len(phone_a.unreported) >= HELD, "phone A to hold reports back", 30)
    phone_a.pulling.clear()
    held_by_a = list(phone_a.unreported)
    b_takes_a = relay_command(gateway, "set-device-prefixes", phone_b.device_id, TO_B, TO_A)
    # B's network drops with the reports of the last messages it sent not through, and it is disabled.
    phone_b.holding.set()
    wait_until(lambda: len(phone_b.unreported) >= HELD, "phone B to hold reports back", 30)
    phone_b.pulling.clear()
    # What disable-device and enable-device do, without two more commands' start-up: seconds of
    # both cores, which held up the other fault tests running beside this one.
    assert gateway.store.devices.disable(phone_b.device_id) is not None
    time.sleep(1)  # the worker's rounds see it disabled
    phone_b.pulling.set()
    phone_b.holding.clear()  # refused while it is disabled: the app tries them again
    time.sleep(1)
    assert gateway.store.devices.enable(phone_b.device_id) is not None
    wait_until(lambda: not gateway.device(account, phone_a.device_id)["online"], "phone A to be offline", 30)
    phone_a.pulling.set()
    time.sleep(1.5)
    phone_a.holding.clear()
    a_takes_any = relay_command(gateway, "set-device-prefixes", phone_a.device_id, TO_A, TO_ANY)
    succeeded(b_takes_a, a_takes_any)
    time.sleep(1)
    return held_by_a


def _settle(gateway: Gateway, account: Credentials, texts: dict[str, str], deadline: float) -> dict[str, dict]:
    """Each message's status once final; fails the test naming those not final by ``deadline``."""
    finals: dict[str, dict] = {}
    while True:
        for message_id in texts.keys() - finals.keys():
            status = gateway.status(account, message_id)
            if status["status"] in FINAL:
                finals[message_id] = status
        if len(finals) == len(texts):
            return finals
        assert time.monotonic() < deadline, {
            message_id: gateway.status(account, message_id) for message_id in texts.keys() - finals.keys()
        }
        time.sleep(0.5)


def _witnesses(sends: Sends, modem: Agent, *phones: AppPhone) -> dict[str, list[str]]:
    """What left through each device, by its own log: message ids by device id."""
    ids_by_text = {text: message_id for message_id, text in sends.texts.items()}
    witnesses = {modem.device_id: [ids_by_text.get(text, text) for text in modem.texts_sent()]}
    witnesses.update({phone.device_id: list(phone.sent) for phone in phones})
    return witnesses


def _by_device(witnesses: dict[str, list[str]], left: Counter) -> dict[str, list[str]]:
    """The devices each message that left more than once left through."""
    return {
        message_id: [device_id for device_id, sent in witnesses.items() for m in sent if m == message_id]
        for message_id, times in left.items()
        if times > 1
    }
