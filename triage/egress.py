"""Where webhooks may be sent: no server-side request forgery through a webhook address.

A webhook address is typed by a Security Admin, but the POST leaves from the portal's own network, next to the
cloud metadata endpoint (169.254.169.254, which hands out the managed identity's tokens), the database and Redis.
So:

- link-local (the metadata endpoints), multicast, unspecified and reserved addresses are always refused;
- loopback, private (RFC 1918, IPv6 unique-local) and carrier-grade NAT addresses are refused unless they fall in
  `WEBHOOK_PRIVATE_NETWORKS` (a comma-separated list of CIDRs; loopback only in development and tests);
- the check runs when the address is saved (for a literal IP; a name is not looked up then, so saving never waits
  on DNS) and on the socket each delivery actually connects to, whatever the name resolved to at that moment
  (so DNS rebinding is caught too).

Deliveries do not use HTTP(S)_PROXY from the environment: the address checked must be the address connected to.
"""

from __future__ import annotations

import ipaddress
import socket
from functools import cache
from typing import Any

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_CGNAT = ipaddress.ip_network("100.64.0.0/10")


class BlockedAddress(OSError):
    """The webhook address is (or resolves to) a network the portal does not post to."""


@cache
def _allowed(spec: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in spec)


def allowed_networks() -> tuple[Network, ...]:
    return _allowed(tuple(settings.WEBHOOK_PRIVATE_NETWORKS))


def refusal(ip: str) -> str | None:
    """Why the portal will not post to `ip`, or None when it may."""
    addr: Address = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    if addr.is_link_local or addr.is_multicast or addr.is_unspecified or addr.is_reserved:
        return f"{addr} is a link-local, multicast or reserved address (cloud metadata endpoints live there)"
    if addr.is_loopback or addr.is_private or addr in _CGNAT:
        if any(addr in net for net in allowed_networks() if net.version == addr.version):
            return None
        return (
            f"{addr} is a loopback or private address; list its network in WEBHOOK_PRIVATE_NETWORKS to allow "
            "internal receivers"
        )
    return None


def check_host(host: str) -> str | None:
    """At save time: why a literal IP address is refused (None for a name; deliveries check the socket)."""
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
    return refusal(host)


def _checked(sock: socket.socket) -> socket.socket:
    peer = sock.getpeername()[0]
    why = refusal(peer)
    if why:
        sock.close()
        raise BlockedAddress(f"Refused to post to {peer}: {why}.")
    return sock


class _Conn(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _checked(super()._new_conn())


class _TLSConn(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _checked(super()._new_conn())


class _Pool(HTTPConnectionPool):
    ConnectionCls = _Conn


class _TLSPool(HTTPSConnectionPool):
    ConnectionCls = _TLSConn


class _Adapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _Pool, "https": _TLSPool}


def session() -> requests.Session:
    """A requests session that only connects where `refusal` allows, without environment proxies."""
    s = requests.Session()
    s.trust_env = False
    adapter = _Adapter()
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    return s
