"""A gunicorn worker whose threads never wait for a slow client's headers or a crawling body.

gunicorn's gthread worker hands a connection to a thread as soon as its first byte arrives, and
the thread then reads the request line and headers with no deadline: 64 connections sending one
header byte every 10 seconds held all 16 threads of ``pryv start`` and left every other client
unanswered. This worker reads the headers in the worker's event loop instead, next to gunicorn's
keep-alive handling: a connection costs no thread until its whole header block has arrived, and
is answered ``408`` and closed when that takes longer than ``HEADER_TIMEOUT``. Once a thread has
the request, reading the rest (the body) must keep pace: a client that sends nothing for
``BODY_IDLE_TIMEOUT`` seconds, or on average less than ``BODY_MIN_RATE`` after the first
``BODY_GRACE`` seconds, gets a ``408`` (see :class:`RequestTooSlow`), and the thread is free again.

It also spreads connections over the workers. Every worker waits on the one listening socket,
and the one the kernel runs first used to accept a whole burst: in rounds of ``wrk -c32``, one
worker took all 32 connections (1,722 req/s against about 4,000 when spread) or 27 to 30 of them
(down to 3,200 req/s). A worker that holds a thread's worth of connections (idle kept-alive
ones aside) more than another worker (:mod:`pryv_server.worker_loads`) now lets the listener wait
2 ms before it accepts, so the other takes the connection; then it takes whatever still waits at
once. Workers about equally loaded never wait, so traffic that opens a connection per request (a
proxy without keep-alive) is not slowed.

pryv does not serve TLS or HTTP/2 itself (a reverse proxy does), so this worker is for HTTP/1.x.
"""

from __future__ import annotations

import errno
import selectors
import socket
import time
from collections import deque
from functools import partial
from typing import Any

from gunicorn.http.errors import NoMoreData
from gunicorn.workers.gthread import TConn
from gunicorn.workers.gthread import ThreadWorker

from pryv_server import worker_loads

HEADER_TIMEOUT = 10.0  # seconds from a request's first byte (or its connection) to its last header
BODY_IDLE_TIMEOUT = 30.0  # seconds a request may send nothing once a thread reads it
BODY_GRACE = 10.0  # seconds before the average rate counts
BODY_MIN_RATE = 8 * 1024  # bytes per second, averaged over the whole request
# Far above what a real client sends (pip, uv and twine send well under 1 KiB of headers), and
# far below what gunicorn's own limits would let through (100 fields of 8 KiB).
MAX_HEAD = 64 * 1024
_HEAD_ENDS = (b"\r\n\r\n", b"\n\n")
# Seconds a worker that holds a thread's worth of connections more than another waits before it
# accepts (so that the other takes the connection); then it accepts freely for ACCEPT_DRAIN
# seconds, so a backlog the other did not take is taken at once, not one connection per wait.
ACCEPT_DEFER = 0.002
ACCEPT_DRAIN = 0.001


def _answer(status: str, reason: str) -> bytes:
    body = f"{reason}\n".encode()
    return (
        f"HTTP/1.1 {status}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


_TOO_SLOW = _answer(
    "408 Request Timeout", f"the request headers did not arrive within {HEADER_TIMEOUT:.0f} seconds"
)
_TOO_BIG = _answer("431 Request Header Fields Too Large", "the request headers are too large")


class RequestTooSlow(NoMoreData):  # type: ignore[misc]
    """The client sent its request slower than the server accepts.

    A ``NoMoreData`` to gunicorn, so it closes the connection quietly outside the app; inside the
    app, :class:`pryv_server.server.ClientBodyErrors` turns it into a ``408``.
    """

    def __str__(self) -> str:
        return (
            f"the request body arrived too slowly (nothing for {BODY_IDLE_TIMEOUT:.0f} s, or "
            f"under {BODY_MIN_RATE // 1024} KiB/s after {BODY_GRACE:.0f} s)"
        )


class PacedReader:
    """The request socket as gunicorn's parser reads it, with a deadline on every read."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.restart()

    def restart(self) -> None:
        """Start timing a new request."""
        self._started = self._last = time.monotonic()
        self._received = 0

    def recv(self, size: int) -> bytes:
        """Read up to ``size`` bytes, or raise :class:`RequestTooSlow` past the deadline."""
        deadline = min(
            self._last + BODY_IDLE_TIMEOUT,
            self._started + BODY_GRACE + self._received / BODY_MIN_RATE,
        )
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise RequestTooSlow()
        previous = self._sock.gettimeout()
        self._sock.settimeout(remaining)
        try:
            data = self._sock.recv(size)
        except TimeoutError:
            raise RequestTooSlow() from None
        finally:
            self._sock.settimeout(previous)
        self._received += len(data)
        self._last = time.monotonic()
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class PacedThreadWorker(ThreadWorker):  # type: ignore[misc]
    """gunicorn's gthread worker, with headers read in the event loop and paced body reads."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Connections whose headers are arriving, oldest deadline first.
        self.heads: deque[TConn] = deque()
        # While deferring: when this worker listens again, and until when it then accepts freely.
        self.accept_paused_until = 0.0
        self.accept_free_until = 0.0

    def accept(self, listener: socket.socket) -> None:
        """Accept a connection and read its headers without a thread (see the module's notes)."""
        now = time.monotonic()
        if now >= self.accept_free_until:
            defer = self._accept_defer(now)
            if defer > 0:
                self.accept_paused_until = now + defer
                self.accept_free_until = self.accept_paused_until + ACCEPT_DRAIN
                self.set_accept_enabled(False)
                return
        try:
            client, address = listener.accept()
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        self._read_head(TConn(self.cfg, client, address, listener.getsockname()))

    def _load(self) -> int:
        # Idle kept-alive connections hold no thread: only the others count.
        return int(self.nr_conns - len(self.keepalived_conns))

    def _accept_defer(self, now: float) -> float:
        load = self._load()
        worker_loads.SHARED.publish(self.age, load, now)
        threads: int = self.cfg.threads
        if load < threads:
            return 0.0
        least = worker_loads.SHARED.least_other(self.age, now)
        return ACCEPT_DEFER if least is not None and load > least + threads else 0.0

    def set_accept_enabled(self, enabled: bool) -> None:
        """Listen again only once a deferral is over (gunicorn's loop asks every turn)."""
        if enabled and time.monotonic() < self.accept_paused_until:
            return
        super().set_accept_enabled(enabled)

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        """Tell the other workers this one's load; wake up when a deferral ends, to listen again."""
        now = time.monotonic()
        worker_loads.SHARED.publish(self.age, self._load(), now)
        paused = self.accept_paused_until - now
        if paused > 0:
            timeout = min(timeout, paused)
        super().wait_for_and_dispatch_events(timeout)

    def on_client_socket_readable(self, conn: TConn, client: socket.socket) -> None:
        """Read a kept-alive connection's next request headers without a thread."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._read_head(conn)

    def _read_head(self, conn: TConn) -> None:
        """Read what has arrived at once; wait in the event loop only for headers not all there.

        A kept-alive connection is readable when this is called, and a small request's headers
        come in one segment: reading them here spares the poller a registration, a turn and an
        unregistration per request (wrk -c32 on a cached page under ``pryv start``: 4,330-4,610
        before, 4,490-4,710 requests/s after).
        """
        conn.sock.setblocking(False)
        conn.pryv_head = bytearray()
        conn.timeout = time.monotonic() + HEADER_TIMEOUT
        if self._receive_head(conn, watched=False):
            self.heads.append(conn)
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_head, conn))

    def _on_head(self, conn: TConn, client: socket.socket) -> None:
        self._receive_head(conn, watched=True)

    def _receive_head(self, conn: TConn, watched: bool) -> bool:
        """Read the bytes waiting; say whether the headers are still to come.

        Otherwise the connection has gone to a thread or been closed, and, when ``watched`` (in
        the poller), the poller no longer watches it.
        """
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:
            data = b""
        if not data:
            self._close(conn, watched)
            return False
        head: bytearray = conn.pryv_head
        start = max(len(head) - 3, 0)  # only the new bytes can complete the end of the headers
        head += data
        if any(head.find(end, start) >= 0 for end in _HEAD_ENDS):
            if watched:
                self._stop_reading(conn)
            conn.data_ready = True  # gunicorn's thread must not wait for data again
            self.enqueue_req(conn)
            return False
        if len(head) > MAX_HEAD:
            self._close(conn, watched, _TOO_BIG)
            return False
        return True

    def handle(self, conn: TConn) -> Any:
        """Serve one request in a thread: hand the parser the headers already read."""
        head = bytes(getattr(conn, "pryv_head", b""))
        conn.pryv_head = bytearray()
        conn.sock.setblocking(True)
        conn.init()
        unreader = conn.parser.unreader
        if not isinstance(unreader.sock, PacedReader):
            unreader.sock = PacedReader(unreader.sock)
        unreader.sock.restart()
        if head:
            unreader.unread(head)
        return super().handle(conn)

    def murder_pending(self) -> None:
        """Close connections whose headers are late, and idle ones once the worker stops."""
        super().murder_pending()
        now = time.monotonic()
        while self.heads and self.heads[0].timeout <= now:
            self._close(self.heads[0], True, _TOO_SLOW)
        if not self.alive:
            for conn in [conn for conn in self.heads if not conn.pryv_head]:
                self._close(conn, True)

    def _stop_reading(self, conn: TConn) -> None:
        self.heads.remove(conn)
        try:
            self.poller.unregister(conn.sock)
        except (OSError, KeyError, ValueError):
            pass  # already gone

    def _close(self, conn: TConn, watched: bool, answer: bytes = b"") -> None:
        if watched:
            self._stop_reading(conn)
        self.nr_conns -= 1
        if answer:
            try:
                conn.sock.send(answer)  # best effort: the socket buffer takes it or nothing
            except OSError:
                pass
        conn.close()
