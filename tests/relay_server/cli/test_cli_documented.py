"""The README tells every ``zimsend-relay`` subcommand and option the command line offers."""

from __future__ import annotations

from documented_commands import untold

from relay_server.cli.main import build_parser


def test_the_readme_tells_every_subcommand_and_option_of_zimsend_relay():
    assert untold("zimsend-relay", build_parser()) == []
