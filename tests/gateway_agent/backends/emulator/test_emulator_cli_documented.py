"""The README tells every option of ``zimsend-modem-emulator``."""

from __future__ import annotations

from documented_commands import untold

from gateway_agent.backends.emulator.cli import build_parser


def test_the_readme_tells_every_option_of_zimsend_modem_emulator():
    assert untold("zimsend-modem-emulator", build_parser()) == []
