"""The one cache of rendered pages (simple pages, PyPI JSON documents), shared by every reader.

Core's snapshot holds records and assembled projects, never bytes: what a page looks like is the
web layer's business, and so is keeping it. A page is kept under a :class:`PageKey` and the
*state* of what it was rendered from, and answered again for as long as that state holds:

* a project's pages were rendered from its files (and its PEP 792 status), so they stay valid
  while the snapshot's tuple of that project's files (and its status) is the same (an upload or
  a yank elsewhere leaves it alone: only the changed project renders its pages again, however
  many snapshots come and go);
* the ``/simple/`` index lists every project, so it stays valid for one snapshot generation.

A key names the page, not only the project: its ``form`` (which document, in which format, for
which host), the ``reader``'s visibility class (who may see what it lists; the same for everyone
today, so ``/simple/`` is cached once per class of readers, never per user) and its ``source``
(local records today; a page merged with an upstream index's page would name that page's
version there). A later rule is one more value of these components, not a new cache.

Memory is bounded: at most :data:`MAX_PER_PROJECT` pages per project and :data:`MAX_INDEX` index
pages (keys a client influences, such as the ``Host`` header of PyPI JSON documents, cannot grow
it), and shelves of projects that left the registry are swept. Reads take no lock; stores do.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from collections.abc import Hashable
from dataclasses import dataclass
from typing import NamedTuple

from packaging.utils import NormalizedName

from pryv_server.core.catalog import Snapshot

# Pages per project: the simple page's two bodies (HTML, JSON) and PyPI JSON documents.
MAX_PER_PROJECT = 8
# Pages of the ``/simple/`` index: forms times visibility classes.
MAX_INDEX = 4096
# Shelves kept beyond one per project of the snapshot before the stale ones are swept.
SLACK = 1024
# The visibility class of every reader today: every authenticated user may read every project.
EVERYONE = "everyone"
# Where a page's content comes from: this registry's records alone.
LOCAL = "local"


@dataclass(frozen=True, slots=True)
class Page:
    """A rendered page and the serial it shows (sent as ``X-PyPI-Last-Serial``).

    Kept together so that the fast path in front of Flask sends the same header as the view.
    """

    body: bytes
    serial: int


class PageKey(NamedTuple):
    """Name one rendered page (a tuple: hashing it costs no Python call on the fast path)."""

    project: NormalizedName | None  # None: the ``/simple/`` index
    form: Hashable  # which document: ("simple", "json"), ("pypi-json", version, host)...
    reader: Hashable = EVERYONE  # the visibility class of the readers it is rendered for
    source: Hashable = LOCAL  # what it merges: local records (later: an upstream page)


class _Shelf:
    """The pages of one project (or of the index), valid while ``state`` holds."""

    __slots__ = ("pages", "state")

    def __init__(self, state: object) -> None:
        self.state = state
        self.pages: dict[PageKey, Page] = {}


def state_of(snapshot: Snapshot, project: NormalizedName | None) -> object:
    """Return what ``project``'s pages (None: the index) were rendered from in ``snapshot``.

    A project's tuple of files is kept as it is by every snapshot in which the project did not
    change, so comparing it is an identity check in the common case. A project with a PEP 792
    status record is rendered from its status too (its pages carry it).
    """
    if project is None:
        return snapshot.generation
    state = snapshot.by_project.get(project)
    if state is not None and project in snapshot.statuses:
        return (state, snapshot.statuses[project])
    return state


class Pages:
    """Keep rendered pages across snapshots, each for as long as what it shows is unchanged."""

    def __init__(self) -> None:
        self._shelves: dict[NormalizedName | None, _Shelf] = {}
        self._lock = threading.Lock()
        # Told of each lookup through page(): True for a page answered from the cache (metrics).
        self.on_lookup: Callable[[bool], None] | None = None

    def cached(self, snapshot: Snapshot, key: PageKey) -> Page | None:
        """Return the page rendered for ``key`` from ``snapshot``'s state, or None; no lock.

        The fast path in front of Flask calls this on every repeat request: :func:`state_of`
        and the identity check are inlined.
        """
        project = key.project
        shelf = self._shelves.get(project)
        if shelf is None:
            return None
        state: object
        if project is None:
            state = snapshot.generation
        else:
            state = snapshot.by_project.get(project)
            if project in snapshot.statuses:  # as state_of does, inlined
                state = (state, snapshot.statuses[project])
        if shelf.state is not state and not _current(shelf, state):
            return None
        return shelf.pages.get(key)

    def page(self, snapshot: Snapshot, key: PageKey, render: Callable[[], Page]) -> Page:
        """Return the page for ``key``, rendering it (outside the lock) when none is current."""
        found = self.cached(snapshot, key)
        if self.on_lookup is not None:
            self.on_lookup(found is not None)
        if found is not None:
            return found
        page = render()
        state = state_of(snapshot, key.project)
        if state is None:
            return page  # nothing to key it by (a name the snapshot does not hold)
        with self._lock:
            shelf = self._shelves.get(key.project)
            if shelf is None or not _current(shelf, state):
                if shelf is None and len(self._shelves) >= len(snapshot.by_project) + SLACK:
                    self._sweep(snapshot)
                shelf = self._shelves[key.project] = _Shelf(state)
            limit = MAX_INDEX if key.project is None else MAX_PER_PROJECT
            if len(shelf.pages) < limit:
                shelf.pages[key] = page
        return page

    def _sweep(self, snapshot: Snapshot) -> None:
        """Drop the shelves ``snapshot`` no longer backs (projects removed by hand, old states)."""
        self._shelves = {
            project: shelf
            for project, shelf in self._shelves.items()
            if _current(shelf, state_of(snapshot, project))
        }

    def __len__(self) -> int:
        """Count the pages kept (for tests and diagnostics)."""
        return sum(len(shelf.pages) for shelf in list(self._shelves.values()))


def _current(shelf: _Shelf, state: object) -> bool:
    """Say whether ``shelf`` was rendered from ``state``; remember it if only equal.

    After a relist every tuple of files is new but holds equal records: one comparison moves the
    shelf over, and the next requests compare identities again.
    """
    if shelf.state is state:
        return True
    if state is None or shelf.state != state:
        return False
    shelf.state = state
    return True
