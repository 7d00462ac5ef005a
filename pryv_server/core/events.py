"""What core announces when the registry changes: an event name and a small JSON-able mapping.

Core calls an :data:`Events` callable it is given (``Registry(events=...)``) and never knows who
listens: the composition root hands it the webhook sender (:mod:`pryv_server.backends.webhooks`)
when ``[webhooks] urls`` is set. Events: ``upload`` (a new file), ``yank`` and ``unyank``,
``status`` (PEP 792) and ``delete``. A listener must return at once (the sender queues).
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping

Events = Callable[[str, Mapping[str, object]], None]


def no_events(event: str, data: Mapping[str, object]) -> None:
    """Listen to nothing (the default)."""
