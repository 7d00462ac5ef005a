"""moto's S3 server on a loopback port, applying its writes one at a time as S3 does.

S3 applies a conditional write (``If-Match``, ``If-None-Match: *``) atomically. moto's threaded
server checks the condition, then writes, with no lock between, so two conditional PUTs of one
object can both win: the storage contract's read-change-replace test lost an update in a CI run,
and with the interpreter's switch interval at 1 µs 16 writers lost 2 of 160 updates (0 with the
server's writes serialized). pryv's create-if-absent claims (filenames, checkpoints, journal
entries) rely on that atomicity, so the bench and the tests both run this server. Nothing of pryv
or boto3 is patched.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest.mock import patch

_WRITES = ("put_object", "delete_object")


@contextmanager
def moto_s3() -> Iterator[str]:
    """Run the server while the block runs; yield its endpoint URL."""
    from moto.s3.responses import S3Response
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    writes = threading.Lock()
    atomic = {name: _one_at_a_time(getattr(S3Response, name), writes) for name in _WRITES}
    with patch.multiple(S3Response, **atomic):
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            yield f"http://{host}:{port}"
        finally:
            server.stop()


def _one_at_a_time(method: Callable[..., Any], lock: threading.Lock) -> Callable[..., Any]:
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return method(*args, **kwargs)

    return locked
