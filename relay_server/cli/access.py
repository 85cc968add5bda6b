"""``zimsend-relay`` commands on who may use the relay: clients, their API keys and daily
quotas, and the web console's operators."""

from __future__ import annotations

import argparse
import re
import sys
from datetime import timedelta
from typing import Any

from relay_server.cli import command
from relay_server.store import UnknownClient
from relay_server.store.daily_quota import MAX_LIMIT, resets_at
from relay_server.store.models import ApiKey
from relay_server.store.operators import OperatorExists
from zimsend_common.timefmt import isoformat_z, utcnow

# An operator signs in with this name: kept to characters a form and a log show plainly.
OPERATOR_NAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")


def register_create_client(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("create-client", help="create a client and its first live API key")
    parser.add_argument("name", help="the client's name")
    parser.set_defaults(handler=_create_client)


def _create_client(args: argparse.Namespace) -> int:
    name = args.name.strip()
    if not name:
        raise command.CommandRefused("INVALID_NAME", "the client's name must not be empty")
    with command.open_store(command.settings()) as store:
        client, api_key = store.clients.create(name)
    command.emit({"client_id": client.client_id, "api_key": api_key})
    return 0


def register_list_clients(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "list-clients", help="list the clients, oldest first, with their daily quotas and the SMS each sent today"
    )
    parser.set_defaults(handler=_list_clients)


def _list_clients(args: argparse.Namespace) -> int:
    now = utcnow()
    with command.open_store(command.settings()) as store:
        clients = store.overview.list_clients()
        used = store.daily_quotas.used_on([client.client_id for client in clients], now)
    for client in clients:
        command.emit(
            {
                "client_id": client.client_id,
                "name": client.name,
                "disabled": client.disabled,
                "created_at": isoformat_z(client.created_at),
                "daily_quota": client.daily_quota,
                "used_today": used[client.client_id],
            }
        )
    return 0


def register_set_quota(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "set-quota", help="set the most live SMS a client's sends may leave it a UTC day (--none: no limit)"
    )
    parser.add_argument("client_id")
    parser.add_argument("--daily", type=int, metavar="N", help="SMS a UTC day: each message accepted counts once")
    parser.add_argument("--none", action="store_true", help="take the client's quota away: no limit")
    parser.set_defaults(handler=_set_quota)


def _set_quota(args: argparse.Namespace) -> int:
    if (args.daily is None) == (not args.none):
        raise command.CommandRefused("INVALID_OPTIONS", "give either --daily N or --none")
    if args.daily is not None and not 1 <= args.daily <= MAX_LIMIT:
        raise command.CommandRefused(
            "INVALID_LIMIT", f"--daily must be from 1 to {MAX_LIMIT} (--none takes the quota away)"
        )
    now = utcnow()
    with command.open_store(command.settings()) as store:
        client = store.daily_quotas.set_limit(args.client_id, args.daily)
        if client is None:
            raise command.unknown_client(args.client_id)
        used = store.daily_quotas.used_on([client.client_id], now)[client.client_id]
    command.emit(
        {
            "client_id": client.client_id,
            "daily_quota": client.daily_quota,
            "used_today": used,
            "resets_at": isoformat_z(resets_at(now)),
        }
    )
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
            raise command.CommandRefused("INVALID_DAYS", "--expires-days must be at least 1")
        try:
            expires_at = utcnow() + timedelta(days=args.expires_days)
        except OverflowError:
            raise command.CommandRefused("INVALID_DAYS", "--expires-days reaches past the year 9999") from None
    with command.open_store(command.settings()) as store:
        try:
            api_key = store.clients.create_api_key(args.client_id, test=args.test, expires_at=expires_at)
        except UnknownClient as exc:
            raise command.unknown_client(args.client_id) from exc
    command.emit({"client_id": args.client_id, "api_key": api_key, "expires_at": isoformat_z(expires_at)})
    return 0


def register_revoke_key(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("revoke-key", help="revoke an API key")
    parser.add_argument("api_key", help="the key, or - to read it from stdin (keeps it out of ps)")
    parser.set_defaults(handler=_revoke_key)


def _revoke_key(args: argparse.Namespace) -> int:
    api_key = sys.stdin.readline().strip() if args.api_key == "-" else args.api_key
    with command.open_store(command.settings()) as store:
        if not store.clients.revoke_api_key(api_key):
            raise command.CommandRefused("UNKNOWN_API_KEY", "no such API key")
    command.emit({"revoked": True, "prefix": api_key[:12]})
    return 0


def register_list_keys(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("list-keys", help="list a client's API keys (prefixes only)")
    parser.add_argument("client_id")
    parser.set_defaults(handler=_list_keys)


def _list_keys(args: argparse.Namespace) -> int:
    with command.open_store(command.settings()) as store:
        if store.clients.get(args.client_id) is None:
            raise command.unknown_client(args.client_id)
        for key in store.clients.list_api_keys(args.client_id):
            command.emit(_key_document(key))
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
    with command.open_store(command.settings()) as store:
        if not store.clients.disable(args.client_id):
            raise command.unknown_client(args.client_id)
    command.emit({"client_id": args.client_id, "disabled": True})
    return 0


def register_add_operator(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "add-operator", help="add an operator of the web console (sees every client); prints its password once"
    )
    parser.add_argument("name", help="the name the operator signs in with (letters, digits, . _ @ -)")
    parser.set_defaults(handler=_add_operator)


def _add_operator(args: argparse.Namespace) -> int:
    if not OPERATOR_NAME.fullmatch(args.name):
        raise command.CommandRefused("INVALID_NAME", "an operator's name is 1 to 64 letters, digits or . _ @ -")
    with command.open_store(command.settings()) as store:
        try:
            password = store.operators.add(args.name)
        except OperatorExists:
            raise command.CommandRefused("OPERATOR_EXISTS", f"an operator {args.name} already exists") from None
    command.emit({"operator": args.name, "password": password})
    return 0


COMMANDS = [
    register_create_client,
    register_list_clients,
    register_set_quota,
    register_create_key,
    register_revoke_key,
    register_list_keys,
    register_disable_client,
    register_add_operator,
]
