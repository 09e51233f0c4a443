"""The address of the client behind our own proxies (the gateway, a reverse proxy).

Each proxy appends the address it was called from to X-Forwarded-For. So the client is the
rightmost entry not of a trusted proxy, and the header counts only when the direct peer is
a trusted proxy itself: a client cannot choose its address by sending the header.
(werkzeug's ProxyFix trusts a number of hops whoever sends them, hence this.)"""
from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=16)
def trusted_networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    """'127.0.0.1', '10.0.0.0/8', '::1' ... as networks; a typo fails at start-up."""
    return tuple(ipaddress.ip_network(p.strip(), strict=False) for p in proxies if p.strip())


def _trusted(address: str, networks: Iterable[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False  # not an address: never one of our proxies
    return any(ip in network for network in networks)


def client_address(remote_addr: str | None, forwarded_for: str | None,
                   proxies: tuple[str, ...]) -> str:
    """The client's address, at most 45 characters (an IPv6 address's longest form)."""
    networks = trusted_networks(proxies)
    peer = remote_addr or "unknown"
    if not forwarded_for or not _trusted(peer, networks):
        return peer[:45]
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            return hop[:45]
    return (hops[0] if hops else peer)[:45]  # every hop is ours: the first one called us
