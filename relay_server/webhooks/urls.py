"""Webhook URLs: what is checked when one is given, and where a delivery may connect.

When a URL is given (configure, send) only its form is checked: scheme, host,
port, and a literal IP address or ``localhost`` name. A host name that does not
resolve right now is accepted: a receiver may not be deployed yet, and a
relay whose DNS is down must not refuse an SMS.

At each delivery attempt the host is resolved and every address is checked;
the connection then goes to the address that was checked, so the name cannot
be made to point elsewhere between the check and the connection.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, quote, urlsplit

MAX_URL_LENGTH = 2048
_BEYOND_ASCII = re.compile(r"[^\x00-\x7f]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UrlRefused(Exception):
    """The URL may not be posted to; the message says why in words a client understands."""


@dataclass(frozen=True)
class Target:
    """Where one attempt goes: the URL's parts and the addresses checked for it, in the resolver's order."""

    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]


def check_form(value: object, *, allow_http: bool, allow_private: bool) -> str:
    """``value`` when it is a URL the relay may be asked to post to; raises UrlRefused."""
    if not isinstance(value, str) or not value or len(value) > MAX_URL_LENGTH:
        raise UrlRefused("The webhook URL must be a string of at most 2048 characters.")
    if not _writable(value):
        raise UrlRefused("The webhook URL is not a valid URL.")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise UrlRefused("The webhook URL is not a valid URL.") from None
    if parts.scheme not in ({"https", "http"} if allow_http else {"https"}):
        raise UrlRefused("The webhook URL must use HTTPS.")
    if not parts.hostname or any(ch.isspace() for ch in value):
        raise UrlRefused("The webhook URL has no host.")
    if not allow_private and _names_internal_host(parts.hostname):
        raise UrlRefused("The webhook URL's host is on a private or reserved network.")
    return value


def _writable(url: str) -> bool:
    """False for what no request line can carry, and no database keeps as text: a control
    character (NUL among them) or a lone UTF-16 surrogate (valid in JSON)."""
    if _CONTROL.search(url):
        return False
    try:
        url.encode()
    except UnicodeEncodeError:
        return False
    return True


def resolve_target(url: str, *, allow_private: bool) -> Target:
    """The address one attempt at ``url`` connects to; raises UrlRefused when none may be used.

    Every address the name resolves to must be allowed, so that a name with
    one public and one private address cannot be used to reach the private one.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UrlRefused(f"cannot resolve host {host!r}: {exc}") from None
    addresses = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise UrlRefused(f"cannot resolve host {host!r}")
    if not allow_private:
        internal = [address for address in addresses if is_internal(_parse(address))]
        if internal:
            raise UrlRefused(f"host {host!r} resolves to a private or reserved address {internal[0]}")
    return Target(scheme=parts.scheme, host=host, port=port, path=_request_target(parts), addresses=addresses)


def origin(url: str) -> str:
    """``url`` as a log may show it: scheme, host and port alone; its user info, path and query
    may hold a token (some receivers take theirs in the path)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def _request_target(parts: SplitResult) -> str:
    """The URL's path and query as the request line carries them: what lies beyond ASCII
    percent-encoded as UTF-8, as a browser sends a URL typed with accents (RFC 3987).

    An HTTP request line is ASCII; sent as given, such a URL could not be posted at all.
    """
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return _BEYOND_ASCII.sub(lambda found: quote(found.group(), safe=""), target)


def is_internal(address: IPAddress) -> bool:
    """Loopback, link-local, private, shared, reserved, unspecified or multicast."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast


def _names_internal_host(host: str) -> bool:
    name = host.rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    address = _literal_address(name)
    return address is not None and is_internal(address)  # a name is checked when it is resolved, at delivery


def _literal_address(name: str) -> IPAddress | None:
    """The address ``name`` writes out, in any form the resolver reads as one: dotted, or
    the C library's other IPv4 forms (``2130706433``, ``0x7f000001``, ``127.1``); None for a name."""
    try:
        return _parse(name)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(name))
    except OSError:
        return None


def _parse(address: str) -> IPAddress:
    return ipaddress.ip_address(address.split("%")[0])
