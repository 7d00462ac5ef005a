"""Which address a request comes from behind the proxies of ``[server] trusted-proxies``."""

from __future__ import annotations

import pytest

from pryv_server.config import ConfigError
from pryv_server.config import Settings
from pryv_server.config_values import parse_networks
from pryv_server.web.client_address import client_address

PROXIES = parse_networks("10.0.0.0/30, ::1")


@pytest.mark.parametrize(
    ("peer", "chain", "expected"),
    [
        ("10.0.0.1", "198.51.100.9", "198.51.100.9"),
        ("10.0.0.1", "6.6.6.6, 198.51.100.9", "198.51.100.9"),  # the client's own entry: ignored
        ("10.0.0.1", "198.51.100.9, 10.0.0.2", "198.51.100.9"),  # two trusted hops
        ("10.0.0.1", "10.0.0.3, 10.0.0.2", "10.0.0.3"),  # every hop trusted: the leftmost
        ("10.0.0.1", "not-an-address", "10.0.0.1"),
        ("10.0.0.1", "198.51.100.9, junk", "10.0.0.1"),
        ("10.0.0.1", "", "10.0.0.1"),
        ("10.0.0.1", None, "10.0.0.1"),
        ("::1", "2001:db8::7", "2001:db8::7"),
        ("10.0.0.9", "198.51.100.9", "10.0.0.9"),  # not a trusted proxy
        ("", "198.51.100.9", ""),
    ],
)
def test_client_address(peer: str, chain: str | None, expected: str) -> None:
    assert client_address(peer, chain, PROXIES) == expected


def test_no_trusted_proxies_means_the_peer() -> None:
    assert client_address("10.0.0.1", "198.51.100.9", ()) == "10.0.0.1"


def test_trusted_proxies_option() -> None:
    settings = Settings.from_mapping({"server": {"trusted-proxies": "127.0.0.1 10.0.0.0/8"}})
    assert [str(net) for net in settings.trusted_proxies] == ["127.0.0.1/32", "10.0.0.0/8"]
    assert Settings.from_mapping({}).trusted_proxies == ()
    with pytest.raises(ConfigError, match=r"\[server\] trusted-proxies: 'nginx' is not an IP"):
        Settings.from_mapping({"server": {"trusted-proxies": "nginx"}})
