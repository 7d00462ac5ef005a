"""Run a pryv app under granian (``pryv start --server granian``), for use behind a buffering proxy.

granian is an HTTP server written in Rust with a WSGI interface. Measured on one machine, it
serves pryv's index pages about three times as fast as gunicorn (docs/performance.md). It is not
the default because it has no deadline on a request *body*: a thread reading an upload waits as
long as the client keeps the connection open, so a few dozen clients that trickle their uploads
hold every thread and no index page is answered any more (gunicorn's paced worker, the default,
answers them ``408``). Behind a proxy that reads the whole request before passing it on (nginx
does by default, ``proxy_request_buffering on``), no slow body ever reaches pryv, and granian is
the faster choice. Headers have a deadline under both servers.

As under gunicorn, the app is built in the main process and the workers fork with it warm.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING
from typing import Any

from flask import Flask
from granian.constants import HTTPModes
from granian.constants import Interfaces
from granian.http import HTTP1Settings
from granian.server import Server

from pryv_server.worker import HEADER_TIMEOUT

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse
    from _typeshed.wsgi import WSGIApplication
    from _typeshed.wsgi import WSGIEnvironment

# Who may say which scheme the client used: a proxy on this machine, as gunicorn's default
# (``forwarded_allow_ips``) trusts. granian reads no forwarding header itself.
_LOCAL = frozenset({"127.0.0.1", "::1"})


def serve(app: Flask, host: str, port: int, *, workers: int, threads: int, graceful: int) -> None:
    """Serve ``app`` on ``host:port`` until SIGINT or SIGTERM (then wait ``graceful`` seconds)."""

    def already_built(_target: str) -> Any:
        return LocalProxyScheme(app)

    server = Server(
        "pryv_server.wsgi:app",  # never imported: the loader hands granian the app built here
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        workers=workers,
        blocking_threads=threads,
        http=HTTPModes.http1,  # as under gunicorn: TLS and HTTP/2 belong to the proxy
        websockets=False,
        http1_settings=HTTP1Settings(header_read_timeout=int(HEADER_TIMEOUT * 1000)),
        log_access=False,  # pryv writes its own access log (pryv.access)
        workers_kill_timeout=graceful,
    )
    server.serve(target_loader=already_built)


class LocalProxyScheme:
    """Take ``X-Forwarded-Proto`` from a proxy on this machine, as gunicorn does by default.

    Behind nginx terminating TLS, the explorer's session cookie must be ``Secure`` and its pages
    must show ``https://`` commands; from any other address the header is ignored, so a client
    cannot make pryv believe it came over TLS.
    """

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Set ``wsgi.url_scheme`` from a local proxy's header, then call the app."""
        scheme = environ.get("HTTP_X_FORWARDED_PROTO", "").strip().lower()
        if scheme in ("http", "https") and environ.get("REMOTE_ADDR") in _LOCAL:
            environ["wsgi.url_scheme"] = scheme
        return self.app(environ, start_response)
