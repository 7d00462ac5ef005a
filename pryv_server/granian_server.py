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

from typing import Any

from flask import Flask
from granian.constants import HTTPModes
from granian.constants import Interfaces
from granian.http import HTTP1Settings
from granian.server import Server

from pryv_server.worker import HEADER_TIMEOUT


def serve(app: Flask, host: str, port: int, *, workers: int, threads: int, graceful: int) -> None:
    """Serve ``app`` on ``host:port`` until SIGINT or SIGTERM (then wait ``graceful`` seconds)."""

    def already_built(_target: str) -> Any:
        return app

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
