"""Find the client's address behind the reverse proxies named in ``[server] trusted-proxies``.

Behind nginx every request reaches pryv from the proxy's address; the client's is in the
``X-Forwarded-For`` header the proxy appends to. That header is believed only when the request
comes from a trusted proxy (default: none), and only as far as the chain of trusted proxies
reaches: the chain is read from the right, skipping trusted proxies, and the first address that is
not one is the client. Anything a client wrote itself sits left of that and is ignored, so a
client cannot escape the login limiter by inventing addresses.

The middleware sits outermost, so the login limiter, the simple-page fast path, the explorer's
setup check and the access log all see the same ``REMOTE_ADDR``; the peer's own address is kept
under :data:`PEER_KEY`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import TYPE_CHECKING

from pryv_server.config_values import Network

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse
    from _typeshed.wsgi import WSGIApplication
    from _typeshed.wsgi import WSGIEnvironment

PEER_KEY = "pryv.peer"
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class TrustedProxies:
    """A WSGI middleware that sets ``REMOTE_ADDR`` to the client behind trusted proxies."""

    def __init__(self, app: WSGIApplication, proxies: tuple[Network, ...]) -> None:
        self.app = app
        self.proxies = proxies

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Rewrite the address when the peer is a trusted proxy, then call the app."""
        peer = environ.get("REMOTE_ADDR") or ""
        environ[PEER_KEY] = peer
        environ["REMOTE_ADDR"] = client_address(
            peer, environ.get("HTTP_X_FORWARDED_FOR"), self.proxies
        )
        return self.app(environ, start_response)


def client_address(peer: str, forwarded_for: str | None, proxies: tuple[Network, ...]) -> str:
    """Return the client's address: ``peer``, or who a chain of trusted proxies forwarded for.

    An entry that is not an IP address ends the walk at the last trusted hop: garbage a proxy
    passed on cannot become a limiter key.
    """
    current = _parse(peer)
    if current is None or not forwarded_for or not _trusted(current, proxies):
        return peer
    for entry in reversed(forwarded_for.split(",")):
        hop = _parse(entry.strip())
        if hop is None:
            break
        current = hop
        if not _trusted(hop, proxies):
            break
    return str(current)


def _parse(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


def _trusted(address: Address, proxies: tuple[Network, ...]) -> bool:
    return any(address in network for network in proxies)
