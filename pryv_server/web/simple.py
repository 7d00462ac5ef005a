"""The simple repository API: ``/simple/`` and ``/simple/<project>/`` in HTML and JSON.

* PEP 503 HTML pages, with PEP 629's ``pypi:repository-version`` meta;
* PEP 691 JSON (``application/vnd.pypi.simple.v1+json``), chosen by content negotiation on the
  ``Accept`` header (q-values honoured, ``406`` when nothing fits) or by the ``?format=`` query;
* PEP 792 project status: the top-level ``project-status`` object in JSON (not under ``meta``,
  as PEP 792 and Warehouse have it) and ``pypi:project-status`` / ``pypi:project-status-reason``
  metas in HTML; a quarantined project's page lists no file and no version;
* PEP 740 ``data-provenance`` / ``provenance``: the fully qualified URL of a file's provenance
  object (:mod:`pryv_server.web.integrity`), ``null`` in JSON for a file without one. A project
  with such a file has its pages rendered per host (the URL names it), and those pages are
  answered by Flask rather than the fast path in front of it;
* PEP 592 ``data-yanked`` / ``yanked``, PEP 658 and 714 ``data-core-metadata`` /
  ``core-metadata`` (with the older ``dist-info-metadata`` spelling too), PEP 700 ``versions``,
  ``size`` and ``upload-time``;
* PyPI's serials, which mirrors (bandersnatch) rely on: ``_last-serial`` in the JSON ``meta`` and
  on each project of ``/simple/``, and the ``X-PyPI-Last-Serial`` header on every page.

Pages are rendered from the in-memory snapshot only and kept in :mod:`pryv_server.web.pages`: a
project's page is rendered once per change of that project, ``/simple/`` once per change of the
registry, not once per request.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any
from typing import NamedTuple
from urllib.parse import quote

from flask import Blueprint
from flask import Flask
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from packaging.utils import NormalizedName
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header
from werkzeug.wrappers import Response

from pryv_server.core import Package
from pryv_server.core import Project
from pryv_server.core.access import NOTHING
from pryv_server.core.access import Action
from pryv_server.core.catalog import Snapshot
from pryv_server.core.names import normalize
from pryv_server.errors import NotAcceptable
from pryv_server.errors import ProjectNotFound
from pryv_server.web import authorize
from pryv_server.web.integrity import provenance_url
from pryv_server.web.pages import EVERYONE
from pryv_server.web.pages import Page
from pryv_server.web.pages import PageKey
from pryv_server.web.pages import Pages
from pryv_server.web.proxy_pages import UPSTREAM_HEADER
from pryv_server.web.services import get_services

blueprint = Blueprint("simple", __name__)

# PEP 629/691/700/740/792: the API version both forms announce (1.1 brought PEP 700's fields,
# 1.3 PEP 740's provenance links, 1.4 PEP 792's project status; 1.2's PEP 708 is optional).
API_VERSION = "1.4"
JSON_V1 = "application/vnd.pypi.simple.v1+json"
HTML_V1 = "application/vnd.pypi.simple.v1+html"
HTML = "text/html"
# What a client may ask for, and the representation it gets (PEP 691's "latest" aliases are v1).
# Order breaks ties between equal q-values: ``*/*`` and no Accept at all get plain text/html,
# which every client since PEP 503 understands.
OFFERS = {
    HTML: HTML,
    HTML_V1: HTML_V1,
    JSON_V1: JSON_V1,
    "application/vnd.pypi.simple.latest+html": HTML_V1,
    "application/vnd.pypi.simple.latest+json": JSON_V1,
}
FORMAT_ALIASES = {"html": HTML, "json": JSON_V1}
CONTENT_TYPES = {HTML: "text/html; charset=utf-8", HTML_V1: HTML_V1, JSON_V1: JSON_V1}
# PyPI's header: the serial of the project shown, or of the whole registry on /simple/.
SERIAL_HEADER = "X-PyPI-Last-Serial"


def respond(page: Page, fmt: str) -> Response:
    """Answer with ``page`` in the media type ``fmt``, with its serial."""
    response = Response(page.body, content_type=CONTENT_TYPES[fmt])
    response.headers[SERIAL_HEADER] = str(page.serial)
    return response


@blueprint.after_request
def vary_on_accept(response: Response) -> Response:
    """Tell caches that the body depends on ``Accept`` (PEP 691), errors included."""
    response.vary.add("Accept")
    return response


def choose_format() -> str:
    """Return the media type to answer with: ``?format=`` first, then the ``Accept`` header.

    :raises NotAcceptable: neither names a form pryv serves.
    """
    wanted = request.args.get("format")
    if wanted is not None:
        # An unescaped "+" in a query decodes as a space; no media type contains one.
        asked = wanted.strip().lower().replace(" ", "+")
        chosen = OFFERS.get(asked) or FORMAT_ALIASES.get(asked)
        if chosen is None:
            raise NotAcceptable(f"unknown format {wanted!r}: use one of {', '.join(CONTENT_TYPES)}")
        return chosen
    accept = request.headers.get("Accept")
    chosen = negotiate(accept)
    if chosen is None:
        raise NotAcceptable(
            f"none of the accepted types ({accept}) is served here: "
            f"accept one of {', '.join(CONTENT_TYPES)}"
        )
    return chosen


@lru_cache(maxsize=256)
def negotiate(accept: str | None) -> str | None:
    """Return the media type that best fits an ``Accept`` header, or None when none does.

    Clients send a handful of distinct headers (pip's, uv's, a browser's), so the answer is
    cached per header value; parsing q-values costs more than the rest of a cached page request.
    """
    offered = parse_accept_header(accept, MIMEAccept)
    if not offered:
        return HTML  # no Accept header: PEP 691 says answer as before, in HTML
    best = offered.best_match(list(OFFERS))
    return None if best is None else OFFERS[best]


@lru_cache(maxsize=4096)
def page_key(
    project: NormalizedName | None, fmt: str, hidden: frozenset[str] = NOTHING, host: str = ""
) -> PageKey:
    """Name a rendered simple page in the page cache (None: the ``/simple/`` index).

    Both HTML media types get the same bytes (only the Content-Type differs), so they share one
    rendering. Kept per name and form: building the key costs more than looking it up. The
    index's reader class is the set of projects it leaves out (none for most readers). A page
    that links provenance objects names the host it was rendered for (their URLs are absolute).
    """
    reader = hidden or EVERYONE
    form = ("simple", "json" if fmt == JSON_V1 else "html")
    return PageKey(project, (*form, host) if host else form, reader)


@blueprint.get("/simple/")
def index() -> Response:
    """List every project (PEP 503 root page, PEP 691 ``projects``)."""
    fmt = choose_format()
    services = get_services()
    snapshot = services.registry.snapshot()
    return respond(_index_page(services.pages, snapshot, fmt, authorize.hidden(snapshot)), fmt)


def warm_up(app: Flask) -> None:
    """Assemble every project and render the ``/simple/`` index in each form now.

    ``pryv start`` calls this before gunicorn forks, so every worker starts with them in memory
    it shares with the master, instead of each assembling 10,000 projects and rendering their
    index on its first request.
    """
    with app.app_context():
        services = get_services()
        snapshot = services.registry.snapshot()
        for fmt in CONTENT_TYPES:
            _index_page(services.pages, snapshot, fmt)


def _index_page(
    pages: Pages, snapshot: Snapshot, fmt: str, hidden: frozenset[str] = NOTHING
) -> Page:
    mirror = get_services().mirror
    if mirror is not None:
        return upstream_index_page(pages, snapshot, fmt, mirror.listing(), hidden)

    def render() -> Page:
        serial = snapshot.last_serial()
        shown = [p for p in snapshot.projects() if p.normalized not in hidden]
        return Page(_render_index(shown, serial, fmt), serial)

    return pages.page(snapshot, page_key(None, fmt, hidden), render)


def upstream_index_page(
    pages: Pages,
    snapshot: Snapshot,
    fmt: str,
    listing: tuple[int, frozenset[NormalizedName]],
    hidden: frozenset[str] = NOTHING,
) -> Page:
    """Render ``/simple/`` with the upstream projects pryv holds pages of beside local ones.

    Cached per snapshot and version of that list (the page key's ``source``); the fast path in
    front of Flask knows only local pages, so with a proxy ``/simple/`` goes through Flask.
    """
    version, names = listing

    def render() -> Page:
        serial = snapshot.last_serial()
        local = [p for p in snapshot.projects() if p.normalized not in hidden]
        upstream = [Listed(name) for name in names if name not in snapshot.by_project]
        merged: list[Project | Listed] = [*local, *upstream]
        merged.sort(key=lambda project: project.normalized)
        return Page(_render_index(merged, serial, fmt), serial)

    form = ("simple", "json" if fmt == JSON_V1 else "html")
    key = PageKey(None, form, hidden or EVERYONE, source=version)
    return pages.page(snapshot, key, render)


class Listed(NamedTuple):
    """An upstream project on ``/simple/``: its normalized name is all pryv shows of it."""

    normalized: NormalizedName
    last_serial: int = 0

    @property
    def name(self) -> str:
        """Return the name shown (the normalized one: pryv has no other for it)."""
        return self.normalized


@blueprint.get("/simple/<project>/")
def project(project: str) -> Response:
    """List every file of a project with hashes, Requires-Python, yank state and metadata."""
    normalized = normalize(project)
    if project != normalized:
        # PEP 503: clients should use the normalized URL; redirect other spellings to it.
        return redirect(_project_url(normalized), code=301)
    fmt = choose_format()
    services = get_services()
    snapshot = services.registry.snapshot()
    found = snapshot.project(normalized)
    authorize.require(Action.READ, normalized, exists=found is not None)
    if found is None:
        return _upstream_project(snapshot, normalized, fmt)
    host = request.host_url if any(p.provenance_key for p in found.packages) else ""
    page = services.pages.page(
        snapshot,
        page_key(normalized, fmt, host=host),
        lambda: Page(_render_project(found, fmt), found.last_serial),
    )
    return respond(page, fmt)


def _upstream_project(snapshot: Snapshot, name: NormalizedName, fmt: str) -> Response:
    """Answer a name the registry does not hold from the upstream index, if one is proxied."""
    services = get_services()
    if services.mirror is None:
        raise ProjectNotFound(f"no project named {name!r}")
    mirrored = services.mirror.page(snapshot, name)  # 404 for a local or refused name
    response = respond(services.upstream_pages.page(mirrored, fmt == JSON_V1, API_VERSION), fmt)
    response.headers[UPSTREAM_HEADER] = mirrored.state
    return response


@blueprint.get("/simple/<project>")
def project_without_slash(project: str) -> Response:
    """Add the trailing slash pip expects."""
    return redirect(_project_url(normalize(project)), code=301)


def _project_url(normalized: str) -> str:
    """Return the project page's URL, keeping the query (``?format=``) of the request."""
    query = request.query_string.decode("latin-1")
    url = url_for("api.simple.project", project=normalized)
    return f"{url}?{query}" if query else url


def _render_index(projects: Sequence[Project | Listed], serial: int, fmt: str) -> bytes:
    if fmt == JSON_V1:
        # "_last-serial" is PyPI's (PEP 691 leaves keys starting with "_" to each index).
        return _dump(
            {
                "meta": {"api-version": API_VERSION, "_last-serial": serial},
                "projects": [
                    {"name": project.name, "_last-serial": project.last_serial}
                    for project in projects
                ],
            }
        )
    html = render_template("simple/index.html", projects=projects, api_version=API_VERSION)
    return html.encode()


def _render_project(project: Project, fmt: str) -> bytes:
    # PEP 792: a quarantined project offers no file (its downloads answer 404 too).
    offered = project.status.offers_files
    packages = project.packages if offered else ()
    if fmt == JSON_V1:
        return _dump(
            {
                "meta": {"api-version": API_VERSION, "_last-serial": project.last_serial},
                "name": project.normalized,
                "project-status": status_json(project),
                "versions": [str(release.version) for release in project.releases if offered],
                "files": [file_json(package) for package in packages],
            }
        )
    html = render_template(
        "simple/project.html",
        project=project,
        packages=packages,
        api_version=API_VERSION,
        file_url=file_url,
        provenance_url=provenance_url,
    )
    return html.encode()


def status_json(project: Project) -> dict[str, str]:
    """Describe a project's PEP 792 status: ``status``, and ``reason`` when one was given."""
    status = {"status": project.status.status}
    if project.status.reason:
        status["reason"] = project.status.reason
    return status


def file_url(package: Package) -> str:
    """Return the download URL relative to ``/simple/<project>/`` (both forms resolve it so)."""
    return f"../../packages/{quote(package.filename)}"


def file_json(package: Package) -> dict[str, Any]:
    """Describe one file as PEP 691 (with PEP 592, 658/714, 700 and 740 keys)."""
    metadata: dict[str, str] | bool = (
        {"sha256": package.metadata_sha256} if package.metadata_sha256 else False
    )
    entry: dict[str, Any] = {
        "filename": package.filename,
        "url": file_url(package),
        "hashes": {"sha256": package.sha256},
    }
    if package.requires_python:
        entry["requires-python"] = package.requires_python
    entry["core-metadata"] = metadata
    entry["dist-info-metadata"] = metadata  # PEP 714: keep the old key for older clients
    entry["yanked"] = (package.yanked_reason or True) if package.yanked else False
    entry["size"] = package.size
    entry["upload-time"] = package.upload_time
    entry["provenance"] = provenance_url(
        package
    )  # PEP 740 (api-version 1.3), as PyPI: null if none
    return entry


def _dump(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
