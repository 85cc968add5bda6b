"""The systemd units in relay_server/deploy/: what they promise the host."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest

UNITS = sorted((Path(__file__).resolve().parent.parent / "relay_server" / "deploy").glob("*.service"))


def _service_section(unit: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read(unit)
    return parser["Service"]


def test_every_unit_is_found() -> None:
    assert {unit.name for unit in UNITS} == {
        "zimsend-agent@.service",
        "zimsend-relay.service",
        "zimsend-worker.service",
    }


@pytest.mark.parametrize("unit", UNITS, ids=lambda unit: unit.name)
def test_every_unit_creates_its_files_private(unit: Path) -> None:
    service = _service_section(unit)
    assert service["UMask"] == "0077"
    assert service["StateDirectoryMode"] == "0700"
