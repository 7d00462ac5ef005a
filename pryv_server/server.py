"""Run a pryv app under gunicorn (the default), configured from Python rather than a config file."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.http.errors import NoMoreData
from gunicorn.http.errors import ParseException
from werkzeug.exceptions import BadRequest
from werkzeug.exceptions import RequestTimeout

from pryv_server.worker import RequestTooSlow

METRICS_PREFIX = "pryv-metrics-"


def share_metrics_between_workers() -> None:
    """Make prometheus-client keep every worker's metrics in files one scrape adds up.

    Must run before prometheus-client is imported (it reads the variable then): ``pryv start``
    calls it before building the app. An operator's own ``PROMETHEUS_MULTIPROC_DIR`` is kept.
    The folder is removed when the process that made it exits (not when a worker does), and,
    should that process be killed, by the next ``pryv start`` on the machine (its name holds the
    pid of the process that made it).
    """
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    for stale in Path(tempfile.gettempdir()).glob(f"{METRICS_PREFIX}*-*"):
        pid = stale.name.removeprefix(METRICS_PREFIX).split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):  # left by a server killed with -9
            shutil.rmtree(stale, ignore_errors=True)
    folder = tempfile.mkdtemp(prefix=f"{METRICS_PREFIX}{os.getpid()}-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    owner = os.getpid()

    def remove() -> None:
        if os.getpid() == owner:
            shutil.rmtree(folder, ignore_errors=True)

    atexit.register(remove)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


class GunicornServer(BaseApplication):  # type: ignore[misc]
    """A gunicorn application that serves one already-built Flask app.

    The app is built in the master before the workers fork, so they share the warm index
    (copy-on-write) and the secret key, and a configuration error stops ``pryv start`` at once.
    """

    def __init__(self, app: Flask, options: Mapping[str, Any]) -> None:
        self.application = app
        self.options = dict(options)
        super().__init__()

    def load_config(self) -> None:
        """Hand our options to gunicorn's settings."""
        for key, value in self.options.items():
            if key in self.cfg.settings:  # newer gunicorn options are skipped on older ones
                self.cfg.set(key, value)

    def load(self) -> ClientBodyErrors:
        """Return the WSGI app for each worker."""
        return ClientBodyErrors(self.application)


def serve(
    app: Flask,
    fd: int,
    *,
    workers: int,
    threads: int,
    timeout: int,
    graceful: int,
    debug: bool,
    post_fork: Callable[[Any, Any], None] | None = None,
) -> None:
    """Serve ``app`` on the bound socket ``fd`` until SIGINT or SIGTERM.

    ``post_fork`` runs in each worker once forked (gunicorn's hook of that name).
    """
    options: dict[str, Any] = {
        "bind": f"fd://{fd}",
        "workers": workers,
        "threads": threads,
        # gthread, but a thread only ever waits for a client that keeps pace: the headers are
        # read without one, with a deadline, and a body must arrive at a floor rate.
        "worker_class": "pryv_server.worker.PacedThreadWorker",
        "timeout": timeout,
        "graceful_timeout": graceful,
        "keepalive": 5,
        # pryv writes its own access log (pryv.access: with the user and the full duration).
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "debug" if debug else "info",
        # gunicorn >= 25 opens a control socket in ~/.gunicorn by default; pryv does not use it,
        # and two servers on one machine would fight over it.
        "control_socket_disable": True,
        # Bound what a client can make a worker hold before the app sees the request (gunicorn's
        # defaults, stated here on purpose): a longer line is a 414, bigger headers a 431.
        "limit_request_line": 4094,
        "limit_request_fields": 100,
        "limit_request_field_size": 8190,
    }
    if post_fork is not None:
        options["post_fork"] = post_fork
    GunicornServer(app, options).run()


class ClientBodyErrors:
    """Answer 400 when gunicorn finds the request body malformed while the app reads it.

    And 408 when the body arrives too slowly (see :mod:`pryv_server.worker`).

    gunicorn parses a chunked body lazily, as the app reads it, and raises its own exceptions
    (bad chunk size, missing terminator, end of data); unhandled, they would be a 500.
    """

    def __init__(self, app: Flask) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        """Wrap ``wsgi.input`` and call the app."""
        environ["wsgi.input"] = _CheckedInput(environ["wsgi.input"])
        result: Iterable[bytes] = self.app(environ, start_response)
        return result


class _CheckedInput:
    """A ``wsgi.input`` whose parse errors are HTTP 400 errors the app renders as usual."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def _call(self, method: str, *args: Any) -> Any:
        try:
            return getattr(self._stream, method)(*args)
        except RequestTooSlow as error:
            raise RequestTimeout(str(error)) from None
        except (ParseException, NoMoreData) as error:
            message = " ".join(str(error).split()) or type(error).__name__
            raise BadRequest(f"the request body is malformed: {message}") from None

    def read(self, size: int | None = None) -> bytes:
        """Read up to ``size`` bytes."""
        return bytes(self._call("read", size) if size is not None else self._call("read"))

    def readline(self, size: int | None = None) -> bytes:
        """Read one line."""
        return bytes(self._call("readline", size) if size is not None else self._call("readline"))

    def readlines(self, hint: int | None = None) -> list[bytes]:
        """Read every line."""
        return list(self._call("readlines", hint) if hint is not None else self._call("readlines"))

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line
