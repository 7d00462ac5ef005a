"""Serve ``/metrics`` on ``[metrics] address`` too, from the server's main process.

Why the main process (gunicorn's master): prometheus-client's multiprocess mode keeps every
worker's values in files of one folder (:func:`pryv_server.server.share_metrics_between_workers`),
and any process that reads the folder reports them all. The master is the one process that lives
as long as the server and never serves a request, so a scrape there is answered even when every
worker is busy or stuck, and counts no worker twice. A worker would be the wrong home (each would
need a port of its own), and so would gunicorn's ``bind`` (the workers would answer the API's
routes on it).

The socket is bound before the app is built (one line when the address is taken, as for the
main port, :mod:`pryv_server.listener`), and served by a daemon thread with the standard
library's WSGI server (prometheus-client's threading variant, as its own ``start_http_server``).
The same holds under granian (``pryv start --server granian``), whose main process also forks
the workers. Forked workers get a copy of the listening socket: under gunicorn they close it at
once (``post_fork``); granian has no such hook, and its workers keep an idle copy they never
accept on.
"""

from __future__ import annotations

import socket
import threading
from typing import TYPE_CHECKING
from wsgiref.simple_server import WSGIRequestHandler

from prometheus_client.exposition import ThreadingWSGIServer

from pryv_server import listener
from pryv_server.web.metrics import standalone_app

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication
    from flask import Flask

OPTIONS = {"port": "[metrics] address", "host": "[metrics] address"}


def bind(address: tuple[str, int]) -> int:
    """Return the file descriptor of a listening socket on ``[metrics] address``.

    :raises ConfigError: the address does not resolve or cannot be bound (one line).
    """
    return listener.bind(*address, options=OPTIONS)


class _Quiet(WSGIRequestHandler):
    """Log no line per scrape (Prometheus scrapes every few seconds)."""

    def log_message(self, format: str, *args: object) -> None:
        """Say nothing."""


class MetricsServer(ThreadingWSGIServer):
    """A threading WSGI server on an already bound, listening socket."""

    daemon_threads = True

    def __init__(self, fd: int, app: WSGIApplication) -> None:
        listening = socket.socket(fileno=fd)
        listening.set_inheritable(False)  # no program this process starts gets a copy
        super().__init__(listening.getsockname()[:2], _Quiet, bind_and_activate=False)
        self.socket.close()  # the unbound one the base class made
        self.socket = listening
        self.server_name = "pryv-metrics"
        self.server_port = listening.getsockname()[1]
        self.setup_environ()
        self.set_app(app)

    @property
    def url(self) -> str:
        """The URL Prometheus scrapes."""
        host, port = self.socket.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/metrics"

    def start(self) -> threading.Thread:
        """Serve in a daemon thread (it ends with the process)."""
        thread = threading.Thread(target=self.serve_forever, name="pryv-metrics", daemon=True)
        thread.start()
        return thread

    def close_in_child(self, _arbiter: object, _worker: object) -> None:
        """Close a forked worker's copy of the listening socket (the master keeps serving).

        gunicorn's ``post_fork`` hook; granian has none, so its workers keep an idle copy.
        """
        self.socket.close()


def serve(fd: int, app: Flask) -> MetricsServer:
    """Serve ``app``'s metrics on the bound socket ``fd`` from a thread of this process."""
    served = MetricsServer(fd, standalone_app(app.extensions["pryv"]))
    served.start()
    return served
