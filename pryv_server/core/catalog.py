"""The catalog: every published file in memory, rebuilt from the stored records alone.

Serving ``/simple/<project>/`` must not list the store. The index keeps every parsed record and
hands out immutable :class:`Snapshot` objects. It notices other writers (other gunicorn workers,
other machines) through a generation marker that every publish rewrites, and relists the records
when the marker changed or when ``ttl`` seconds passed anyway (the safety net for hand edits).
Records whose change token did not move are reused, so a relist reads only new records.
"""

from __future__ import annotations

import io
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from dataclasses import field
from types import MappingProxyType

from packaging.utils import NormalizedName
from packaging.version import Version

from pryv_server.core.layout import GENERATION_KEY
from pryv_server.core.layout import STATUS_PREFIX
from pryv_server.core.layout import TOMBSTONE_PREFIX
from pryv_server.core.layout import is_overlay_key
from pryv_server.core.layout import is_record_key
from pryv_server.core.layout import tombstone_key
from pryv_server.core.models import ACTIVE
from pryv_server.core.models import Package
from pryv_server.core.models import Project
from pryv_server.core.models import ProjectStatus
from pryv_server.core.models import Release
from pryv_server.core.models import Tombstone
from pryv_server.core.names import release_key
from pryv_server.core.overlays import Overlay
from pryv_server.core.overlays import apply
from pryv_server.core.overlays import decode
from pryv_server.errors import ObjectNotFound
from pryv_server.errors import StorageError
from pryv_server.storage.base import Storage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    """An immutable view of the whole registry at one moment: records and projects, no pages.

    Rendered pages belong to the web layer (:mod:`pryv_server.web.pages`), keyed by what a
    snapshot says of their project.
    """

    generation: int
    packages: Mapping[str, Package]  # record key -> package, as stored
    by_project: Mapping[NormalizedName, tuple[Package, ...]]  # with yanks and backfills applied
    by_filename: Mapping[str, Package]
    overlays: Mapping[str, Overlay] = field(default_factory=dict)  # overlay key -> record
    # PEP 792 status records (projects without one are active)
    statuses: Mapping[NormalizedName, ProjectStatus] = field(default_factory=dict)
    _projects: dict[NormalizedName, Project] = field(default_factory=dict, repr=False)
    _last_serial: list[int] = field(default_factory=list, repr=False)  # computed once

    @classmethod
    def build(
        cls,
        generation: int,
        packages: Mapping[str, Package],
        overlays: Mapping[str, Overlay] | None = None,
    ) -> Snapshot:
        """Apply the overlays, then group packages by project and filename.

        A record that a tombstone names is left out: a deleted file is gone from every page as
        soon as its tombstone is read, even while its record still exists.
        """
        overlays = MappingProxyType(dict(overlays or {}))
        deleted = {
            key.removeprefix(TOMBSTONE_PREFIX)
            for key, overlay in overlays.items()
            if isinstance(overlay, Tombstone)
        }
        statuses = {
            NormalizedName(key.removeprefix(STATUS_PREFIX).removesuffix(".json")): overlay
            for key, overlay in overlays.items()
            if isinstance(overlay, ProjectStatus)
        }
        grouped: dict[NormalizedName, list[Package]] = {}
        by_filename: dict[str, Package] = {}
        for key, stored in packages.items():
            if key in deleted:
                continue
            package = apply(stored, overlays)
            grouped.setdefault(package.project, []).append(package)
            by_filename[package.filename] = package
        by_project = {name: tuple(files) for name, files in grouped.items()}
        return cls(
            generation,
            MappingProxyType(dict(packages)),
            by_project,
            by_filename,
            overlays,
            MappingProxyType(statuses),
        )

    def with_package(self, key: str, stored: Package) -> Snapshot:
        """Return the next snapshot with one more record, regrouping only its project.

        Rebuilding the whole snapshot on every upload made publishing cost O(files): 25 ms per
        upload at 6,000 files. The dict copies left here are C-speed (about 1 ms at 60,000).
        """
        if tombstone_key(stored.project, stored.identity) in self.overlays:
            return self  # deleted meanwhile: publish refuses it, this is the belt to its braces
        package = apply(stored, self.overlays)
        replaced = self.packages.get(key)
        siblings = self.by_project.get(package.project, ())
        if replaced is not None:
            siblings = tuple(p for p in siblings if p.filename != replaced.filename)
        by_filename = dict(self.by_filename)
        if replaced is not None:
            by_filename.pop(replaced.filename, None)
        by_filename[package.filename] = package
        return Snapshot(
            self.generation + 1,
            MappingProxyType({**self.packages, key: stored}),
            {**self.by_project, package.project: (*siblings, package)},
            by_filename,
            self.overlays,
            self.statuses,
        ).inherit(self)

    def inherit(self, previous: Snapshot) -> Snapshot:
        """Keep ``previous``'s assembled projects wherever their files are the same.

        Called on every new snapshot: without it, each upload made every worker assemble every
        project again. (The pages rendered from a project are the web layer's, kept on the same
        rule: see :mod:`pryv_server.web.pages`.)
        """
        for name, assembled in list(previous._projects.items()):
            files = previous.by_project.get(name)
            if files is None or self.by_project.get(name) != files:
                continue
            if self.statuses.get(name) != previous.statuses.get(name):
                continue  # tuples of the same Package objects compare by identity first: cheap
            self._projects.setdefault(name, assembled)
        return self

    def project(self, normalized: NormalizedName) -> Project | None:
        """Return the project (assembled once per snapshot), or None."""
        cached = self._projects.get(normalized)
        if cached is None:
            files = self.by_project.get(normalized)
            if not files:
                return None
            status = self.statuses.get(normalized, ACTIVE)
            cached = self._projects[normalized] = _assemble(normalized, files, status)
        return cached

    def projects(self) -> list[Project]:
        """Return every project, sorted by normalized name."""
        return [project for name in sorted(self.by_project) if (project := self.project(name))]

    def last_serial(self) -> int:
        """Return the registry's serial: the highest project serial, 0 when empty.

        See :attr:`Project.last_serial`; computed once per snapshot.
        """
        if not self._last_serial:
            self._last_serial.append(
                max((project.last_serial for project in self.projects()), default=0)
            )
        return self._last_serial[0]


def _assemble(
    normalized: NormalizedName, files: Iterable[Package], status: ProjectStatus
) -> Project:
    releases: dict[str, list[Package]] = {}
    for package in files:
        releases.setdefault(release_key(package.version), []).append(package)
    built = [
        Release(
            Version(max(group, key=lambda p: p.upload_time).version),
            tuple(sorted(group, key=lambda p: p.filename)),
        )
        for group in releases.values()
    ]
    return Project(normalized, tuple(sorted(built, key=lambda release: release.version)), status)


class Catalog:
    """Keep a :class:`Snapshot` of the records storage current, cheaply.

    :param check_interval: how often to stat the generation marker (0: on every request, which
        costs one ``stat`` on local storage; S3 uses ``ttl`` to avoid a HEAD per request).
    :param ttl: relist everything at least this often even if the marker did not change.
    :param loaders: threads reading new records in parallel (1: one after the other, which is
        right for a local disk; S3 answers each GET in tens of milliseconds, so a cold start
        over thousands of records needs several at once).
    :param signal: a cheap local store shared by the worker processes of one server. Each
        publish rewrites its marker too, and every request stats it (about a microsecond), so
        the other workers of this server check ``records`` at once instead of within
        ``check_interval``: with records on S3, ``twine upload`` then ``pip install`` against
        one server works whichever worker answers.
    """

    def __init__(
        self,
        records: Storage,
        *,
        ttl: float = 5.0,
        check_interval: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        loaders: int = 1,
        signal: Storage | None = None,
    ) -> None:
        self.records = records
        self.signal = signal
        self._signal_seen: str | None = None
        self.ttl = ttl
        self.check_interval = check_interval
        self.loaders = loaders
        self._clock = clock
        self._lock = threading.Lock()
        self._versions: dict[str, str] = {}
        self._snapshot = Snapshot.build(0, {})
        self._marker: str | None = "\0unknown"
        self._listed_at = float("-inf")
        self._checked_at = float("-inf")
        # Told how long each relist took, in seconds (the web layer's metrics).
        self.on_relist: Callable[[float], None] | None = None

    def snapshot(self) -> Snapshot:
        """Return a current snapshot, relisting first if other writers may have changed storage."""
        now = self._clock()
        signal = _marker_of(self.signal) if self.signal is not None else None
        if (
            signal != self._signal_seen
            or now - self._checked_at >= self.check_interval
            or now - self._listed_at >= self.ttl
        ):
            self._refresh(now)
            self._signal_seen = signal
        return self._snapshot

    def latest(self) -> Snapshot:
        """Return the snapshot as this process last saw it (its own publishes included).

        Costs nothing: for checks that a create-if-absent write backs up anyway, where a
        :meth:`snapshot` would relist after every publish (the marker that publish moved).
        """
        return self._snapshot

    def _refresh(self, now: float) -> None:
        """Check the marker and relist if it moved (or ``ttl`` passed).

        The common case, a marker that has not moved since the last relist, takes no lock: with
        one, every request of a worker's threads queued behind one ``stat``. A thread that finds
        a refresh under way waits for it instead of serving the snapshot being replaced: a
        request that arrives after an upload or a yank must see it.
        """
        marker = self._marker_version()
        if not self._is_current(marker, now):
            with self._lock:
                if not self._is_current(marker, now):  # unless another thread just relisted
                    self._relist()
                    self._marker = marker
                    self._listed_at = now
        self._checked_at = max(self._checked_at, now)

    def _is_current(self, marker: str | None, now: float) -> bool:
        # ``_marker`` is set after the relist it belongs to, so a match means a current snapshot.
        return marker == self._marker and now - self._listed_at < self.ttl

    def _marker_version(self) -> str | None:
        return _marker_of(self.records)

    def _relist(self) -> None:
        started = time.perf_counter()
        try:
            self._read_records()
        finally:
            if self.on_relist is not None:
                self.on_relist(time.perf_counter() - started)

    def _read_records(self) -> None:
        previous: dict[str, Package | Overlay] = {
            **self._snapshot.packages,
            **self._snapshot.overlays,
        }
        listed = [
            info
            for info in self.records.list_objects()
            if is_record_key(info.key) or is_overlay_key(info.key)
        ]
        fresh = self._load_all(
            [
                info.key
                for info in listed
                if info.key not in previous or self._versions.get(info.key) != info.version
            ]
        )
        loaded: dict[str, Package | Overlay] = {}
        versions: dict[str, str] = {}
        changed = False
        for info in listed:
            if info.key in fresh:
                record = fresh[info.key]
                if record is None:
                    continue
                loaded[info.key] = record
                changed = True
            else:
                loaded[info.key] = previous[info.key]
            versions[info.key] = info.version
        if changed or loaded.keys() != previous.keys():
            packages = {k: v for k, v in loaded.items() if isinstance(v, Package)}
            overlays = {k: v for k, v in loaded.items() if not isinstance(v, Package)}
            self._snapshot = Snapshot.build(
                self._snapshot.generation + 1, packages, overlays
            ).inherit(self._snapshot)
        self._versions = versions

    def _load_all(self, keys: list[str]) -> dict[str, Package | Overlay | None]:
        if self.loaders <= 1 or len(keys) < 2:
            return {key: self._load(key) for key in keys}
        with ThreadPoolExecutor(max_workers=min(self.loaders, len(keys))) as pool:
            return dict(zip(keys, pool.map(self._load, keys), strict=True))

    def _load(self, key: str) -> Package | Overlay | None:
        try:
            content = self.records.read(key)
            if is_overlay_key(key):
                return decode(key, content)
            return Package.from_json(json.loads(content))
        except ObjectNotFound:
            return None  # deleted while we listed
        except (ValueError, KeyError, TypeError) as error:
            log.warning("skipping the unreadable record %s: %s", key, error)
            return None

    def reload(self) -> None:
        """Relist now: this process just changed an overlay (yank, metadata, status, tombstone)."""
        with self._lock:
            marker = self._marker_version()
            self._relist()
            self._marker = marker
            self._listed_at = self._checked_at = self._clock()

    def add(self, key: str, version: str, package: Package) -> None:
        """Make a package this process just published visible at once."""
        with self._lock:
            self._versions[key] = version
            self._snapshot = self._snapshot.with_package(key, package)

    def bump_generation(self) -> None:
        """Tell other processes that the records changed (rewrite the generation marker)."""
        for store in (self.records, self.signal):
            if store is None:
                continue
            try:
                store.write(
                    GENERATION_KEY, io.BytesIO(os.urandom(16).hex().encode()), overwrite=True
                )
            except StorageError:
                log.exception("could not update the generation marker; others see it within ttl")


def _marker_of(store: Storage) -> str | None:
    try:
        return store.stat(GENERATION_KEY).version
    except ObjectNotFound:
        return None
