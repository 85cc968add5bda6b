"""What a command line offers that its documentation must tell: each subcommand and its options."""

from __future__ import annotations

import argparse
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def offered(parser: argparse.ArgumentParser) -> dict[str, list[str]]:
    """Each subcommand of ``parser`` (``""``: the command itself, when it has none), with its long
    options (``--help`` aside)."""
    subcommands = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    commands = subcommands[0].choices if subcommands else {"": parser}
    return {
        name: [
            option
            for action in command._actions
            for option in action.option_strings
            if option.startswith("--") and option != "--help"
        ]
        for name, command in commands.items()
    }


def untold(program: str, parser: argparse.ArgumentParser) -> list[str]:
    """What the README never tells of ``program``'s command line: each subcommand it never shows
    as ``program NAME``, each option it never names."""
    readme = README.read_text(encoding="utf-8")
    missing = []
    for name, options in offered(parser).items():
        command = f"{program} {name}".strip()
        if command not in readme:
            missing.append(command)
        missing.extend(f"{command} {option}" for option in options if option not in readme)
    return missing
