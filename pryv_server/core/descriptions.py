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
import select
import subprocess  # nosec B404 - the only child is this module, run by this interpreter
import sys
import threading
from dataclasses import dataclass
from email.message import Message

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
        value = json.loads(data)
        html, notice = value["html"], value["notice"]
        if not (html is None or isinstance(html, str)) or not isinstance(notice, str):
            raise TypeError("malformed stored description")
        return cls(html, notice)


def storage_key(text: str, content_type: str) -> str:
    """Return the key of a description's rendering: the hash of what it is rendered from."""
    digest = hashlib.sha256(
        f"{RENDERER_VERSION}\0{content_type}\0{text}".encode("utf-8", "surrogatepass")
    ).hexdigest()
    return layout.description_key(digest)


def rendered(store: Storage, text: str, content_type: str) -> Description:
    """Return the stored rendering of a description, rendering and storing it if needed."""
    if not text.strip():
        return Description("")
    key = storage_key(text, content_type)
    damaged = False
    try:
        return Description.from_json(store.read(key))
    except ObjectNotFound:
        pass
    except (ValueError, KeyError, TypeError):
        log.warning("stored description %s is malformed; rendering it again", key)
        damaged = True
    description = render(text, content_type)
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
    request = json.dumps({"text": text, "type": content_type, "cpu": CPU_SECONDS}).encode()
    answer = _RENDERER.ask(request)
    if answer is None:
        log.warning("a description took too long to render; showing it as plain text")
        return _plain("it took too long")
    try:
        return Description.from_json(answer)
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

    def ask(self, request: bytes) -> bytes | None:
        """Send one request line; return the answer line, or None when the child failed."""
        with self._lock:
            if self._child is None or self._child.poll() is not None:
                # bandit B603: a fixed argument list (this interpreter, this module), no shell.
                self._child = subprocess.Popen(  # nosec B603
                    [sys.executable, "-m", __name__],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                )
                atexit.register(self.close)
            stdin, stdout = self._child.stdin, self._child.stdout
            try:
                if stdin is None or stdout is None:  # pragma: no cover - both are PIPEs
                    raise OSError("the renderer has no pipes")
                stdin.write(request + b"\n")
                stdin.flush()
                ready, _, _ = select.select([stdout], [], [], WALL_SECONDS)
                answer = stdout.readline() if ready else b""
            except OSError:
                answer = b""
            if answer.endswith(b"\n"):
                return answer
            self._stop()
            return None

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
        sys.stdout.buffer.write(result.to_json() + b"\n")
        sys.stdout.buffer.flush()


if __name__ == "__main__":
    _serve()
