"""``zimsend-modem-emulator``: the emulated modem as a process of its own.

It serves a pty until SIGINT or SIGTERM, so minicom, gammu or an agent can
open it. Every ``EmulatorConfig`` knob is a flag (``--send-delay 2``,
``--failure '^\\+26371=1'``); ``--link`` gives the pty a stable name.
Lines on standard input play the outside world:

    sms SENDER TEXT      an SMS arrives (stored on the SIM, announced per AT+CNMI; the
                         network keeps it while the SIM is full)
    flash SENDER TEXT    an SMS arrives as a direct +CMT
    pdu HEX              a PDU arrives exactly as given (SMSC field first)
    unplug / replug      the device vanishes / comes back
    unplug-after CMD     it vanishes right after carrying out the next CMD (AT+CMGD, say), unanswered
"""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import threading
import types
from collections.abc import Callable, Sequence
from typing import Any, TextIO, get_args, get_type_hints

from gateway_agent.backends.emulator.config import EmulatorConfig
from gateway_agent.backends.emulator.emulator import ModemEmulator

NONE_WORDS = ("none", "never", "")
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the emulated modem until SIGINT or SIGTERM, obeying control lines on stdin."""
    config = config_from(build_parser().parse_args(argv))
    # Blocked before any thread starts, so that every thread inherits the mask and the
    # signals wait for sigwait below: no handler runs in the middle of other code.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    emulator = ModemEmulator(config).start()
    # Started in the background from a terminal, reading stdin must fail, not stop the process.
    signal.signal(signal.SIGTTIN, signal.SIG_IGN)
    print(f"modem emulator ready on {emulator.port_path}", flush=True)
    threading.Thread(target=_obey, args=(emulator, sys.stdin), daemon=True).start()
    signal.sigwait(STOP_SIGNALS)
    emulator.stop()
    return 0


def build_parser() -> argparse.ArgumentParser:
    """One flag per EmulatorConfig field; ``--failure`` repeats, booleans switch."""
    parser = argparse.ArgumentParser(
        prog="zimsend-modem-emulator", description="A software GSM modem on a pseudo-terminal."
    )
    hints = get_type_hints(EmulatorConfig)
    for knob in dataclasses.fields(EmulatorConfig):
        flag = "--" + knob.name.replace("_", "-")
        help_text = knob.metadata["help"]
        kind = hints[knob.name]
        if knob.name == "failures":
            parser.add_argument("--failure", dest="failures", action="append", type=_failure,
                                default=[], metavar="REGEX=CODE", help=help_text)  # fmt: skip
        elif kind is bool:
            negated = "--no-" + flag[2:] if knob.default else flag
            action = "store_false" if knob.default else "store_true"
            parser.add_argument(negated, dest=knob.name, action=action, help=help_text)
        else:
            parser.add_argument(flag, dest=knob.name, type=_parser_for(kind),
                                default=knob.default, help=f"{help_text} (default: {knob.default})")  # fmt: skip
    return parser


def config_from(args: argparse.Namespace) -> EmulatorConfig:
    values = vars(args) | {"failures": dict(args.failures)}
    return EmulatorConfig(**values)


def _obey(emulator: ModemEmulator, lines: TextIO) -> None:
    """Act on each control line; a line not understood gets a word on stderr."""
    try:
        for line in lines:
            _obey_line(emulator, line.strip())
    except OSError:
        return  # no readable stdin (a background job): nothing to obey


def _obey_line(emulator: ModemEmulator, line: str) -> None:
    verb, _, rest = line.partition(" ")
    sender, _, text = rest.partition(" ")
    if verb in ("sms", "flash") and sender and text:
        try:
            emulator.inject_incoming(sender, text, direct=verb == "flash")
        except ValueError as exc:  # a sender no address field can hold
            print(exc, file=sys.stderr)
    elif verb == "pdu" and sender:
        try:
            emulator.inject_pdu(sender)
        except ValueError as exc:
            print(exc, file=sys.stderr)
    elif verb == "unplug":
        emulator.vanish()
    elif verb == "unplug-after" and sender:
        emulator.vanish_after(sender)
    elif verb == "replug":
        emulator.restore()
    elif verb:
        print(
            f"not understood: {line!r} (sms|flash SENDER TEXT, pdu HEX, unplug, unplug-after CMD, replug)",
            file=sys.stderr,
        )


def _parser_for(kind: Any) -> Callable[[str], Any]:
    options = [option for option in get_args(kind) if option is not type(None)]
    if isinstance(kind, types.UnionType) and len(options) == 1:
        inner = _parser_for(options[0])
        return lambda text: None if text.lower() in NONE_WORDS else inner(text)
    if getattr(kind, "__origin__", None) is tuple:
        return lambda text: tuple(int(value) for value in text.split(",") if value.strip())
    return kind


def _failure(text: str) -> tuple[str, int]:
    pattern, separator, code = text.rpartition("=")
    if not separator or not code.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not REGEX=CODE")
    return pattern, int(code)


if __name__ == "__main__":
    sys.exit(main())
