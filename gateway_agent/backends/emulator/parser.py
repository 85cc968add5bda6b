"""Reading an AT command line as a modem does (V.250 syntax, 27.007 §4).

``AT+CMGF=0;+CNMI=2,1,0,2,0`` holds two extended commands; ``ATE0V1`` holds
two basic ones. Each becomes a ``Command`` with its name, its form and its
arguments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Form = Literal["exec", "set", "query", "test"]

_BASIC = re.compile(r"(S\d+)(\?|=\d*)|(&?[A-Z])(\d*)")
_EXTENDED = re.compile(r"([+^$%][A-Z0-9]+)(=\?|\?|=)?(.*)")


class SyntaxProblem(ValueError):
    """The line is not an AT command line this modem understands."""


@dataclass(frozen=True)
class Command:
    name: str  # "+CMGS", "E", "&F", "S0"
    form: Form
    args: tuple[str, ...] = ()

    def arg(self, index: int, default: str = "") -> str:
        return self.args[index] if index < len(self.args) and self.args[index] != "" else default

    def int_arg(self, index: int, default: int | None = None) -> int:
        """Argument ``index`` as a number; SyntaxProblem when it is not one."""
        value = self.arg(index)
        if value == "" and default is not None:
            return default
        try:
            return int(value)
        except ValueError:
            raise SyntaxProblem(f"{self.name}: {value!r} is not a number") from None


def parse_line(line: str) -> list[Command]:
    """The commands on one command line (without its CR)."""
    if line[:2].upper() != "AT":
        raise SyntaxProblem("a command line starts with AT")
    body = line[2:]
    commands: list[Command] = []
    while body:
        if body[0] in "+^$%":
            text, _, body = _split_extended(body)
            commands.append(_extended(text))
        else:
            body = _basic(body, commands)
    return commands


def _split_extended(body: str) -> tuple[str, str, str]:
    quoted = False
    for position, char in enumerate(body):
        if char == '"':
            quoted = not quoted
        elif char == ";" and not quoted:
            return body[:position], ";", body[position + 1 :]
    return body, "", ""


def _extended(text: str) -> Command:
    match = _EXTENDED.fullmatch(text.strip())
    if match is None:
        raise SyntaxProblem(f"cannot read {text!r}")
    name, marker, rest = match.groups()
    name = name.upper()
    if marker == "=?":
        return Command(name, "test")
    if marker == "?":
        return Command(name, "query")
    if marker == "=":
        return Command(name, "set", tuple(_arguments(rest)))
    if rest.strip():
        raise SyntaxProblem(f"cannot read {text!r}")
    return Command(name, "exec")


def _arguments(text: str) -> list[str]:
    values, current, quoted = [], "", False
    for char in text:
        if char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            values.append(current.strip())
            current = ""
            continue
        current += char
    values.append(current.strip())
    return [value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value for value in values]


def _basic(body: str, commands: list[Command]) -> str:
    match = _BASIC.match(body.upper())
    if match is None:
        raise SyntaxProblem(f"cannot read {body!r}")
    register, access, letter, digits = match.groups()
    if register:
        form: Form = "query" if access == "?" else "set"
        commands.append(Command(register, form, (access[1:],) if form == "set" else ()))
    else:
        commands.append(Command(letter, "exec", (digits,) if digits else ()))
    return body[match.end() :].lstrip(";")
