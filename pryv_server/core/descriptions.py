"""Render a release's long description to safe HTML once, within a size and time budget.

readme-renderer (the library PyPI uses) is slow on big inputs and can fail on hostile ones: a
3 MB reStructuredText description took 70 s to render, 9.5 MB over 300 s, and deeply nested
lists overflow docutils' recursion (a ``RecursionError``). So a description is rendered once, when
its file is uploaded (or on the first view of a file uploaded before pryv did this), in a separate
Python process that gives up after ``CPU_SECONDS`` of CPU and is killed past ``WALL_SECONDS`` of
wall time, and only when it is at most ``MAX_RENDER_BYTES`` long. The result is stored in the
package store (one object per description, content-addressed, written create-if-absent) and
served from there.

Whatever does not render (too big, too slow, invalid reStructuredText, a crash) is shown as the
text itself, preformatted, with a one-line notice saying why: never an error page.
"""

from __future__ import annotations

import atexit
import hashlib
import io
import json
import logging
import os
import select
import subprocess  # nosec B404 - the only child is this module, run by this interpreter
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from typing import Any

from pryv_server.core import layout
from pryv_server.errors import ObjectExists
from pryv_server.errors import ObjectNotFound
from pryv_server.storage import Storage

log = logging.getLogger(__name__)

MAX_RENDER_BYTES = 512 * 1024
CPU_SECONDS = 10
WALL_SECONDS = 30
MAX_MEMORY = 1024 * 1024 * 1024  # address space of the rendering process
MARKDOWN_VARIANTS = {"gfm": "GFM", "commonmark": "CommonMark"}
# Bump when the rendering changes, so stored results are made again with the new code.
RENDERER_VERSION = "1"


@dataclass(frozen=True, slots=True)
class Description:
    """A rendered description: sanitized HTML, or None and the reason to show the text as is."""

    html: str | None
    notice: str = ""

    def to_json(self) -> bytes:
        """Encode for storage."""
        return json.dumps({"html": self.html, "notice": self.notice}).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> Description:
        """Decode a stored result; raises ValueError/KeyError/TypeError on a malformed one."""
        return cls.from_value(json.loads(data))

    @classmethod
    def from_value(cls, value: Any) -> Description:
        """Build from a decoded JSON object; raises KeyError/TypeError on a malformed one."""
        html, notice = value["html"], value["notice"]
        if not (html is None or isinstance(html, str)) or not isinstance(notice, str):
            raise TypeError("malformed stored description")
        return cls(html, notice)


def storage_key(text_sha256: str, content_type: str) -> str:
    """Return the key of a description's rendering: the hash of what it is rendered from.

    Named by the text's digest, which the catalog keeps in place of the text (``pryv gc``
    keeps the renderings of every listed file from it). Renderings stored before were named by
    the text itself: they are rendered again when first shown, and collected as orphans.
    """
    digest = hashlib.sha256(f"{RENDERER_VERSION}\0{content_type}\0{text_sha256}".encode())
    return layout.description_key(digest.hexdigest())


def stored(
    store: Storage, text_sha256: str, content_type: str, text: Callable[[], str]
) -> Description:
    """Return the rendering stored under the text's digest; only a miss asks for ``text()``.

    The catalog keeps the digest, not the text, so a page shows a stored rendering without reading
    the file's record (one read fewer, a GET on S3); ``""`` is the digest of no description.
    """
    if not text_sha256:
        return Description("")
    key = storage_key(text_sha256, content_type)
    damaged = False
    try:
        return Description.from_json(store.read(key))
    except ObjectNotFound:
        pass
    except (ValueError, KeyError, TypeError):
        log.warning("stored description %s is malformed; rendering it again", key)
        damaged = True
    body = text()
    if not body.strip():
        return Description("")  # the record is gone, or damaged
    description = render(body, content_type)
    try:
        # A rendering is a cache of its text: a crash may lose it (it is made again), so it
        # spares the two fsyncs of a durable write, about a sixth of an upload's.
        store.write(key, io.BytesIO(description.to_json()), overwrite=damaged, durable=False)
    except ObjectExists:
        pass  # another process rendered the same description first
    return description


def render(text: str, content_type: str) -> Description:
    """Render within the budget, in the renderer process (which is replaced if it overruns)."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_RENDER_BYTES:
        return _plain(f"it is {size:,} bytes long, over the {MAX_RENDER_BYTES:,} rendered")
    answer = _RENDERER.ask({"text": text, "type": content_type, "cpu": CPU_SECONDS})
    if answer is None:
        log.warning("a description took too long to render; showing it as plain text")
        return _plain("it took too long")
    try:
        return Description.from_value(answer)
    except (ValueError, KeyError, TypeError):
        log.exception("the description renderer answered nonsense")
        return _plain("the renderer failed")


class _Renderer:
    """A long-lived child process that renders one description at a time.

    Starting a Python process per upload (about 0.3 s, importing readme-renderer) would slow
    every upload; one child per server process is started on first use and replaced when it
    overruns ``WALL_SECONDS``, dies, or answers nonsense. The child stops itself after
    ``CPU_SECONDS`` of CPU on one description (see :func:`_serve`).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._child: subprocess.Popen[bytes] | None = None
        self._asked = 0  # the number of the last request: the child echoes it in its answer
        self._unread = b""  # bytes read from the child past the last answer line

    def ask(self, request: dict[str, object]) -> dict[str, Any] | None:
        """Send one request; return its decoded answer, or None when the child failed.

        Each answer carries its request's number, and answers to other numbers are skipped:
        a line left unread by an earlier request (however that came about) would otherwise be
        taken for this one's, and every later description shown one upload late.
        """
        with self._lock:
            if self._child is None or self._child.poll() is not None:
                # bandit B603: a fixed argument list (this interpreter, this module), no shell.
                self._child = subprocess.Popen(  # nosec B603
                    [sys.executable, "-m", __name__],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                )
                self._unread = b""
                atexit.register(self.close)
            self._asked += 1
            number = self._asked
            deadline = time.monotonic() + WALL_SECONDS
            try:
                self._send(json.dumps({**request, "id": number}).encode())
                while (line := self._line(deadline)) is not None:
                    answer = _decoded(line)
                    if answer is not None and answer.get("id") == number:
                        return answer
                    log.warning("skipped an answer of the description renderer to another request")
            except OSError:
                pass
            self._stop()
            return None

    def _send(self, line: bytes) -> None:
        stdin = self._child.stdin if self._child is not None else None
        if stdin is None:  # pragma: no cover - a PIPE
            raise OSError("the renderer has no input pipe")
        stdin.write(line + b"\n")
        stdin.flush()

    def _line(self, deadline: float) -> bytes | None:
        """Return the child's next line by ``deadline``, or None (silence, or it died)."""
        stdout = self._child.stdout if self._child is not None else None
        if stdout is None:  # pragma: no cover - a PIPE
            return None
        while b"\n" not in self._unread:
            ready, _, _ = select.select([stdout], [], [], max(deadline - time.monotonic(), 0))
            chunk = os.read(stdout.fileno(), 1 << 16) if ready else b""
            if not chunk:
                return None
            self._unread += chunk
        line, _, self._unread = self._unread.partition(b"\n")
        return line + b"\n"

    def close(self) -> None:
        """Stop the child, if it runs (it would stop by itself once this process is gone)."""
        with self._lock:
            self._stop()

    def _stop(self) -> None:
        if self._child is not None:
            self._child.kill()
            self._child.wait()
            for pipe in (self._child.stdin, self._child.stdout):
                if pipe is not None:
                    pipe.close()
            atexit.unregister(self.close)
            self._child = None


# One renderer per server process, started on first use (a gunicorn worker, never the master).
_RENDERER = _Renderer()


def render_here(text: str, content_type: str) -> Description:
    """Render in this process, without a time budget (the child process of :func:`render`)."""
    kind, params = _content_type(content_type)
    try:
        if kind == "text/markdown":
            import readme_renderer.markdown

            variant = MARKDOWN_VARIANTS.get(params.get("variant", "gfm").lower(), "GFM")
            return Description(readme_renderer.markdown.render(text, variant=variant) or "")
        if kind == "text/x-rst":
            import readme_renderer.rst

            html = readme_renderer.rst.render(text)
            if html is None:
                return _plain("it is not valid reStructuredText")
            return Description(html)
    except RecursionError:
        return _plain("it is nested too deeply")
    except Exception:
        log.exception("rendering a description failed")
        return _plain("the renderer failed")
    return Description(None)  # text/plain or anything else: the text itself, no notice


def _plain(reason: str) -> Description:
    return Description(None, f"This description did not render ({reason}); shown as plain text.")


def _content_type(value: str) -> tuple[str, dict[str, str]]:
    """Split ``text/markdown; charset=UTF-8; variant=GFM`` into its type and parameters."""
    message = Message()
    message["Content-Type"] = value or "text/x-rst"
    params = {key.lower(): str(val) for key, val in (message.get_params() or [])[1:]}
    return message.get_content_type(), params


class _OutOfTime(BaseException):
    """Raised in the renderer process when a description used up its CPU budget.

    A BaseException, so that no ``except Exception`` inside docutils can swallow it.
    """


def _out_of_time(signum: int, frame: object) -> None:
    raise _OutOfTime()


def _decoded(line: bytes) -> dict[str, Any] | None:
    """Return an answer line's JSON object (None if it is not one): decoded once, here."""
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _serve() -> None:
    """Render descriptions read as JSON lines on stdin; write each result as a JSON line."""
    import resource
    import signal

    resource.setrlimit(resource.RLIMIT_AS, (MAX_MEMORY, MAX_MEMORY))
    signal.signal(signal.SIGVTALRM, _out_of_time)
    for line in sys.stdin.buffer:
        request = json.loads(line)
        signal.setitimer(signal.ITIMER_VIRTUAL, request["cpu"])
        try:
            result = render_here(request["text"], request["type"])
        except _OutOfTime:
            result = _plain("it took too long")
        finally:
            signal.setitimer(signal.ITIMER_VIRTUAL, 0)
        answer = {"html": result.html, "notice": result.notice, "id": request.get("id")}
        sys.stdout.buffer.write(json.dumps(answer).encode("utf-8") + b"\n")
        sys.stdout.buffer.flush()


if __name__ == "__main__":
    _serve()
