"""The gunicorn worker spreads a burst of connections over the workers (pryv_server/worker.py).

Every worker waits on one listening socket; the one the kernel runs first used to accept a whole
burst. A worker that already holds a connection per thread now stops listening for a moment, so
that another takes the next connection, and accepts it itself only if it is still waiting.
"""

from __future__ import annotations

import selectors
import socket
import time
from collections.abc import Iterator
from unittest import mock

import pytest
from gunicorn.config import Config

from pryv_server.worker import ACCEPT_DEFER_MAX
from pryv_server.worker import PacedThreadWorker


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        sock.setblocking(False)
        yield sock


def worker(listener: socket.socket, workers: int) -> PacedThreadWorker:
    cfg = Config()
    cfg.set("workers", workers)
    cfg.set("threads", 2)
    made = PacedThreadWorker(0, 0, [listener], None, 30, cfg, mock.Mock())
    made.poller = selectors.DefaultSelector()  # as init_process makes it, without the process
    made.set_accept_enabled(True)
    return made


def close(made: PacedThreadWorker, clients: list[socket.socket]) -> None:
    for conn in list(made.heads):
        made._drop(conn)
    made.poller.close()
    made.tmp.close()  # gunicorn's heartbeat file
    for client in clients:
        client.close()


def connect(listener: socket.socket) -> socket.socket:
    client = socket.create_connection(listener.getsockname())
    time.sleep(0.01)  # in the listener's backlog
    return client


def test_a_worker_with_a_connection_per_thread_lets_the_next_wait(
    listener: socket.socket,
) -> None:
    busy = worker(listener, workers=2)
    clients = [connect(listener) for _ in range(3)]
    try:
        busy.accept(listener)
        busy.accept(listener)
        assert busy.nr_conns == 2  # under one per thread: accepted at once
        busy.accept(listener)
        assert busy.nr_conns == 2, "accepted at once although it holds a connection per thread"
        busy.set_accept_enabled(True)  # gunicorn's loop asks on every turn
        assert not busy._accepting, "listens again before the deferral is over"
        time.sleep(ACCEPT_DEFER_MAX)
        busy.set_accept_enabled(True)
        assert busy._accepting
        busy.accept(listener)  # nobody else took it: now this worker does
        assert busy.nr_conns == 3
    finally:
        close(busy, clients)


def test_a_single_worker_never_defers(listener: socket.socket) -> None:
    alone = worker(listener, workers=1)
    clients = [connect(listener) for _ in range(3)]
    try:
        for _ in clients:
            alone.accept(listener)
        assert alone.nr_conns == 3
    finally:
        close(alone, clients)
