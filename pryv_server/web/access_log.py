"""One structured access-log line per request, written when the response is fully sent.

The line is logfmt (``key=value``, values with spaces quoted) on the ``pryv.access`` logger::

    method=POST path=/simple/ status=200 duration_ms=812.4 user=alice bytes=0 remote=10.0.0.7

It is written by a WSGI middleware around the Flask app rather than by an ``after_request`` hook,
so ``duration_ms`` includes streaming the body of a download, and a request that never reaches a
view (a 401, a 413) is logged too. The authenticated user is handed over from Flask through the
WSGI environ. With ``[server] debug = true`` a ``DEBUG`` line is also written when a request
*starts*, which shows long uploads while they are still in flight.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from typing import TYPE_CHECKING

from flask import Flask
from flask import g
from flask import request
from werkzeug.wrappers import Response

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse
    from _typeshed.wsgi import WSGIApplication
    from _typeshed.wsgi import WSGIEnvironment

access_log = logging.getLogger("pryv.access")

USER_KEY = "pryv.user"


def logfmt(fields: dict[str, object]) -> str:
    """Render ``fields`` as ``key=value`` pairs, quoting values that hold spaces or quotes."""
    parts = []
    for key, value in fields.items():
        text = "-" if value is None or value == "" else str(value)
        if any(char.isspace() or char in '"\\' for char in text):
            text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
        parts.append(f"{key}={text}")
    return " ".join(parts)


class AccessLogMiddleware:
    """Wrap a WSGI app and log each request when its response is closed."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Serve the request, then log it when the server closes the response."""
        started = time.perf_counter()
        if access_log.isEnabledFor(logging.DEBUG):
            access_log.debug(
                "request started %s",
                logfmt(
                    {
                        "method": environ.get("REQUEST_METHOD"),
                        "path": environ.get("PATH_INFO"),
                        "length": environ.get("CONTENT_LENGTH"),
                        "remote": environ.get("REMOTE_ADDR"),
                    }
                ),
            )
        state: dict[str, object] = {"status": None, "bytes": 0}

        def capture(status: str, headers: list[tuple[str, str]], *args: object) -> object:
            state["status"] = int(status.split(" ", 1)[0])
            for name, value in headers:
                if name.lower() == "content-length" and value.isdigit():
                    state["bytes"] = int(value)
            return start_response(status, headers, *args)  # type: ignore[arg-type]

        body = self.app(environ, capture)  # type: ignore[arg-type]
        logged = _LoggedBody(body, environ, state, started)
        file_wrapper = environ.get("wsgi.file_wrapper")
        if isinstance(file_wrapper, type) and isinstance(body, file_wrapper):
            # Keep the server's file wrapper so it can still use sendfile(); log on its close.
            # Some wrappers (gunicorn's) set close on the instance: keep whichever it has.
            logged.body_close = getattr(body, "close", None)
            body.close = logged.close  # type: ignore[attr-defined]
            return body
        state["bytes"] = 0
        return logged


class _LoggedBody:
    """The response iterable, counting bytes and logging once the server closes it."""

    def __init__(
        self,
        body: Iterable[bytes],
        environ: WSGIEnvironment,
        state: dict[str, object],
        started: float,
    ) -> None:
        self.body = body
        self.environ = environ
        self.state = state
        self.started = started
        self.body_close: Callable[[], object] | None = None

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.body:
            self.state["bytes"] = int(self.state["bytes"]) + len(chunk)  # type: ignore[call-overload]
            yield chunk

    def close(self) -> None:
        try:
            if self.body_close is not None:
                self.body_close()  # the file wrapper's own close, replaced by ours above
            elif callable(close := getattr(self.body, "close", None)):
                close()
        finally:
            self._log()

    def _log(self) -> None:
        environ = self.environ
        path = environ.get("PATH_INFO", "")
        if environ.get("QUERY_STRING"):
            path += "?" + environ["QUERY_STRING"]
        status = self.state["status"]
        fields = {
            "method": environ.get("REQUEST_METHOD"),
            "path": path,
            "status": status,
            "duration_ms": f"{(time.perf_counter() - self.started) * 1000:.1f}",
            "user": environ.get(USER_KEY),
            "bytes": self.state["bytes"],
            "remote": environ.get("REMOTE_ADDR"),
        }
        level = logging.WARNING if isinstance(status, int) and status >= 500 else logging.INFO
        access_log.log(level, logfmt(fields))


def _remember_user(response: Response) -> Response:
    # The view authenticated the request (web/security.py sets g.user); the middleware logs later,
    # outside the request context, so it reads the name from the WSGI environ.
    user = g.get("user")
    if user:
        request.environ[USER_KEY] = user
    return response


def install_access_log(app: Flask) -> None:
    """Log every request of ``app`` on the ``pryv.access`` logger."""
    app.after_request(_remember_user)
    app.wsgi_app = AccessLogMiddleware(app.wsgi_app)  # type: ignore[method-assign]
