"""Webhooks: POST a signed JSON event to each ``[webhooks] urls`` on upload, yank, status, delete.

Core announces what happened through a plain callable (``Registry(events=...)``); this module,
built by the composition root, delivers it:

* **never slows the change down**: an event goes into a bounded in-memory queue (``queue-size``)
  and a background thread sends it; when the queue is full the event is dropped and logged, the
  upload or deletion goes on;
* **signed**: the body is JSON, and ``X-Pryv-Signature-256: sha256=<hex>`` is the HMAC-SHA256 of
  the exact body under ``[webhooks] secret`` (GitHub's scheme), so a receiver checks it with
  ``hmac.compare_digest`` before trusting anything; ``X-Pryv-Event`` names the event and
  ``X-Pryv-Delivery`` is the event's id (the same for every retry of it);
* **retried**: a connection error, a timeout, a ``429`` or a ``5xx`` is retried up to
  ``retries`` times, after 1 s, 2 s, 4 s... (at most a minute); another ``4xx`` is not.

Delivery is at most once per attempt and best effort: events queued in a process that stops are
lost (``pryv delete`` and ``pryv prune`` wait a few seconds for theirs at exit). Each gunicorn
worker sends its own events from its own thread, started on its first event (threads do not
survive the fork).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import queue
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Pryv-Signature-256"
MAX_BACKOFF = 60.0


def sign(secret: str, body: bytes) -> str:
    """Return the signature header's value for ``body``: ``sha256=<hex HMAC>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event, encoded once, to send to every URL."""

    id: str
    event: str
    body: bytes


class WebhookSender:
    """Queue events and deliver them from a background thread (see the module docstring)."""

    def __init__(
        self,
        urls: tuple[str, ...],
        secret: str,
        *,
        queue_size: int = 1000,
        retries: int = 5,
        timeout: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.urls, self.secret = urls, secret
        self.retries, self.timeout, self._sleep = retries, timeout, sleep
        self._queue: queue.Queue[Delivery] = queue.Queue(maxsize=queue_size)
        self._thread: threading.Thread | None = None
        self._owner = -1  # the process whose thread is running
        self._lock = threading.Lock()

    def __call__(self, event: str, data: Mapping[str, object]) -> None:
        """Queue ``event`` (never blocks; a full queue drops it with a warning)."""
        delivery_id = str(uuid.uuid4())
        document = {
            "id": delivery_id,
            "event": event,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "data": dict(data),
        }
        body = json.dumps(document, sort_keys=True).encode()
        try:
            self._queue.put_nowait(Delivery(delivery_id, event, body))
        except queue.Full:
            log.warning("webhook queue full: dropped the %s event %s", event, delivery_id)
            return
        self._ensure_thread()

    def drain(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the queue to empty; say whether it did."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.05)
        return self._queue.unfinished_tasks == 0

    def _ensure_thread(self) -> None:
        if self._owner == os.getpid() and self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._owner != os.getpid() or self._thread is None or not self._thread.is_alive():
                self._owner = os.getpid()
                self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            delivery = self._queue.get()
            try:
                for url in self.urls:
                    self._deliver(url, delivery)
            except Exception:  # never let one event stop the thread
                log.exception("webhook %s failed", delivery.id)
            finally:
                self._queue.task_done()

    def _deliver(self, url: str, delivery: Delivery) -> None:
        """Send one event to one URL, retrying with exponential backoff."""
        for attempt in range(self.retries + 1):
            if attempt:
                self._sleep(min(2.0 ** (attempt - 1), MAX_BACKOFF))
            outcome = self._attempt(url, delivery)
            if outcome is None:
                return
            if not outcome.startswith("retry"):
                break
        log.warning(
            "webhook %s %s to %s not delivered: %s", delivery.event, delivery.id, url, outcome
        )

    def _attempt(self, url: str, delivery: Delivery) -> str | None:
        """POST once; return None when delivered, else why (``retry: ...`` when worth retrying)."""
        request = urllib.request.Request(
            url,
            data=delivery.body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "pryv-webhooks",
                "X-Pryv-Event": delivery.event,
                "X-Pryv-Delivery": delivery.id,
                SIGNATURE_HEADER: sign(self.secret, delivery.body),
            },
        )
        try:
            # Only the operator's configured http(s) URLs are opened (checked at start).
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # nosec B310
                response.read()
            return None
        except urllib.error.HTTPError as error:
            error.close()
            retry = error.code == 429 or error.code >= 500
            return f"{'retry: ' if retry else ''}HTTP {error.code}"
        except (urllib.error.URLError, OSError) as error:
            return f"retry: {error}"
