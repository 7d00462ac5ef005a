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
import re
import time
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING

from flask import Flask
from flask import g
from flask import request
from werkzeug.wrappers import Response

from pryv_server.auth import Identity

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse
    from _typeshed.wsgi import WSGIApplication
    from _typeshed.wsgi import WSGIEnvironment

access_log = logging.getLogger("pryv.access")

USER_KEY = "pryv.user"
# The WSGI environ key of the request's route pattern (``/simple/<project>/``), for the metrics.
ROUTE_KEY = "pryv.route"
UNMATCHED = "unmatched"
_NEEDS_QUOTES = re.compile(r'[\s"\\]')


def logfmt(fields: dict[str, object]) -> str:
    """Render ``fields`` as ``key=value`` pairs, quoting values that hold spaces or quotes.

    Every value is escaped: a path, a user name or any other field a client chose may hold a
    line break or a terminal escape, which would otherwise forge a whole log line (``%0A`` in an
    unauthenticated URL) or rewrite what an operator's terminal shows.
    """
    parts = []
    for key, value in fields.items():
        text = "-" if value is None or value == "" else str(value)
        if _NEEDS_QUOTES.search(text) or not text.isprintable():
            text = '"' + "".join(map(_escape_char, text)) + '"'
        parts.append(f"{key}={text}")
    return " ".join(parts)


def _escape_char(char: str) -> str:
    """Escape a backslash, a quote and every unprintable character (CR, LF, ESC, DEL, C1...)."""
    if char in '\\"':
        return "\\" + char
    if char == " " or char.isprintable():
        return char
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


class AccessLogMiddleware:
    """Wrap a WSGI app and log each request when its response is closed."""

    def __init__(
        self, app: WSGIApplication, observe: Callable[[str, str, int | None, float], None]
    ) -> None:
        self.app = app
        self.observe = observe

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Serve the request, then log it when the server closes the response."""
        exchange = _Exchange(environ, self.observe)
        if access_log.isEnabledFor(logging.DEBUG):
            access_log.debug("request started %s", logfmt(exchange.start_fields()))

        def capture(status: str, headers: list[tuple[str, str]], *args: object) -> object:
            exchange.status = int(status.split(" ", 1)[0])
            exchange.length = next(
                (int(v) for k, v in headers if k.lower() == "content-length" and v.isdigit()), None
            )
            return start_response(status, headers, *args)  # type: ignore[arg-type]

        body = self.app(environ, capture)  # type: ignore[arg-type]
        file_wrapper = environ.get("wsgi.file_wrapper")
        if isinstance(file_wrapper, type) and isinstance(body, file_wrapper):
            # Keep the server's file wrapper, so it can still use sendfile(), and log on its close.
            # gunicorn's sets close on the instance: keep that bound method before replacing it.
            exchange.sent = exchange.length or 0
            original = getattr(body, "close", None)
            body.close = lambda: exchange.close(original)  # type: ignore[attr-defined]
            return body
        return _LoggedBody(body, exchange)


@dataclass
class _Exchange:
    """What the access line says about one request, filled in as the response goes out."""

    environ: WSGIEnvironment
    observe: Callable[[str, str, int | None, float], None]
    started: float = field(default_factory=time.perf_counter)
    status: int | None = None
    length: int | None = None
    sent: int = 0

    def start_fields(self) -> dict[str, object]:
        return {
            "method": self.environ.get("REQUEST_METHOD"),
            "path": self.environ.get("PATH_INFO"),
            "length": self.environ.get("CONTENT_LENGTH"),
            "remote": self.environ.get("REMOTE_ADDR"),
        }

    def close(self, close_body: Callable[[], object] | None) -> None:
        """Close the response body, then write the access line (whatever closing raised)."""
        try:
            if close_body is not None:
                close_body()
        finally:
            self.log()

    def log(self) -> None:
        environ = self.environ
        path = environ.get("PATH_INFO", "")
        if environ.get("QUERY_STRING"):
            path += "?" + environ["QUERY_STRING"]
        seconds = time.perf_counter() - self.started
        method = environ.get("REQUEST_METHOD") or ""
        self.observe(environ.get(ROUTE_KEY, UNMATCHED), method, self.status, seconds)
        fields = {
            "method": method,
            "path": path,
            "status": self.status,
            "duration_ms": f"{seconds * 1000:.1f}",
            "user": environ.get(USER_KEY),
            "bytes": self.sent,
            "remote": environ.get("REMOTE_ADDR"),
        }
        failed = self.status is None or self.status >= 500
        access_log.log(logging.WARNING if failed else logging.INFO, logfmt(fields))


class _LoggedBody:
    """The response iterable: counts the bytes sent and logs once the server closes it."""

    def __init__(self, body: Iterable[bytes], exchange: _Exchange) -> None:
        self.body = body
        self.exchange = exchange

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.body:
            self.exchange.sent += len(chunk)
            yield chunk

    def close(self) -> None:
        """Close the wrapped body (as PEP 3333 requires) and log."""
        self.exchange.close(getattr(self.body, "close", None))


def _remember_user(response: Response) -> Response:
    # The API authenticated the request (web/basic_auth.py sets g.identity); the middleware logs
    # later, outside the request context, so it reads the name from the WSGI environ.
    identity: Identity | None = g.get("identity")
    if identity is not None:
        request.environ[USER_KEY] = identity.name
    return response


def _remember_route() -> None:
    # The route pattern (never the path: a client cannot grow the metrics' series), for metrics.
    if request.url_rule is not None:
        request.environ[ROUTE_KEY] = request.url_rule.rule


def install_access_log(app: Flask, observe: Callable[[str, str, int | None, float], None]) -> None:
    """Log every request of ``app`` on the ``pryv.access`` logger, and ``observe`` it."""
    app.before_request(_remember_route)
    app.after_request(_remember_user)
    app.wsgi_app = AccessLogMiddleware(app.wsgi_app, observe)  # type: ignore[method-assign]
