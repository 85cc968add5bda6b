"""The README tells every ``zimsend-agent`` subcommand and option the command line offers."""

from __future__ import annotations

from documented_commands import untold

from gateway_agent.cli.main import build_parser


def test_the_readme_tells_every_subcommand_and_option_of_zimsend_agent():
    assert untold("zimsend-agent", build_parser()) == []
