"""The one outbound network policy: which hosts and ports the server may contact.

Camera sources, webhooks and the MQTT broker all go through it. The server's settings give
two CIDR lists, ``network.allow`` and ``network.deny``; built in are denials of link-local
addresses (``169.254.0.0/16``, ``fe80::/10``, which hold cloud metadata services), the
metadata services' own addresses, and the unspecified addresses (``0.0.0.0/8``, ``::``, which
Linux connects to this machine). Everything else, loopback and private ranges included, is
allowed: a restreamer on the same box or a broker on the LAN is the common case.

How an address is judged: of the entries that contain it (allow, deny, built in), the most
specific (longest prefix) decides; at equal length ``network.deny`` beats ``network.allow``,
which beats a built-in denial. So ``allow: [169.254.10.0/24]`` reopens one link-local subnet
but not the metadata service (a ``/32``), and ``deny: [0.0.0.0/0, ::/0]`` with a few ``allow``
entries turns the policy into an allow-list. The server's own listening address and port are
always refused (nothing is more specific than that).

A name is resolved to every address it has, and the destination is refused if any of them is:
a name that resolves to both a public and a metadata address cannot slip through on the lucky
draw. Callers then connect to one of the checked addresses, not to the name again, so DNS
rebinding between check and connect cannot redirect them. IPv4 addresses embedded in IPv6 ones
(``::ffff:169.254.169.254``, NAT64's ``64:ff9b::/96``) are judged as well.

Example:
    >>> from ipaddress import ip_address
    >>> policy = NetworkPolicy(deny=["10.9.0.0/16"], own=OwnEndpoint.parse("127.0.0.1", 8000))
    >>> policy.verdict(ip_address("169.254.169.254"), 80).reason
    '169.254.169.254 is denied by default (cloud metadata service)'
    >>> policy.verdict(ip_address("10.9.1.1"), 554).allowed
    False
    >>> policy.verdict(ip_address("192.168.1.20"), 554).allowed
    True
    >>> policy.verdict(ip_address("127.0.0.1"), 8000).reason
    '127.0.0.1:8000 is this server itself'
"""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Literal
from urllib.parse import urlsplit

from citybrain.config.network import NetworkSettings
from citybrain.errors import CitybrainError

__all__ = [
    "DEFAULT_PORTS",
    "Destination",
    "DestinationError",
    "DestinationRefusedError",
    "IPAddress",
    "IPNetwork",
    "NetworkPolicy",
    "NetworkSettings",
    "OwnEndpoint",
    "Resolver",
    "UnresolvableHostError",
    "Verdict",
    "aresolve_host",
    "is_local_address",
    "resolve_host",
    "split_url",
]

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network
Resolver = Callable[[str, int], Sequence[IPAddress]]
AsyncResolver = Callable[[str, int], Awaitable[Sequence[IPAddress]]]

#: The port a URL scheme implies when the URL names none.
DEFAULT_PORTS = {
    "http": 80, "https": 443, "rtsp": 554, "rtsps": 322, "rtmp": 1935, "rtmps": 443,
    "mqtt": 1883, "mqtts": 8883, "tcp": 1883, "ssl": 8883, "ws": 80, "wss": 443,
}  # fmt: skip

_BUILT_IN: tuple[tuple[str, str], ...] = (
    ("169.254.0.0/16", "link-local"),
    ("fe80::/10", "link-local"),
    ("169.254.169.254/32", "cloud metadata service"),
    ("fd00:ec2::254/128", "cloud metadata service"),
    ("0.0.0.0/8", "unspecified address"),
    ("::/128", "unspecified address"),
)
_NAT64 = ip_network("64:ff9b::/96")
# At equal prefix length: an explicit deny beats an explicit allow, which beats a built-in deny.
_RANK = {"deny": 2, "allow": 1, "default": 0}


class DestinationError(CitybrainError):
    """A destination may not or cannot be contacted; the message says which and why."""


class DestinationRefusedError(DestinationError):
    """The network policy refuses a destination."""


class UnresolvableHostError(DestinationError):
    """A host name does not resolve to any address."""


@dataclass(frozen=True, slots=True)
class OwnEndpoint:
    """Where the server itself listens: ``addresses`` at ``port``; ``None`` = every local one."""

    addresses: frozenset[IPAddress] | None
    port: int

    @classmethod
    def parse(cls, host: str, port: int, resolve: Resolver | None = None) -> OwnEndpoint:
        """The endpoint of a listening ``host`` (an address, a name, or ``0.0.0.0`` / ``::``).

        Raises:
            UnresolvableHostError: ``host`` is a name that does not resolve.
        """
        try:
            addresses: list[IPAddress] = [ip_address(host.strip("[]"))]
        except ValueError:
            addresses = list((resolve or resolve_host)(host, port))
        if any(a.is_unspecified for a in addresses):
            return cls(addresses=None, port=port)
        return cls(addresses=frozenset(_plain(a) for a in addresses), port=port)


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether one address may be contacted, and why (for error messages and logs)."""

    allowed: bool
    address: IPAddress
    reason: str


@dataclass(frozen=True, slots=True)
class Destination:
    """A checked destination: the host as given, its port and every address it resolved to."""

    host: str
    port: int
    addresses: tuple[IPAddress, ...]


@dataclass(frozen=True, slots=True)
class _Entry:
    network: IPNetwork
    source: Literal["allow", "deny", "default"]
    why: str


class NetworkPolicy:
    """Decides whether an address and port, or a host name, may be contacted (thread-safe).

    Args:
        allow: CIDR ranges (strings or networks) that ``network.allow`` lists.
        deny: CIDR ranges that ``network.deny`` lists.
        own: where this server listens; ``None`` when it listens nowhere (``analyze``).
        is_local: whether an address is one of this machine's (for a server listening on
            ``0.0.0.0``); the default tries to bind a socket to it.
    """

    def __init__(
        self,
        *,
        allow: Iterable[str | IPNetwork] = (),
        deny: Iterable[str | IPNetwork] = (),
        own: OwnEndpoint | None = None,
        is_local: Callable[[IPAddress], bool] | None = None,
    ) -> None:
        entries = [_Entry(ip_network(n), "default", why) for n, why in _BUILT_IN]
        entries += [_Entry(_network(n), "allow", f"network.allow {n}") for n in allow]
        entries += [_Entry(_network(n), "deny", f"network.deny {n}") for n in deny]
        # Most specific first, then by rank: the first entry that contains an address decides.
        entries.sort(key=lambda e: (e.network.prefixlen, _RANK[e.source]), reverse=True)
        self._entries = tuple(entries)
        self._own = own
        self._is_local = is_local or is_local_address

    @classmethod
    def from_settings(cls, settings: NetworkSettings, own: OwnEndpoint | None) -> NetworkPolicy:
        """The policy the server's ``network`` settings describe."""
        return cls(allow=settings.allow, deny=settings.deny, own=own)

    def verdict(self, address: IPAddress, port: int) -> Verdict:
        """Whether ``address`` at ``port`` may be contacted (no I/O unless the port is ours)."""
        plain = _plain(address)
        if self._is_own(plain, port):
            return Verdict(False, address, f"{_hostport(address, port)} is this server itself")
        for candidate in (plain, *_embedded_ipv4(plain)):
            verdict = self._judge(candidate)
            if not verdict.allowed:
                return Verdict(False, address, verdict.reason)
        return Verdict(True, address, f"{_show(address)} is allowed")

    def check(self, host: str, port: int, resolve: Resolver | None = None) -> Destination:
        """Resolve ``host`` and check every address it has.

        Raises:
            UnresolvableHostError: the name resolves to nothing.
            DestinationRefusedError: any of its addresses is refused; the message names it.
        """
        literal = _literal(host)
        addresses = [literal] if literal else _resolved(host, port, resolve or resolve_host)
        return self._judged(host, port, addresses)

    async def acheck(
        self, host: str, port: int, resolve: AsyncResolver | None = None
    ) -> Destination:
        """:meth:`check` for asyncio code (resolves on the loop's resolver threads)."""
        literal = _literal(host)
        try:
            addresses = [literal] if literal else list(await (resolve or aresolve_host)(host, port))
        except OSError as exc:
            raise UnresolvableHostError(f"cannot resolve {host!r}: {_os_reason(exc)}") from None
        return self._judged(host, port, addresses)

    def check_url(self, url: str, resolve: Resolver | None = None) -> Destination:
        """:meth:`check` for the host and port of ``url`` (its scheme's port if none is given).

        Raises:
            DestinationError: the URL has no host, or its destination is refused.
        """
        host, port = split_url(url)
        return self.check(host, port, resolve)

    def _judged(self, host: str, port: int, addresses: Sequence[IPAddress]) -> Destination:
        if not addresses:
            raise UnresolvableHostError(f"{host!r} resolves to no address")
        for address in addresses:
            verdict = self.verdict(address, port)
            if not verdict.allowed:
                shown = host if _literal(host) == address else f"{host} ({_show(address)})"
                raise DestinationRefusedError(
                    f"{shown} refused by the network policy: {verdict.reason}"
                )
        return Destination(host=host, port=port, addresses=tuple(dict.fromkeys(addresses)))

    def _judge(self, address: IPAddress) -> Verdict:
        for entry in self._entries:
            if address.version == entry.network.version and address in entry.network:
                if entry.source == "allow":
                    return Verdict(True, address, f"{address} is allowed by {entry.why}")
                if entry.source == "deny":
                    return Verdict(False, address, f"{address} is denied by {entry.why}")
                return Verdict(False, address, f"{address} is denied by default ({entry.why})")
        return Verdict(True, address, f"{address} is allowed")

    def _is_own(self, address: IPAddress, port: int) -> bool:
        own = self._own
        if own is None or port != own.port:
            return False
        if own.addresses is not None:
            return address in own.addresses
        return address.is_loopback or address.is_unspecified or self._is_local(address)


def split_url(url: str) -> tuple[str, int]:
    """The host and port ``url`` points at.

    Raises:
        DestinationError: the URL has no host, an invalid port, or an unknown scheme and no port.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise DestinationError(f"invalid URL: {exc}") from None
    host = parts.hostname
    if not host:
        raise DestinationError(f"URL has no host: scheme {parts.scheme!r}")
    if port is None:
        port = DEFAULT_PORTS.get(parts.scheme.lower())
        if port is None:
            raise DestinationError(f"URL scheme {parts.scheme!r} needs an explicit port")
    return host, port


def resolve_host(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (an address literal is itself), in resolver order.

    Raises:
        OSError: the resolver failed (``socket.gaierror`` for unknown names).
    """
    literal = _literal(host)
    if literal is not None:
        return [literal]
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(_sockaddr_ip(info[4]) for info in infos))


async def aresolve_host(host: str, port: int) -> list[IPAddress]:
    """:func:`resolve_host` on the running loop's resolver."""
    literal = _literal(host)
    if literal is not None:
        return [literal]
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(_sockaddr_ip(info[4]) for info in infos))


def is_local_address(address: IPAddress) -> bool:
    """Whether ``address`` belongs to this machine: only then can a socket be bound to it."""
    family = socket.AF_INET if address.version == 4 else socket.AF_INET6
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((str(address), 0))
    except OSError as exc:
        if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT, errno.EINVAL):
            return False
        raise
    return True


def _resolved(host: str, port: int, resolve: Resolver) -> list[IPAddress]:
    try:
        return list(resolve(host, port))
    except OSError as exc:
        raise UnresolvableHostError(f"cannot resolve {host!r}: {_os_reason(exc)}") from None


def _os_reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


def _literal(host: str) -> IPAddress | None:
    try:
        return ip_address(host.strip("[]"))
    except ValueError:
        return None


def _sockaddr_ip(
    sockaddr: tuple[str, int] | tuple[str, int, int, int] | tuple[int, bytes],
) -> IPAddress:
    return ip_address(str(sockaddr[0]).split("%", 1)[0])


def _network(value: str | IPNetwork) -> IPNetwork:
    # strict: "10.0.0.1/8" is a typo for "10.0.0.0/8" more often than a wish.
    return value if isinstance(value, IPv4Network | IPv6Network) else ip_network(value)


def _plain(address: IPAddress) -> IPAddress:
    """An IPv4-mapped IPv6 address as its IPv4 address; a scoped IPv6 address without scope."""
    if isinstance(address, IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.scope_id is not None:
            return IPv6Address(str(address).split("%", 1)[0])
    return address


def _embedded_ipv4(address: IPAddress) -> tuple[IPv4Address, ...]:
    """IPv4 addresses an IPv6 address leads to through a translator (NAT64, 6to4)."""
    if not isinstance(address, IPv6Address):
        return ()
    found: list[IPv4Address] = []
    if address in _NAT64:
        found.append(IPv4Address(int(address) & 0xFFFFFFFF))
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    return tuple(found)


def _show(address: IPAddress) -> str:
    """``address`` as people write it (Python < 3.13 shows IPv4-mapped ones in hex)."""
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return f"::ffff:{address.ipv4_mapped}"
    return str(address)


def _hostport(address: IPAddress, port: int) -> str:
    return f"[{_show(address)}]:{port}" if address.version == 6 else f"{address}:{port}"
