"""``zimsend-relay`` commands on the store itself: migrating it, purging old messages, reading
the events that could not be applied, and backing up a SQLite store."""

from __future__ import annotations

import argparse
import sqlite3
from pathlib import Path
from typing import Any

from relay_server.cli import command
from relay_server.store import retention
from relay_server.store.backup import MissingDatabase, TargetIsTheStore, UnsupportedDatabase, backup_sqlite
from relay_server.store.models import DeadLetter
from zimsend_common.timefmt import isoformat_z, utcnow


def register_migrate(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("migrate", help="bring the database schema to the newest revision")
    parser.set_defaults(handler=_migrate)


def _migrate(args: argparse.Namespace) -> int:
    with command.open_store(command.settings()) as store:
        command.emit({"revision": store.schema_revision()})
    return 0


def register_purge(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "purge", help="delete finished messages older than the retention period (stats keep them)"
    )
    parser.add_argument("--days", type=int, help="retention in days (default: the retention_days setting)")
    parser.set_defaults(handler=_purge)


def _purge(args: argparse.Namespace) -> int:
    settings = command.settings()
    days = settings.relay.retention_days if args.days is None else args.days
    if days < 1:
        raise command.CommandRefused("INVALID_DAYS", "--days must be at least 1")
    cutoff = retention.cutoff(utcnow(), days)
    with command.open_store(settings) as store:
        purged = store.purge_older_than(cutoff)
    command.emit({"purged": purged, "cutoff": isoformat_z(cutoff)})
    return 0


def register_dead_letters(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "dead-letters", help="list agent events that failed every try, newest first, one JSON line each"
    )
    parser.add_argument("--limit", type=int, default=100, help="at most this many (default: %(default)s)")
    parser.set_defaults(handler=_dead_letters)


def _dead_letters(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise command.CommandRefused("INVALID_LIMIT", "--limit must be at least 1")
    with command.open_store(command.settings()) as store:
        for letter in store.list_dead_letters(args.limit):
            # The payload is the event as it came, odd characters and all.
            command.emit(_dead_letter_document(letter), ascii_only=True)
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
        target = backup_sqlite(command.settings().relay.resolved_database_url(), args.path)
    except UnsupportedDatabase as exc:
        raise command.CommandRefused(
            "UNSUPPORTED_DATABASE",
            f"backup copies a SQLite store only; this one is {exc}: back it up with pg_dump",
        ) from exc
    except MissingDatabase as exc:
        raise command.CommandRefused("DATABASE_UNAVAILABLE", f"no SQLite store at {exc}") from exc
    except TargetIsTheStore as exc:
        raise command.CommandRefused("INVALID_PATH", f"{exc} is the store itself: write the backup elsewhere") from exc
    except (OSError, sqlite3.Error) as exc:
        raise command.CommandRefused("BACKUP_FAILED", f"cannot write the backup: {exc}") from exc
    command.emit({"backup": str(target), "bytes": target.stat().st_size})
    return 0


COMMANDS = [register_migrate, register_purge, register_dead_letters, register_backup]
