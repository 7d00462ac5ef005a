"""The gunicorn worker spreads a burst of connections over the workers (pryv_server/worker.py).

Every worker waits on one listening socket; the one the kernel runs first used to accept a whole
burst. A worker that holds a thread's worth of connections more than another now stops listening
for a moment, so that the other takes the next connection, and then takes whatever still waits.
It reads a request's headers in its event loop, at once when they are already there.
"""

from __future__ import annotations

import selectors
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from types import SimpleNamespace
from unittest import mock

import pytest
from gunicorn.config import Config
from gunicorn.workers.gthread import TConn

from pryv_server import worker as worker_module
from pryv_server import worker_loads
from pryv_server.worker import PacedThreadWorker
from pryv_server.worker_loads import LIVE
from pryv_server.worker_loads import WorkerLoads
from tests.stores import Clock

THREADS = 2
OTHER = 7  # the slot (age) of another worker of the same server


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The worker's ``time`` module, with a clock the test moves."""
    made = Clock()
    monkeypatch.setattr(worker_module, "time", SimpleNamespace(monotonic=made))
    return made


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> WorkerLoads:
    table = WorkerLoads()
    monkeypatch.setattr(worker_loads, "SHARED", table)
    return table


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        sock.setblocking(False)
        yield sock


@pytest.fixture
def clients(listener: socket.socket) -> Iterator[list[socket.socket]]:
    """Five connections waiting in the listener's backlog."""
    made = [socket.create_connection(listener.getsockname()) for _ in range(5)]
    time.sleep(0.05)
    yield made
    for client in made:
        client.close()


@pytest.fixture
def busy(listener: socket.socket) -> Iterator[PacedThreadWorker]:
    cfg = Config()
    cfg.set("workers", 2)
    cfg.set("threads", THREADS)
    made = PacedThreadWorker(1, 0, [listener], None, 30, cfg, mock.Mock())
    made.poller = selectors.DefaultSelector()  # as init_process makes it, without the process
    made.set_accept_enabled(True)
    yield made
    made.keepalived_conns.clear()
    for conn in list(made.heads):
        made._close(conn, watched=True)
    made.poller.close()
    made.tmp.close()  # gunicorn's heartbeat file


def accept(worker: PacedThreadWorker, listener: socket.socket, times: int) -> int:
    for _ in range(times):
        worker.accept(listener)
    return int(worker.nr_conns)


@pytest.mark.usefixtures("clients")
def test_a_worker_far_ahead_of_another_lets_the_next_connection_wait(
    busy: PacedThreadWorker, listener: socket.socket, clock: Clock, loads: WorkerLoads
) -> None:
    loads.publish(OTHER, 0, clock.now)
    assert accept(busy, listener, THREADS + 1) == THREADS + 1  # a thread's worth more: at once
    assert accept(busy, listener, 1) == THREADS + 1, "accepted although another worker holds none"
    busy.set_accept_enabled(True)  # gunicorn's loop asks on every turn
    assert not busy._accepting, "listens again before the wait is over"
    clock.now = busy.accept_paused_until
    loads.publish(OTHER, 0, clock.now)
    busy.set_accept_enabled(True)
    assert busy._accepting
    assert accept(busy, listener, 1) == THREADS + 2, "the other did not take it: this one does"


@pytest.mark.usefixtures("clients")
def test_workers_about_equally_loaded_accept_at_once(
    busy: PacedThreadWorker, listener: socket.socket, clock: Clock, loads: WorkerLoads
) -> None:
    """A connection per request (a proxy without keep-alive) must not wait at every accept."""
    loads.publish(OTHER, THREADS * 2, clock.now)
    assert accept(busy, listener, 5) == 5


@pytest.mark.usefixtures("clients")
def test_a_worker_that_stopped_writing_its_load_is_not_waited_for(
    busy: PacedThreadWorker, listener: socket.socket, clock: Clock, loads: WorkerLoads
) -> None:
    loads.publish(OTHER, 0, clock.now - LIVE)
    assert accept(busy, listener, 5) == 5


@pytest.mark.usefixtures("clients")
def test_idle_kept_alive_connections_do_not_count(
    busy: PacedThreadWorker, listener: socket.socket, clock: Clock, loads: WorkerLoads
) -> None:
    loads.publish(OTHER, 0, clock.now)
    accept(busy, listener, THREADS + 1)
    busy.keepalived_conns.extend(busy.heads)  # as if every one had been answered
    assert accept(busy, listener, 1) == THREADS + 2


REQUEST = b"GET /simple/ HTTP/1.1\r\nHost: pryv\r\n\r\n"


@pytest.fixture
def handed(busy: PacedThreadWorker, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[TConn]]:
    """The connections the worker hands to its threads (none run: the test looks at them)."""
    made: list[TConn] = []
    monkeypatch.setattr(busy, "enqueue_req", made.append)
    yield made
    for conn in made:
        conn.close()


def watched(worker: PacedThreadWorker) -> int:
    """How many client sockets the worker's poller watches (its listener aside)."""
    return sum(1 for key in worker.poller.get_map().values() if key.data != worker.accept)


def nothing_waits(worker: PacedThreadWorker) -> bool:
    """Say whether the worker has no headers to wait for and watches no client socket."""
    return not worker.heads and watched(worker) == 0


@contextmanager
def sending(listener: socket.socket, data: bytes) -> Iterator[socket.socket]:
    """A connection to ``listener`` whose ``data`` has had the time to arrive."""
    with socket.create_connection(listener.getsockname()) as client:
        client.sendall(data)
        time.sleep(0.05)
        yield client


@pytest.mark.usefixtures("loads")
def test_headers_already_there_go_to_a_thread_without_the_poller(
    busy: PacedThreadWorker, listener: socket.socket, handed: list[TConn]
) -> None:
    with sending(listener, REQUEST):
        busy.accept(listener)
        assert len(handed) == 1, "a whole request waited for another turn of the event loop"
        assert nothing_waits(busy)


@pytest.mark.usefixtures("loads")
def test_headers_still_arriving_wait_in_the_poller_then_go_to_a_thread(
    busy: PacedThreadWorker, listener: socket.socket, handed: list[TConn]
) -> None:
    with sending(listener, REQUEST[:20]) as client:
        busy.accept(listener)
        assert not handed
        assert len(busy.heads) == 1
        assert watched(busy) == 1
        client.sendall(REQUEST[20:])
        busy.wait_for_and_dispatch_events(timeout=1.0)
        assert len(handed) == 1
        assert nothing_waits(busy)


@pytest.mark.usefixtures("loads")
def test_a_kept_alive_connection_with_its_next_request_goes_to_a_thread_at_once(
    busy: PacedThreadWorker, listener: socket.socket, handed: list[TConn]
) -> None:
    with sending(listener, REQUEST) as client:
        busy.accept(listener)
        conn = handed[0]
        busy.keepalived_conns.append(conn)  # answered, and kept alive as gunicorn does it
        readable = partial(busy.on_client_socket_readable, conn)
        busy.poller.register(conn.sock, selectors.EVENT_READ, readable)
        client.sendall(REQUEST)
        busy.wait_for_and_dispatch_events(timeout=1.0)
        assert handed == [conn, conn], "the next request waited for another turn"
        assert nothing_waits(busy)
