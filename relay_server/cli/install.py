"""``zimsend-relay install``: this machine made ready to run the gateway as systemd services.

The steps, each done only when its result is missing or differs, so that
running it again changes nothing (and an upgrade refreshes the units):

1. the system user ``zimsend`` (its own group, no login shell, home
   ``/var/lib/zimsend``), a member of ``dialout``, the serial ports' group;
2. ``/etc/zimsend`` (0750) and ``/etc/zimsend/zimsend.toml`` (0640), both
   ``root:zimsend``, the file from the commented template shipped in
   ``relay_server/deploy/``; an existing file is the operator's and is kept;
3. ``/var/lib/zimsend``, 0700, owned by ``zimsend``;
4. the units of ``relay_server/deploy/`` in ``/etc/systemd/system`` (0644),
   their commands pointing at this installation's ``bin`` directory; then
   ``systemctl daemon-reload`` when systemd runs this machine.

``root`` puts every path under another directory (users through
``useradd --prefix``), for images and tests; ``dry_run`` says what would be
done and does nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from zimsend_common.durable_files import fsync_and_replace

USER = "zimsend"
SERIAL_GROUP = "dialout"
CONFIG_DIR = Path("/etc/zimsend")
CONFIG_FILE = CONFIG_DIR / "zimsend.toml"
STATE_DIR = Path("/var/lib/zimsend")
UNIT_DIR = Path("/etc/systemd/system")
DEPLOY_DIR = Path(__file__).resolve().parent.parent / "deploy"
UNITS = ("zimsend-relay.service", "zimsend-worker.service", "zimsend-agent@.service")
# Where the shipped units expect the gateway; replaced by where it is installed.
_SHIPPED_BIN_DIR = "/opt/zimsend/.venv/bin/"
_SYSTEMD_RUNNING = Path("/run/systemd/system")
# What the units hide from their services (ProtectHome=yes, PrivateTmp=yes): commands there cannot start.
_HIDDEN_FROM_SERVICES = (Path("/home"), Path("/root"), Path("/run/user"), Path("/tmp"), Path("/var/tmp"))


class InstallError(Exception):
    """A step could not be done; the message says which and why."""


@dataclass(frozen=True)
class Step:
    """One step's outcome: ``changed`` is False when it was already done."""

    step: str
    path: str
    changed: bool
    dry_run: bool

    def document(self) -> dict[str, object]:
        return asdict(self)


def bin_dir() -> Path:
    """This installation's ``bin`` directory (not resolved: a virtualenv's python is a link)."""
    return Path(sys.executable).parent


def install(root: Path, *, dry_run: bool, commands: Path) -> Iterator[Step]:
    """Do (or with ``dry_run`` only say) each step, under ``root``; the units run ``commands``/zimsend-relay."""
    if not (commands / "zimsend-relay").exists():
        raise InstallError(f"{commands} holds no zimsend-relay: run install from the gateway's virtualenv")
    if not (root / "etc" / "passwd").is_file():
        raise InstallError(f"{root} holds no etc/passwd: the root must be a system's, with its users")
    hidden = next((place for place in _HIDDEN_FROM_SERVICES if commands.is_relative_to(place)), None)
    if root.resolve() == Path("/") and hidden is not None:
        raise InstallError(
            f"{commands} is under {hidden}, which the services' units hide from them:"
            " put the gateway's checkout where they can run it, such as /opt/zimsend"
        )
    if not dry_run and os.geteuid() != 0:
        raise InstallError("install creates a user and system files: run it as root (sudo)")
    yield Step("user", USER, _ensure_user(root, dry_run), dry_run)
    # Unknown only in a dry run for a user still to be made: its files would all change.
    uid, gid = _ids(root) or (-1, -1)
    yield Step(
        "directory", str(CONFIG_DIR), _ensure_directory(root / _rel(CONFIG_DIR), 0o750, 0, gid, dry_run), dry_run
    )
    config = root / _rel(CONFIG_FILE)
    yield Step("config", str(CONFIG_FILE), _ensure_new_file(config, _template(), 0o640, 0, gid, dry_run), dry_run)
    yield Step(
        "directory", str(STATE_DIR), _ensure_directory(root / _rel(STATE_DIR), 0o700, uid, gid, dry_run), dry_run
    )
    changed_units = False
    for unit in UNITS:
        target = root / _rel(UNIT_DIR / unit)
        changed = _ensure_file(target, _unit(unit, commands), 0o644, dry_run)
        changed_units = changed_units or changed
        yield Step("unit", str(UNIT_DIR / unit), changed, dry_run)
    if changed_units and root == Path("/") and _SYSTEMD_RUNNING.exists():
        if not dry_run:
            _run(["systemctl", "daemon-reload"])
        yield Step("daemon-reload", str(UNIT_DIR), True, dry_run)


def _rel(path: Path) -> Path:
    return path.relative_to("/")


def _template() -> str:
    return (DEPLOY_DIR / "zimsend.toml").read_text()


def _unit(name: str, commands: Path) -> str:
    return (DEPLOY_DIR / name).read_text().replace(_SHIPPED_BIN_DIR, f"{commands}/")


def _database(root: Path, name: str) -> dict[str, list[str]]:
    """``/etc/passwd`` or ``/etc/group`` under ``root``, by entry name."""
    path = root / "etc" / name
    entries = (line.split(":") for line in path.read_text().splitlines() if line and not line.startswith("#"))
    return {fields[0]: fields for fields in entries}


def _ensure_user(root: Path, dry_run: bool) -> bool:
    prefix = [] if root == Path("/") else ["--prefix", str(root)]
    if USER not in _database(root, "passwd"):
        command = [
            "useradd",
            *prefix,
            "--system",
            "--user-group",
            "--groups",
            SERIAL_GROUP,
            "--home-dir",
            str(STATE_DIR),
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            USER,
        ]
    elif USER not in _database(root, "group").get(SERIAL_GROUP, ["", "", "", ""])[3].split(","):
        command = ["usermod", *prefix, "--append", "--groups", SERIAL_GROUP, USER]
    else:
        return False
    if not dry_run:
        _run(command)
    return True


def _ids(root: Path) -> tuple[int, int] | None:
    fields = _database(root, "passwd").get(USER)
    return (int(fields[2]), int(fields[3])) if fields else None


def _ensure_directory(path: Path, mode: int, uid: int, gid: int, dry_run: bool) -> bool:
    if path.is_dir():
        status = path.stat()
        if (status.st_mode & 0o7777, status.st_uid, status.st_gid) == (mode, uid, gid):
            return False
    if not dry_run:
        path.mkdir(parents=True, exist_ok=True)
        os.chown(path, uid, gid)
        path.chmod(mode)
    return True


def _ensure_new_file(path: Path, text: str, mode: int, uid: int, gid: int, dry_run: bool) -> bool:
    """A file written only when there is none (it is then the operator's)."""
    if path.exists():
        return False
    if not dry_run:
        _write(path, text, mode)
        os.chown(path, uid, gid)
    return True


def _ensure_file(path: Path, text: str, mode: int, dry_run: bool) -> bool:
    """A file holding ``text``, root's, rewritten when it differs."""
    if path.is_file() and path.read_text() == text and path.stat().st_mode & 0o7777 == mode:
        return False
    if not dry_run:
        path.parent.mkdir(parents=True, exist_ok=True)
        _write(path, text, mode)
    return True


def _write(path: Path, text: str, mode: int) -> None:
    # Written beside, then renamed over: a reader never sees half a file, nor a power cut an empty one.
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    partial.chmod(mode)
    fsync_and_replace(partial, path)


def _run(command: list[str]) -> None:
    try:
        subprocess.run(command, check=True, capture_output=True, text=True)
    except FileNotFoundError as exc:
        raise InstallError(f"{command[0]} is not installed") from exc
    except subprocess.CalledProcessError as exc:
        raise InstallError(f"{' '.join(command)} failed: {exc.stderr.strip()}") from exc
