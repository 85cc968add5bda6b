"""Every setting is documented where an operator looks: the README's configuration table and the
commented ``zimsend.toml`` an install writes, with its default, and nothing documented that is
no setting; every ``ZIMSEND_*`` variable the gateway reads is a setting or is told of."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import msgspec

from zimsend_common.config import ENV_PREFIX, SECTIONS, Secret, Settings, load_settings

CHECKOUT = Path(__file__).resolve().parents[2]
TOML = CHECKOUT / "relay_server" / "deploy" / "zimsend.toml"
# Where the gateway reads variables: its packages, its scripts and its systemd units.
READERS = ("relay_server", "gateway_agent", "zimsend_common", "scripts", "contrib")
# Where a variable that is no setting is told of.
DOCUMENTS = ("README.md", "CONTRIBUTING.md")


def code_defaults() -> dict[tuple[str, str], Any]:
    """Each setting's default, by (section, name)."""
    found = {}
    for section, model in SECTIONS.items():
        for field in msgspec.structs.fields(model):
            default = field.default_factory() if field.default is msgspec.NODEFAULT else field.default
            found[(section, field.name)] = default
    return found


def readme_defaults() -> dict[tuple[str, str], str]:
    """The README's configuration table: each setting's default cell, by (section, name); a row
    naming several settings gives each its part of the cell, in order."""
    readme = (CHECKOUT / "README.md").read_text(encoding="utf-8")
    table = readme.split("\n## Configuration\n")[1].split("\n## ")[0]
    found = {}
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|", 3)]
        if len(cells) != 4 or cells[0] in ("section", "---"):
            continue
        section, names, defaults = cells[0], re.findall(r"`(\w+)`", cells[1]), _parts(cells[2])
        assert len(defaults) in (1, len(names)), f"{line}: one default, or one for each setting"
        for name, default in zip(names, defaults * len(names) if len(defaults) == 1 else defaults, strict=True):
            found[(section, name)] = default
    return found


def _parts(cell: str) -> list[str]:
    """The cell split at its commas outside backquotes (``0,60,300`` is one default)."""
    parts, current, quoted = [], "", False
    for char in cell:
        if char == "`":
            quoted = not quoted
        if char == "," and not quoted:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    return [*parts, current.strip()]


def as_written(default: Any) -> str:
    """A default as the README writes it."""
    if isinstance(default, bool):
        return str(default).lower()
    if isinstance(default, float) and default.is_integer():
        return str(int(default))
    if isinstance(default, tuple):
        return ",".join(as_written(item) for item in default)
    if isinstance(default, Path) and not default.is_absolute():
        return f"./{default}"
    return str(default)


def test_the_readmes_table_lists_every_setting_and_no_other():
    assert sorted(readme_defaults()) == sorted(code_defaults())


def test_the_readmes_table_gives_each_settings_own_default():
    documented = readme_defaults()
    for key, default in code_defaults().items():
        if not default or isinstance(default, Secret):
            continue  # an empty default's cell says what stands for it, if anything (a key file, SQLite...)
        written = re.match(r"`([^`]*)`", documented[key])
        assert written is not None and written.group(1) == as_written(default), (key, documented[key])


def test_the_installed_files_commented_settings_are_every_setting_with_its_default(tmp_path: Path):
    text = TOML.read_text(encoding="utf-8")
    uncommented = tmp_path / "zimsend.toml"
    uncommented.write_text(re.sub(r"^# (\w+ = )", r"\1", text, flags=re.MULTILINE), encoding="utf-8")

    listed = {name for name in re.findall(r"^#? ?(\w+) = ", text, flags=re.MULTILINE)}
    read = load_settings(uncommented, environ={})

    assert listed == {name for _section, name in code_defaults()}
    defaults = Settings()
    # data_dir alone is set, to the state directory the systemd units let the services write.
    assert read.relay.data_dir == Path("/var/lib/zimsend")
    assert msgspec.structs.replace(read, relay=msgspec.structs.replace(read.relay, data_dir=Path("data"))) == defaults


def test_every_zimsend_variable_the_gateway_reads_is_a_setting_or_documented():
    settings = {ENV_PREFIX + name.upper() for _section, name in code_defaults()} | {ENV_PREFIX + "CONFIG"}
    documented = set()
    for name in DOCUMENTS:
        documented |= set(re.findall(r"ZIMSEND_[A-Z0-9_]+", (CHECKOUT / name).read_text(encoding="utf-8")))
    read = set()
    for folder in READERS:
        for path in (CHECKOUT / folder).rglob("*"):
            if path.is_file() and path.suffix not in (".md", ".pyc"):
                read |= set(re.findall(r"ZIMSEND_[A-Z0-9_]+", path.read_text(encoding="utf-8", errors="replace")))

    assert read - settings - documented == set()
