"""``zimsend-relay`` commands on devices: adding one (a modem's agent, or an Android phone),
listing a client's, taking one out of service or giving it back, and making one the route
for destination prefixes."""

from __future__ import annotations

import argparse
from typing import Any

from relay_server.cli import command
from relay_server.dispatch import heartbeat_keys
from relay_server.mobile import setup as mobile_setup
from relay_server.store import Store, UnknownClient
from relay_server.store.device_state import DeviceState
from relay_server.store.errors import InvalidPrefixes
from relay_server.store.models import Device
from zimsend_common import redis_acl, redis_client
from zimsend_common.config import Settings
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
    _redis_acl_option(parser)
    parser.set_defaults(handler=_add_device)


def _redis_acl_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--redis-acl",
        action="store_true",
        help="also print a new Redis ACL user for the device's agent (its password shown once)",
    )


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
                device, token = store.devices.add_android(args.client_id, name)
            except UnknownClient as exc:
                raise command.unknown_client(args.client_id) from exc
        command.emit(mobile_setup.setup_document(settings, device.device_id, token))
        return 0
    with command.open_store(settings) as store:
        try:
            device, password = store.devices.add(args.client_id, name)
        except UnknownClient as exc:
            raise command.unknown_client(args.client_id) from exc
    document: dict[str, Any] = {"device_id": device.device_id, "device_password": password}
    if args.redis_acl:
        document.update(_new_redis_user(device))
    command.emit(document)
    return 0


def _new_redis_user(device: Device) -> dict[str, str]:
    """A new Redis ACL user for the device's agent: its name, its password (shown this once)
    and the command that makes it."""
    password = redis_acl.new_password()
    return {
        "redis_username": redis_acl.username(device.device_id),
        "redis_password": password,
        "redis_acl": redis_acl.command_line(redis_acl.setuser(device.device_id, device.client_id, password)),
    }


def register_disable_device(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "disable-device",
        help="take a device out of service: nothing is sent through it, its reports and calls are refused",
    )
    parser.add_argument("device_id")
    parser.set_defaults(handler=_disable_device)


def _disable_device(args: argparse.Namespace) -> int:
    settings = command.settings()
    with command.open_store(settings) as store:
        is_phone = _is_phone(store, args.device_id)
        device = store.devices.disable(args.device_id)
        if device is None:  # no such device
            raise _unknown_device(args.device_id)
        document = _device_document(settings, store, device)
    if not is_phone:
        # The relay leaves Redis users to the operator, who made this one (add-device --redis-acl).
        document["redis_acl"] = redis_acl.command_line(redis_acl.deluser(device.device_id))
    command.emit(document)
    return 0


def register_enable_device(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("enable-device", help="give a disabled device back its place")
    parser.add_argument("device_id")
    parser.add_argument(
        "--new-password",
        action="store_true",
        help="also give the device a new password (printed once), its old one no longer good",
    )
    _redis_acl_option(parser)
    parser.set_defaults(handler=_enable_device)


def _enable_device(args: argparse.Namespace) -> int:
    settings = command.settings()
    with command.open_store(settings) as store:
        if _is_phone(store, args.device_id) and (args.new_password or args.redis_acl):
            raise command.CommandRefused(
                "INVALID_OPTIONS",
                "a phone has no password of its own to renew, nor a Redis user: add it again as a new device",
            )
        enabled = store.devices.enable(args.device_id, new_password=args.new_password)
        if enabled is None:  # deleted meanwhile
            raise _unknown_device(args.device_id)
        device, password = enabled
        document = _device_document(settings, store, device)
    if password is not None:
        document["device_password"] = password
    if args.redis_acl:
        document.update(_new_redis_user(device))
    command.emit(document)
    return 0


def register_set_device_prefixes(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "set-device-prefixes",
        help="make a device the route for destination prefixes (E.164, such as +26377); none: no route",
    )
    parser.add_argument("device_id")
    parser.add_argument("prefixes", nargs="*", metavar="PREFIX", help="an E.164 prefix: + and 1 to 15 digits")
    parser.set_defaults(handler=_set_device_prefixes)


def _set_device_prefixes(args: argparse.Namespace) -> int:
    settings = command.settings()
    with command.open_store(settings) as store:
        try:
            device = store.devices.set_prefixes(args.device_id, args.prefixes)
        except InvalidPrefixes as exc:
            raise command.CommandRefused(
                "INVALID_PREFIX",
                f"not an E.164 prefix (+ and 1 to 15 digits, the first not 0): {' '.join(exc.prefixes)}",
            ) from exc
        if device is None:  # unknown, or deleted meanwhile
            raise _unknown_device(args.device_id)
        command.emit(_device_document(settings, store, device))
    return 0


def _is_phone(store: Store, device_id: str) -> bool:
    """Whether the device is a phone (SMSGate app); refused as unknown when there is no such device."""
    if store.devices.get(device_id) is None:
        raise _unknown_device(device_id)
    return bool(store.mobile_devices.phones_among({device_id}))


def _unknown_device(device_id: str) -> command.CommandRefused:
    return command.CommandRefused("UNKNOWN_DEVICE", f"no device {device_id}")


def register_list_devices(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("list-devices", help="list devices, one JSON line each")
    parser.add_argument("--client", dest="client_id", help="only this client's devices")
    parser.set_defaults(handler=_list_devices)


def _list_devices(args: argparse.Namespace) -> int:
    settings = command.settings()
    with command.open_store(settings) as store:
        if args.client_id is not None and store.clients.get(args.client_id) is None:
            raise command.unknown_client(args.client_id)
        states = _live_states(settings, store, client_id=args.client_id)
        for device in store.devices.listed(args.client_id):
            command.emit(_document(device, states.get(device.device_id)))
    return 0


def _device_document(settings: Settings, store: Store, device: Device) -> dict[str, Any]:
    """What a command prints of one device, as ``list-devices`` prints it."""
    states = _live_states(settings, store, client_id=device.client_id, device_id=device.device_id)
    return _document(device, states.get(device.device_id))


def _live_states(
    settings: Settings, store: Store, *, client_id: str | None = None, device_id: str | None = None
) -> dict[str, DeviceState]:
    """The devices' states by id, as ``GET /v1/devices`` shows them: each as its agent's newest
    heartbeat tells, the store's or the one under its key in Redis, which the worker may not have
    copied yet (``heartbeat_keys.live_states``; the store's alone when Redis cannot be asked)."""
    redis = redis_client.connect(settings.relay.redis_url, redis_client.PROBE)
    try:
        states = heartbeat_keys.live_states(store, redis, client_id=client_id, device_id=device_id)
    finally:
        redis.close()
    return {state.device_id: state for state in states}


def _document(device: Device, state: DeviceState | None) -> dict[str, Any]:
    """The device, its last sight and its daily send limit from ``state`` (its agent's word: 0 for
    no limit, null when not told)."""
    return {
        "device_id": device.device_id,
        "client_id": device.client_id,
        "name": device.name,
        "disabled": device.disabled,
        "created_at": isoformat_z(device.created_at),
        "last_seen_at": isoformat_z(device.last_seen_at if state is None else state.last_seen_at),
        "prefixes": list(device.prefixes),
        "daily_send_limit": None if state is None else state.whole_daily_limit,
    }


COMMANDS = [
    register_add_device,
    register_list_devices,
    register_disable_device,
    register_enable_device,
    register_set_device_prefixes,
]
