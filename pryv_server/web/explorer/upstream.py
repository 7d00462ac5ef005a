"""Upstream projects in the explorer: found by search, shown with a "from PyPI" badge.

The projects list adds, below the registry's own projects, the upstream projects whose page
pryv holds (matched by name only: pryv keeps no upstream metadata but the files' core metadata);
``/project/<name>/`` of such a name shows its files as pip sees them through pryv.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import render_template
from packaging.utils import NormalizedName

from pryv_server.core.names import normalize
from pryv_server.core.search import name_matches
from pryv_server.errors import ProjectNotFound
from pryv_server.web.explorer import upstream_controls
from pryv_server.web.services import get_services

MAX_LISTED = 50


def origin() -> str:
    """Name the upstream for people: ``PyPI`` for pypi.org, else its host."""
    mirror = get_services().mirror
    host = "" if mirror is None else urlsplit(mirror.upstream.url).hostname or ""
    return "PyPI" if host in {"pypi.org", "pypi.python.org"} else host or "upstream"


def cached_projects(query: str) -> list[NormalizedName]:
    """Return the upstream projects pryv holds pages of that match ``query`` (at most 50)."""
    services = get_services()
    if services.mirror is None:
        return []
    local = services.registry.snapshot().by_project
    names = sorted(
        name
        for name in services.mirror.listing()[1]
        if name not in local and name_matches(name, query)
    )
    return names[:MAX_LISTED]


def project_page(name: str) -> str:
    """Show an upstream project's files (what pryv offers of it now).

    :raises ProjectNotFound: no proxy, a local or refused name, or upstream has none.
    :raises UpstreamError: upstream failed and pryv holds no copy (502).
    """
    services = get_services()
    if services.mirror is None:
        raise ProjectNotFound(f"no project named {name!r}")
    mirrored = services.mirror.page(services.registry.snapshot(), normalize(name))
    return render_template(
        "upstream_project.html",
        page=mirrored,
        origin=origin(),
        may_control=upstream_controls.may_control(),
    )
