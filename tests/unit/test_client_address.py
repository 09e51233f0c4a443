"""The client's address: X-Forwarded-For counts only from our own proxies."""
from __future__ import annotations

import pytest

from shared.client_address import client_address

LOOPBACK = ("127.0.0.1", "::1")


@pytest.mark.parametrize("peer, forwarded, proxies, client", [
    ("203.0.113.5", None, LOOPBACK, "203.0.113.5"),
    ("203.0.113.5", "10.9.9.9", LOOPBACK, "203.0.113.5"),  # a client's claim is ignored
    ("127.0.0.1", "203.0.113.5", LOOPBACK, "203.0.113.5"),  # the gateway's entry
    ("127.0.0.1", "10.9.9.9, 203.0.113.5", LOOPBACK, "203.0.113.5"),  # claim, then gateway
    ("10.0.0.2", "203.0.113.5, 10.0.0.3", ("10.0.0.0/8",), "203.0.113.5"),  # two proxies
    ("127.0.0.1", "not-an-address", LOOPBACK, "not-an-address"),
    ("127.0.0.1", None, LOOPBACK, "127.0.0.1"),
    ("127.0.0.1", "203.0.113.5", (), "127.0.0.1"),  # nobody trusted
    ("::1", "2001:db8::7", LOOPBACK, "2001:db8::7"),
])
def test_the_rightmost_address_not_of_a_trusted_proxy(peer, forwarded, proxies, client):
    assert client_address(peer, forwarded, proxies) == client


def test_an_overlong_entry_is_cut_to_the_column():
    assert len(client_address("127.0.0.1", "x" * 500, LOOPBACK)) == 45


def test_a_typo_in_the_setting_fails():
    with pytest.raises(ValueError):
        client_address("127.0.0.1", "203.0.113.5", ("127.0.0.l",))
