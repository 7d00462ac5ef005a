"""The HTTP side of the caching proxy: talk to an upstream simple index (PEP 691).

Infrastructure, beside ``storage`` and ``auth``: it knows URLs, HTTP and the PEP 691 document,
nothing of pryv's projects or storage. ``core/upstream.py`` declares what it must offer.
"""

from __future__ import annotations

from pryv_server.upstream.client import HttpIndex

__all__ = ["HttpIndex"]
