"""Where webhooks may be sent: no server-side request forgery through a webhook address.

A webhook address is typed by a Security Admin, but the POST leaves from the portal's own network, next to the
cloud metadata endpoint (169.254.169.254, which hands out the managed identity's tokens), the database and Redis.
So:

- the cloud metadata and host endpoints are always refused: link-local (169.254.169.254, fe80::/10), Azure's
  WireServer 168.63.129.16, AWS's fd00:ec2::254 and Alibaba's 100.100.100.200; so are multicast, unspecified and
  reserved addresses;
- every other address that is not globally routable (loopback, RFC 1918, IPv6 unique-local, carrier-grade NAT,
  the special-purpose blocks) is refused unless it falls in `WEBHOOK_PRIVATE_NETWORKS` (a comma-separated list of
  CIDRs; loopback only in development and tests); an IPv6 address that embeds an IPv4 one (mapped, 6to4, Teredo)
  is judged by the IPv4 one too;
- the check runs when the address is saved (for a literal IP; a name is not looked up then, so saving never waits
  on DNS) and at each delivery before any packet is sent: the name is resolved, every address it resolves to must
  pass, and the connection goes to those vetted addresses only (so DNS rebinding cannot swap one in), and the
  connected socket's peer is checked once more. Nothing is sent to a refused address, not even a TCP handshake, so
  the delivery log cannot be used to scan internal ports.

Deliveries use no proxy (not HTTP(S)_PROXY from the environment, and a proxy passed in is refused): the address
checked must be the address connected to.
"""

from __future__ import annotations

import ipaddress
import socket
from functools import cache
from typing import TYPE_CHECKING, Any

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_METADATA = tuple(
    ipaddress.ip_network(n)
    for n in ("169.254.0.0/16", "fe80::/10", "168.63.129.16/32", "fd00:ec2::254/128", "100.100.100.200/32")
)


class BlockedAddress(OSError):
    """The webhook address is (or resolves to) a network the portal does not post to."""


@cache
def _allowed(spec: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in spec)


def allowed_networks() -> tuple[Network, ...]:
    return _allowed(tuple(settings.WEBHOOK_PRIVATE_NETWORKS))


def _embedded(addr: Address) -> list[Address]:
    """The address and any IPv4 address an IPv6 one carries (mapped, 6to4, Teredo server and client)."""
    found: list[Address] = [addr]
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped:
            found.append(addr.ipv4_mapped)
        if addr.sixtofour:
            found.append(addr.sixtofour)
        if addr.teredo:
            found.extend(addr.teredo)
    return found


def refusal(ip: str) -> str | None:
    """Why the portal will not post to `ip`, or None when it may."""
    original = ipaddress.ip_address(ip.split("%", 1)[0])
    candidates = _embedded(original)
    if isinstance(original, ipaddress.IPv6Address) and original.ipv4_mapped:
        candidates = [original.ipv4_mapped]  # the packets go to the IPv4 host
    elif len(candidates) > 1 and all(c.is_global for c in candidates[1:]):
        candidates = candidates[1:]  # 6to4/Teredo of public IPv4 addresses: judged by those
    for addr in candidates:
        if (
            any(addr in net for net in _METADATA if net.version == addr.version)
            or addr.is_link_local
            or addr.is_multicast
            or addr.is_unspecified
        ):
            return "a link-local, metadata or multicast address (cloud metadata endpoints live there)"
        if any(addr in net for net in allowed_networks() if net.version == addr.version):
            continue  # listed in WEBHOOK_PRIVATE_NETWORKS (::1 is "reserved" to Python: it was refused before this)
        if addr.is_reserved and not (addr.is_loopback or addr.is_private):
            return "a reserved address"
        if not addr.is_global:
            return (
                "a loopback, private or otherwise internal address; list its network in "
                "WEBHOOK_PRIVATE_NETWORKS to allow internal receivers"
            )
    return None


def check_host(host: str) -> str | None:
    """At save time: why a literal IP address is refused (None for a name; deliveries check the socket)."""
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
    return refusal(host)


if TYPE_CHECKING:
    _VettedBase = HTTPConnection  # what the mixin is mixed into: its host, port, _dns_host and _new_conn
else:
    _VettedBase = object


class _Vetted(_VettedBase):
    """Resolve the host, refuse it if any address it resolves to is refused, connect only to those addresses
    (pinned: TLS still verifies the certificate against the host name), and check the connected peer."""

    def _new_conn(self) -> socket.socket:
        name = self._dns_host
        try:
            infos = socket.getaddrinfo(name, self.port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            return super()._new_conn()  # urllib3 reports the resolution failure
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        for ip in addresses:
            why = refusal(ip)
            if why:
                raise BlockedAddress(f"Refused to post to {self.host}: it resolves to {why}.")
        last: BaseException | None = None
        try:
            for ip in addresses:
                self._dns_host = ip
                try:
                    sock = super()._new_conn()
                except OSError as exc:
                    last = exc
                    continue
                if refusal(sock.getpeername()[0]):
                    sock.close()
                    raise BlockedAddress(f"Refused to post to {self.host}: the connection went elsewhere.")
                return sock
        finally:
            self._dns_host = name
        raise last if last else BlockedAddress(f"{self.host} resolves to no address.")


class _Conn(_Vetted, HTTPConnection):
    pass


class _TLSConn(_Vetted, HTTPSConnection):
    pass


class _Pool(HTTPConnectionPool):
    ConnectionCls = _Conn


class _TLSPool(HTTPSConnectionPool):
    ConnectionCls = _TLSConn


class _Adapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _Pool, "https": _TLSPool}

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        raise BlockedAddress(
            "Webhook deliveries use no proxy: the address checked must be the one connected to."
        )


def session() -> requests.Session:
    """A requests session that only connects where `refusal` allows, without environment proxies."""
    s = requests.Session()
    s.trust_env = False
    adapter = _Adapter()
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    return s
