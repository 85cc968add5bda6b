"""``zimsend-relay install`` into a directory standing for the machine's root, and what it installs."""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
import tomllib
from pathlib import Path

import msgspec
import pytest
from disk_steps import put_in_place_durably, record_disk_steps
from relay_process import RELAY

from relay_server.cli import install
from zimsend_common.config import SECTIONS, validated


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A machine's /etc as Debian has it before install: root, and the serial ports' group."""
    etc = tmp_path / "root" / "etc"
    etc.mkdir(parents=True)
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (etc / "group").write_text("root:x:0:\ndialout:x:20:\n")
    for name in ("shadow", "gshadow"):
        (etc / name).touch(mode=0o600)
    return tmp_path / "root"


def _install(root: Path, *options: str) -> list[dict]:
    done = subprocess.run(
        [RELAY, "install", "--root", str(root), *options], capture_output=True, text=True, timeout=60, check=True
    )
    return [json.loads(line) for line in done.stdout.splitlines()]


def _mode_and_owner(path: Path) -> tuple[int, int, int]:
    status = path.stat()
    return status.st_mode & 0o7777, status.st_uid, status.st_gid


@pytest.mark.slow
def test_install_makes_the_user_its_files_and_units_once_and_a_dry_run_nothing(root: Path) -> None:
    planned = _install(root, "--dry-run")
    assert [step["changed"] for step in planned] == [True] * 7
    assert not (root / "etc" / "zimsend").exists()
    assert "zimsend" not in (root / "etc" / "passwd").read_text()

    done = _install(root)

    assert [(step["step"], step["path"]) for step in done] == [(step["step"], step["path"]) for step in planned]
    assert all(step["changed"] for step in done)
    user = next(line for line in (root / "etc/passwd").read_text().splitlines() if line.startswith("zimsend:"))
    _name, _x, uid, gid, _gecos, home, shell = user.split(":")
    assert (home, shell) == ("/var/lib/zimsend", "/usr/sbin/nologin")
    assert "dialout:x:20:zimsend" in (root / "etc/group").read_text().splitlines()
    assert _mode_and_owner(root / "etc/zimsend") == (0o750, 0, int(gid))
    assert _mode_and_owner(root / "etc/zimsend/zimsend.toml") == (0o640, 0, int(gid))
    assert (root / "etc/zimsend/zimsend.toml").read_text() == (install.DEPLOY_DIR / "zimsend.toml").read_text()
    assert _mode_and_owner(root / "var/lib/zimsend") == (0o700, int(uid), int(gid))
    relay_unit = root / "etc/systemd/system/zimsend-relay.service"
    assert _mode_and_owner(relay_unit)[0] == 0o644
    assert f"ExecStart={Path(RELAY).parent}/zimsend-relay serve\n" in relay_unit.read_text()

    (root / "etc/zimsend/zimsend.toml").write_text("[relay]\nhttp_port = 8080\n")
    again = _install(root)

    assert not any(step["changed"] for step in again)
    assert (root / "etc/zimsend/zimsend.toml").read_text() == "[relay]\nhttp_port = 8080\n"


@pytest.mark.slow
def test_the_installed_units_pass_systemd_analyze_verify(root: Path) -> None:
    _install(root)
    units = sorted((root / "etc/systemd/system").glob("*.service"))
    assert len(units) == 3

    verified = subprocess.run(
        ["systemd-analyze", "verify", *map(str, units)], capture_output=True, text=True, timeout=60
    )

    assert (verified.returncode, verified.stdout, verified.stderr) == (0, "", "")


def test_the_config_template_lists_every_setting_with_its_default() -> None:
    template = (install.DEPLOY_DIR / "zimsend.toml").read_text()
    # Uncommenting every "# name = value" line gives the file with every setting written out.
    uncommented = re.sub(r"^# (\w+ = )", r"\1", template, flags=re.MULTILINE)
    written = tomllib.loads(uncommented)
    assert set(written) == set(SECTIONS)
    for section, model in SECTIONS.items():
        assert set(written[section]) == set(model.__struct_fields__), section
        shipped = validated(model, written[section])
        for name, default in msgspec.structs.asdict(model()).items():
            if name != "data_dir":  # set for an installed gateway, not left to its ./data default
                assert getattr(shipped, name) == default, name
    assert tomllib.loads(template)["relay"] == {"data_dir": "/var/lib/zimsend"}


@pytest.mark.slow
def test_install_refuses_a_root_without_a_system_and_changes_nothing(tmp_path: Path) -> None:
    refused = subprocess.run([RELAY, "install", "--root", str(tmp_path)], capture_output=True, text=True, timeout=60)

    assert refused.returncode == 1
    assert json.loads(refused.stderr)["error"]["code"] == "INSTALL_FAILED"
    assert list(tmp_path.iterdir()) == []


def test_installing_on_this_system_refuses_commands_the_units_would_hide_from_their_services() -> None:
    with tempfile.TemporaryDirectory(dir="/tmp") as checkout:  # PrivateTmp=yes hides /tmp from the services
        commands = Path(checkout) / ".venv" / "bin"
        commands.mkdir(parents=True)
        (commands / "zimsend-relay").touch()

        with pytest.raises(install.InstallError, match="hide from them"):
            list(install.install(Path("/"), dry_run=True, commands=commands))


@pytest.mark.slow
def test_each_installed_file_is_on_disk_whole_before_it_takes_its_place(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps = record_disk_steps(monkeypatch)

    done = list(install.install(root, dry_run=False, commands=Path(RELAY).parent))

    files = [root / Path(step.path).relative_to("/") for step in done if step.step in {"config", "unit"}]
    assert files
    for path in files:
        path = path.resolve()
        assert put_in_place_durably(steps, "replace", path.with_name(path.name + ".partial"), path), path
        assert path.read_text()
