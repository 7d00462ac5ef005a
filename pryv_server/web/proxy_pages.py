"""Upstream project pages in pryv's forms: HTML and PEP 691 JSON, with pryv's file URLs.

A name the registry does not hold is looked up upstream (:mod:`pryv_server.core.mirror` decides
whether it may be); its page is rendered like a local one, with pryv's own file URLs
(``/upstream/<project>/<filename>``, served by :mod:`pryv_server.web.proxy`) and upstream's
``sha256``, ``requires-python``, ``yanked``, ``size``, ``upload-time`` and ``core-metadata``
unchanged. A page served from a stale copy (upstream is down) says so in ``X-Pryv-Upstream``.

Rendered pages are kept per upstream page and form (:class:`UpstreamPages`), so a cached
upstream project costs what a local one does once it is rendered.
"""

from __future__ import annotations

import json
import threading
from typing import Any
from urllib.parse import quote

from flask import render_template
from packaging.utils import NormalizedName

from pryv_server.core.upstream import MirrorPage
from pryv_server.core.upstream import UpstreamFile
from pryv_server.web.pages import Page

UPSTREAM_HEADER = "X-Pryv-Upstream"  # "fresh", "pinned", or "stale" when upstream failed
MAX_PAGES = 20_000


class UpstreamPages:
    """Rendered upstream pages, each valid while its :attr:`MirrorPage.token` is the same."""

    def __init__(self) -> None:
        self._pages: dict[tuple[NormalizedName, bool], tuple[object, Page]] = {}
        self._lock = threading.Lock()

    def cached(self, mirrored: MirrorPage, as_json: bool) -> Page | None:
        """Return ``mirrored`` as rendered before, or None when it was not or it changed."""
        kept = self._pages.get((mirrored.name, as_json))
        return kept[1] if kept is not None and kept[0] == mirrored.token else None

    def page(self, mirrored: MirrorPage, as_json: bool, api_version: str) -> Page:
        """Return ``mirrored`` rendered (as PEP 691 JSON or HTML), rendering it when it changed."""
        key = (mirrored.name, as_json)
        kept = self._pages.get(key)
        if kept is not None and kept[0] == mirrored.token:
            return kept[1]
        render = _render_json if as_json else _render_html
        body = render(mirrored, api_version)
        page = Page(body, mirrored.serial)
        with self._lock:
            if len(self._pages) >= MAX_PAGES and key not in self._pages:
                self._pages.clear()  # rare: as many upstream projects as MAX_PAGES / 2
            self._pages[key] = (mirrored.token, page)
        return page


def file_url(name: str, file: UpstreamFile) -> str:
    """Return pryv's URL of an upstream file, relative to ``/simple/<project>/``."""
    return f"../../upstream/{quote(name)}/{quote(file.filename)}"


def metadata_attribute(file: UpstreamFile) -> str:
    """Return the PEP 658/714 attribute value: ``sha256=<hex>``, or ``true`` without a hash."""
    sha256 = file.metadata_sha256
    return f"sha256={sha256}" if sha256 else "true"


def _render_html(mirrored: MirrorPage, api_version: str) -> bytes:
    return render_template(
        "simple/upstream.html",
        page=mirrored,
        api_version=api_version,
        file_url=file_url,
        metadata_attribute=metadata_attribute,
    ).encode()


def _render_json(mirrored: MirrorPage, api_version: str) -> bytes:
    versions = {version for file in mirrored.files if (version := file.version()) is not None}
    document = {
        "meta": {"api-version": api_version, "_last-serial": mirrored.serial},
        "name": mirrored.name,
        "versions": [str(version) for version in sorted(versions)],
        "files": [_file_json(mirrored.name, file) for file in mirrored.files],
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def _file_json(name: str, file: UpstreamFile) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "filename": file.filename,
        "url": file_url(name, file),
        "hashes": {"sha256": file.sha256},
    }
    if file.requires_python is not None:
        entry["requires-python"] = file.requires_python
    entry["core-metadata"] = file.core_metadata
    entry["dist-info-metadata"] = file.core_metadata
    entry["yanked"] = file.yanked
    if file.size is not None:
        entry["size"] = file.size
    if file.upload_time is not None:
        entry["upload-time"] = file.upload_time
    return entry
