"""``zimsend-relay`` commands on devices: adding one (a modem's agent, or an Android phone),
and listing a client's."""

from __future__ import annotations

import argparse
from typing import Any

from relay_server.cli import command
from relay_server.mobile import setup as mobile_setup
from relay_server.store import UnknownClient
from relay_server.store.models import Device
from zimsend_common import redis_acl
from zimsend_common.timefmt import isoformat_z


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
        raise command.CommandRefused("INVALID_NAME", "the device's name must not be empty")
    settings = command.settings()
    if args.android:
        if args.redis_acl:
            raise command.CommandRefused(
                "INVALID_OPTIONS", "a phone needs no Redis user: --android and --redis-acl exclude each other"
            )
        with command.open_store(settings) as store:
            try:
                device, token = store.add_android_device(args.client_id, name)
            except UnknownClient as exc:
                raise command.unknown_client(args.client_id) from exc
        command.emit(mobile_setup.setup_document(settings, device.device_id, token))
        return 0
    with command.open_store(settings) as store:
        try:
            device, password = store.add_device(args.client_id, name)
        except UnknownClient as exc:
            raise command.unknown_client(args.client_id) from exc
    document = {"device_id": device.device_id, "device_password": password}
    if args.redis_acl:
        redis_password = redis_acl.new_password()
        document.update(
            redis_username=redis_acl.username(device.device_id),
            redis_password=redis_password,
            redis_acl=redis_acl.command_line(redis_acl.setuser(device.device_id, device.client_id, redis_password)),
        )
    command.emit(document)
    return 0


def register_list_devices(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("list-devices", help="list devices, one JSON line each")
    parser.add_argument("--client", dest="client_id", help="only this client's devices")
    parser.set_defaults(handler=_list_devices)


def _list_devices(args: argparse.Namespace) -> int:
    with command.open_store(command.settings()) as store:
        if args.client_id is not None and store.get_client(args.client_id) is None:
            raise command.unknown_client(args.client_id)
        for device in store.list_devices(args.client_id):
            command.emit(_device_document(device))
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


COMMANDS = [register_add_device, register_list_devices]
