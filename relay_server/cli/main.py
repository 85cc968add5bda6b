"""``zimsend-relay``: the relay's command line.

Each subcommand is a ``register(subparsers)`` function in ``COMMANDS`` that
adds its parser and sets ``handler``, a function taking the parsed arguments
and returning the exit status. Configuration comes from
``zimsend_common.config.load_settings()`` (file and ``ZIMSEND_*`` variables).

Administration commands print one JSON object a line on stdout. A refusal
prints ``{"success": false, "error": {"code", "message"}}`` on stderr and
exits with status 1 (2 for a bad configuration), having changed nothing.
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from relay_server.api import caller_cache
from relay_server.cli import doctor, install
from relay_server.cli import serve as server
from relay_server.cli import worker as worker_command
from relay_server.mobile import setup as mobile_setup
from relay_server.store import Store, UnknownClient
from relay_server.store.backup import MissingDatabase, TargetIsTheStore, UnsupportedDatabase, backup_sqlite
from relay_server.store.errors import DatabaseUnreachable, UnusableDatabaseUrl
from relay_server.store.models import ApiKey, DeadLetter, Device
from relay_server.store.operators import OperatorExists
from zimsend_common import redis_acl, redis_client
from zimsend_common.config import ConfigError, Settings, load_settings
from zimsend_common.logs import configure_logging
from zimsend_common.timefmt import isoformat_z, utcnow

# An operator signs in with this name: kept to characters a form and a log show plainly.
OPERATOR_NAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")


class CommandRefused(Exception):
    """A refusal with a stable code, reported as JSON on stderr."""

    def __init__(self, code: str, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


# -- shared plumbing -----------------------------------------------------------


def _settings() -> Settings:
    try:
        settings = load_settings()
    except ConfigError as exc:
        raise CommandRefused("INVALID_CONFIGURATION", str(exc), status=2) from exc
    configure_logging(settings.logging)
    return settings


@contextmanager
def _store(settings: Settings) -> Iterator[Store]:
    """The configured store, migrated to head, closed afterwards."""
    try:
        store = Store.open(settings.relay.resolved_database_url())
    except UnusableDatabaseUrl as exc:
        raise CommandRefused("DATABASE_UNAVAILABLE", str(exc)) from exc
    except DatabaseUnreachable as exc:
        raise CommandRefused("DATABASE_UNAVAILABLE", f"cannot open the database: {exc}") from exc
    # A key revoked or a client disabled here stops working at once in the running relay's processes too.
    store.credentials_changed.append(lambda: _announce_credentials_changed(settings))
    try:
        yield store
    finally:
        store.close()


def _announce_credentials_changed(settings: Settings) -> None:
    client = redis_client.connect(settings.relay.redis_url, redis_client.PROBE)
    try:
        caller_cache.announce_change(client)
    finally:
        client.close()


def _print(document: dict[str, Any], *, ascii_only: bool = False) -> None:
    """One JSON line; ``ascii_only`` escapes every non-ASCII character, lone surrogates included."""
    print(json.dumps(document, ensure_ascii=ascii_only), flush=True)


def _unknown_client(client_id: str) -> CommandRefused:
    return CommandRefused("UNKNOWN_CLIENT", f"no active client {client_id}")


# -- clients and keys ----------------------------------------------------------


def register_create_client(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("create-client", help="create a client and its first live API key")
    parser.add_argument("name", help="the client's name")
    parser.set_defaults(handler=_create_client)


def _create_client(args: argparse.Namespace) -> int:
    name = args.name.strip()
    if not name:
        raise CommandRefused("INVALID_NAME", "the client's name must not be empty")
    with _store(_settings()) as store:
        client, api_key = store.create_client(name)
    _print({"client_id": client.client_id, "api_key": api_key})
    return 0


def register_create_key(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("create-key", help="create another API key for a client")
    parser.add_argument("client_id")
    parser.add_argument("--test", action="store_true", help="a zs_test_ key (test mode)")
    parser.add_argument("--expires-days", type=int, help="the key stops working after this many days")
    parser.set_defaults(handler=_create_key)


def _create_key(args: argparse.Namespace) -> int:
    expires_at = None
    if args.expires_days is not None:
        if args.expires_days < 1:
            raise CommandRefused("INVALID_DAYS", "--expires-days must be at least 1")
        expires_at = utcnow() + timedelta(days=args.expires_days)
    with _store(_settings()) as store:
        try:
            api_key = store.create_api_key(args.client_id, test=args.test, expires_at=expires_at)
        except UnknownClient as exc:
            raise _unknown_client(args.client_id) from exc
    _print({"client_id": args.client_id, "api_key": api_key, "expires_at": isoformat_z(expires_at)})
    return 0


def register_revoke_key(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("revoke-key", help="revoke an API key")
    parser.add_argument("api_key", help="the key, or - to read it from stdin (keeps it out of ps)")
    parser.set_defaults(handler=_revoke_key)


def _revoke_key(args: argparse.Namespace) -> int:
    api_key = sys.stdin.readline().strip() if args.api_key == "-" else args.api_key
    with _store(_settings()) as store:
        if not store.revoke_api_key(api_key):
            raise CommandRefused("UNKNOWN_API_KEY", "no such API key")
    _print({"revoked": True, "prefix": api_key[:12]})
    return 0


def register_list_keys(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("list-keys", help="list a client's API keys (prefixes only)")
    parser.add_argument("client_id")
    parser.set_defaults(handler=_list_keys)


def _list_keys(args: argparse.Namespace) -> int:
    with _store(_settings()) as store:
        if store.get_client(args.client_id) is None:
            raise _unknown_client(args.client_id)
        for key in store.list_api_keys(args.client_id):
            _print(_key_document(key))
    return 0


def _key_document(key: ApiKey) -> dict[str, Any]:
    return {
        "key_id": key.key_id,
        "client_id": key.client_id,
        "prefix": key.prefix,
        "test": key.is_test,
        "created_at": isoformat_z(key.created_at),
        "revoked_at": isoformat_z(key.revoked_at),
        "expires_at": isoformat_z(key.expires_at),
    }


def register_disable_client(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("disable-client", help="disable a client: its keys stop working")
    parser.add_argument("client_id")
    parser.set_defaults(handler=_disable_client)


def _disable_client(args: argparse.Namespace) -> int:
    with _store(_settings()) as store:
        if not store.disable_client(args.client_id):
            raise _unknown_client(args.client_id)
    _print({"client_id": args.client_id, "disabled": True})
    return 0


# -- devices -------------------------------------------------------------------


def register_add_device(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("add-device", help="add a device to a client; prints its password once")
    parser.add_argument("client_id")
    parser.add_argument("--name", help="a name to tell the device by (default: its id)")
    parser.add_argument(
        "--android",
        action="store_true",
        help="a phone running the SMSGate app: prints its registration token and the server URL to type into the app",
    )
    parser.add_argument(
        "--redis-acl",
        action="store_true",
        help="also print a Redis ACL user for the device's agent (its password shown once)",
    )
    parser.set_defaults(handler=_add_device)


def _add_device(args: argparse.Namespace) -> int:
    name = args.name.strip() if args.name is not None else None
    if name == "":
        raise CommandRefused("INVALID_NAME", "the device's name must not be empty")
    settings = _settings()
    if args.android:
        if args.redis_acl:
            raise CommandRefused(
                "INVALID_OPTIONS", "a phone needs no Redis user: --android and --redis-acl exclude each other"
            )
        with _store(settings) as store:
            try:
                device, token = store.add_android_device(args.client_id, name)
            except UnknownClient as exc:
                raise _unknown_client(args.client_id) from exc
        _print(mobile_setup.setup_document(settings, device.device_id, token))
        return 0
    with _store(settings) as store:
        try:
            device, password = store.add_device(args.client_id, name)
        except UnknownClient as exc:
            raise _unknown_client(args.client_id) from exc
    document = {"device_id": device.device_id, "device_password": password}
    if args.redis_acl:
        redis_password = redis_acl.new_password()
        document.update(
            redis_username=redis_acl.username(device.device_id),
            redis_password=redis_password,
            redis_acl=redis_acl.command_line(redis_acl.setuser(device.device_id, device.client_id, redis_password)),
        )
    _print(document)
    return 0


def register_list_devices(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("list-devices", help="list devices, one JSON line each")
    parser.add_argument("--client", dest="client_id", help="only this client's devices")
    parser.set_defaults(handler=_list_devices)


def _list_devices(args: argparse.Namespace) -> int:
    with _store(_settings()) as store:
        if args.client_id is not None and store.get_client(args.client_id) is None:
            raise _unknown_client(args.client_id)
        for device in store.list_devices(args.client_id):
            _print(_device_document(device))
    return 0


def _device_document(device: Device) -> dict[str, Any]:
    return {
        "device_id": device.device_id,
        "client_id": device.client_id,
        "name": device.name,
        "disabled": device.disabled,
        "created_at": isoformat_z(device.created_at),
        "last_seen_at": isoformat_z(device.last_seen_at),
    }


# -- the database ----------------------------------------------------------------


def register_migrate(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("migrate", help="bring the database schema to the newest revision")
    parser.set_defaults(handler=_migrate)


def _migrate(args: argparse.Namespace) -> int:
    with _store(_settings()) as store:
        _print({"revision": store.schema_revision()})
    return 0


def register_purge(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "purge", help="delete finished messages older than the retention period (stats keep them)"
    )
    parser.add_argument("--days", type=int, help="retention in days (default: the retention_days setting)")
    parser.set_defaults(handler=_purge)


def _purge(args: argparse.Namespace) -> int:
    settings = _settings()
    days = settings.relay.retention_days if args.days is None else args.days
    if days < 1:
        raise CommandRefused("INVALID_DAYS", "--days must be at least 1")
    cutoff = utcnow() - timedelta(days=days)
    with _store(settings) as store:
        purged = store.purge_older_than(cutoff)
    _print({"purged": purged, "cutoff": isoformat_z(cutoff)})
    return 0


def register_dead_letters(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "dead-letters", help="list agent events that failed every try, newest first, one JSON line each"
    )
    parser.add_argument("--limit", type=int, default=100, help="at most this many (default: %(default)s)")
    parser.set_defaults(handler=_dead_letters)


def _dead_letters(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise CommandRefused("INVALID_LIMIT", "--limit must be at least 1")
    with _store(_settings()) as store:
        for letter in store.list_dead_letters(args.limit):
            # The payload is the event as it came, odd characters and all.
            _print(_dead_letter_document(letter), ascii_only=True)
    return 0


def _dead_letter_document(letter: DeadLetter) -> dict[str, Any]:
    return {
        "event_id": letter.event_id,
        "kind": letter.kind,
        "device_id": letter.device_id,
        "reason": letter.reason,
        "error": letter.error,
        "attempts": letter.attempts,
        "first_attempt_at": isoformat_z(letter.first_attempt_at),
        "last_attempt_at": isoformat_z(letter.last_attempt_at),
        "dead_lettered_at": isoformat_z(letter.dead_lettered_at),
        "payload": letter.payload,
    }


def register_backup(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "backup", help="copy the live SQLite store into PATH (consistent, private); PostgreSQL: use pg_dump"
    )
    parser.add_argument("path", type=Path, help="the file to write (replaced when it exists)")
    parser.set_defaults(handler=_backup)


def _backup(args: argparse.Namespace) -> int:
    try:
        target = backup_sqlite(_settings().relay.resolved_database_url(), args.path)
    except UnsupportedDatabase as exc:
        raise CommandRefused(
            "UNSUPPORTED_DATABASE",
            f"backup copies a SQLite store only; this one is {exc}: back it up with pg_dump",
        ) from exc
    except MissingDatabase as exc:
        raise CommandRefused("DATABASE_UNAVAILABLE", f"no SQLite store at {exc}") from exc
    except TargetIsTheStore as exc:
        raise CommandRefused("INVALID_PATH", f"{exc} is the store itself: write the backup elsewhere") from exc
    except (OSError, sqlite3.Error) as exc:
        raise CommandRefused("BACKUP_FAILED", f"cannot write the backup: {exc}") from exc
    _print({"backup": str(target), "bytes": target.stat().st_size})
    return 0


# -- the HTTP server -------------------------------------------------------------


def register_serve(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("serve", help="run the HTTP API, one process per core (migrates the database first)")
    parser.add_argument(
        "--workers", type=int, help="server processes (default: the http_workers setting, else one per core)"
    )
    parser.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    settings = _settings()
    workers = server.worker_count(args.workers, settings)
    if workers < 1:
        raise CommandRefused("INVALID_WORKERS", "--workers must be at least 1")
    # Migrated once, here, and a database that cannot be opened is said before any process starts.
    with _store(settings):
        pass
    server.exec_server(workers)


# -- installing ------------------------------------------------------------------


def register_install(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "install", help="create the zimsend user, /etc/zimsend, /var/lib/zimsend and the systemd units (as root)"
    )
    parser.add_argument("--root", type=Path, default=Path("/"), help="install under this directory (default: /)")
    parser.add_argument("--dry-run", action="store_true", help="say what would be done, do nothing")
    parser.set_defaults(handler=_install)


def _install(args: argparse.Namespace) -> int:
    try:
        for step in install.install(args.root.resolve(), dry_run=args.dry_run, commands=install.bin_dir()):
            _print(step.document())
    except install.InstallError as exc:
        raise CommandRefused("INSTALL_FAILED", str(exc)) from exc
    return 0


def register_add_operator(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "add-operator", help="add an operator of the web console (sees every client); prints its password once"
    )
    parser.add_argument("name", help="the name the operator signs in with (letters, digits, . _ @ -)")
    parser.set_defaults(handler=_add_operator)


def _add_operator(args: argparse.Namespace) -> int:
    if not OPERATOR_NAME.fullmatch(args.name):
        raise CommandRefused("INVALID_NAME", "an operator's name is 1 to 64 letters, digits or . _ @ -")
    with _store(_settings()) as store:
        try:
            password = store.operators.add(args.name)
        except OperatorExists:
            raise CommandRefused("OPERATOR_EXISTS", f"an operator {args.name} already exists") from None
    _print({"operator": args.name, "password": password})
    return 0


# -- entry point -----------------------------------------------------------------

COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    register_create_client,
    register_create_key,
    register_revoke_key,
    register_list_keys,
    register_disable_client,
    register_add_device,
    register_list_devices,
    register_migrate,
    register_purge,
    register_dead_letters,
    register_backup,
    register_serve,
    register_install,
    worker_command.register,
    doctor.register,
    register_add_operator,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zimsend-relay", description="The ZimSend relay.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in COMMANDS:
        register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; its exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except CommandRefused as exc:
        error = {"code": exc.code, "message": str(exc)}
        print(json.dumps({"success": False, "error": error}, ensure_ascii=False), file=sys.stderr)
        return exc.status


if __name__ == "__main__":
    sys.exit(main())
