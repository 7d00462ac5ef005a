"""The projects list (with search and pages), the project pages and file downloads."""

from __future__ import annotations

import re
from functools import cache
from functools import partial

from flask import Blueprint
from flask import g
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement
from werkzeug.wrappers import Response

from pryv_server.core import Project
from pryv_server.core import Release
from pryv_server.core import descriptions
from pryv_server.core.access import Action
from pryv_server.core.names import normalize
from pryv_server.core.search import SORT_ORDERS
from pryv_server.core.search import SortOrder
from pryv_server.core.search import paginate
from pryv_server.core.search import search_projects
from pryv_server.core.search import sort_projects
from pryv_server.errors import NotFound
from pryv_server.errors import ProjectNotFound
from pryv_server.web import authorize
from pryv_server.web.download import send_package
from pryv_server.web.explorer import rendering
from pryv_server.web.explorer import upstream
from pryv_server.web.lifecycle import may_manage
from pryv_server.web.services import get_services

PAGE_SIZE = 50
_EXTRA_MARKER = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")
LATEST = "latest"
TABS = ("description", "releases", "packages")


def home() -> Response:
    """Send visitors of ``/`` to the projects list."""
    return redirect(url_for("explorer.projects"))


def _page_number() -> int:
    text = request.args.get("page", "1")
    if not text.isdigit() or len(text) > 9:
        raise NotFound(f"there is no page {text!r}")
    return int(text)


def projects() -> str:
    """List every project (or the ones matching ``?q=``), 50 to a page."""
    query = request.args.get("q", "").strip()
    order: SortOrder = "recent" if request.args.get("sort") == "recent" else "name"
    services = get_services()
    hidden = authorize.hidden(services.registry.snapshot())
    everything = [p for p in services.registry.list_projects() if p.normalized not in hidden]
    found = search_projects(everything, query) if query else sort_projects(everything, order)
    number = _page_number()
    page = paginate(found, number, PAGE_SIZE)
    if page is None:
        raise NotFound(f"there is no page {number} of projects")
    return render_template(
        "projects.html",
        page=page,
        query=query,
        order=order,
        orders=SORT_ORDERS,
        total_projects=len(everything),
        upstream_projects=upstream.cached_projects(query) if number == 1 else [],
        upstream_origin=upstream.origin(),
    )


def find_release(project: Project, release_name: str) -> Release:
    """Return the release ``release_name`` names (``latest`` works); NotFound when none."""
    if release_name == LATEST:
        return project.latest
    release = project.release(release_name)
    if release is None:
        raise NotFound(f"{project.name} has no release {release_name!r}")
    return release


def project_page(name: str, release: str = LATEST, tab: str = "description") -> Response | str:
    """Show one release of a project with one tab open; other spellings redirect."""
    registry = get_services().registry
    authorize.require(Action.READ, normalize(name), exists=True)
    try:
        found = registry.get_project(name)
    except ProjectNotFound:
        if release != LATEST:
            raise
        return upstream.project_page(name)  # a cached upstream project, if it is one
    chosen = find_release(found, release)
    canonical_release = LATEST if release == LATEST else str(chosen.version)
    if name != found.normalized or release != canonical_release:
        # Keep the URL's shape (with or without release and tab), fix only the spelling.
        args = dict(request.view_args or {}, name=found.normalized)
        if "release" in args:
            args["release"] = canonical_release
        return redirect(url_for(str(request.endpoint), **args), code=301)
    if tab not in TABS:
        raise NotFound(f"there is no tab {tab!r}: choose description, releases or packages")
    metadata = chosen.metadata
    description = None
    # The catalog holds no descriptions (Package.from_json): the text is read from the file's
    # record only to render it the first time, or to show it as is when it does not render.
    text = cache(partial(registry.description, chosen.newest))
    if tab == "description":
        description = descriptions.stored(
            registry.blobs,
            chosen.newest.description_sha256,
            metadata.description_content_type,
            text,
        )
    return render_template(
        "project.html",
        project=found,
        release=chosen,
        release_name=release,
        metadata=metadata,
        tab=tab,
        tabs=TABS,
        description=description,
        description_text=text() if description and description.html is None else "",
        dependencies=_dependencies(metadata.requires_dist),
        classifier_groups=rendering.group_classifiers(metadata.classifiers),
        project_links=_links(metadata.project_urls, metadata.home_page, metadata.download_url),
        python_tag=rendering.python_tag,
        platform_tag=rendering.platform_tag,
        can_manage=may_manage(g.identity, found.normalized),
    )


def _dependencies(requires_dist: tuple[str, ...]) -> list[tuple[str, str]]:
    """Split Requires-Dist into (requirement, extra it belongs to, or "")."""
    result = []
    for text in requires_dist:
        try:
            marker = Requirement(text).marker
        except InvalidRequirement:
            marker = None
        match = _EXTRA_MARKER.search(str(marker)) if marker is not None else None
        result.append((text, match.group(1) if match else ""))
    return result


def _links(
    project_urls: tuple[tuple[str, str], ...], home_page: str, download_url: str
) -> list[tuple[str, str, str | None]]:
    """Return (label, text, safe href or None) for every project URL the metadata gives."""
    # Homepage first, then the project URLs by label: a stable order, whatever the record's.
    ordered = sorted(
        project_urls, key=lambda item: (item[0].lower() != "homepage", item[0].lower())
    )
    links = [("Homepage", home_page), *ordered, ("Download", download_url)]
    seen = set()
    result = []
    for label, url in links:
        if not url or url in seen:
            continue
        seen.add(url)
        result.append((label, url, rendering.safe_url(url)))
    return result


def download_file(filename: str) -> Response:
    """Send a file to a logged-in browser (the API's ``/packages/`` wants HTTP Basic)."""
    # Revalidated every time: a browser session may end (logout) while the file stays cached.
    return send_package(authorize.readable_package(filename), immutable=False)


def register(blueprint: Blueprint) -> None:
    """Add the projects list, the project pages and downloads to the explorer blueprint."""
    blueprint.add_url_rule("/", "home", home)
    blueprint.add_url_rule("/projects", "projects", projects)
    blueprint.add_url_rule("/project/<name>/", "project", project_page)
    blueprint.add_url_rule("/project/<name>/<release>/", "project_release", project_page)
    blueprint.add_url_rule("/project/<name>/<release>/<tab>", "project_tab", project_page)
    blueprint.add_url_rule("/files/<filename>", "download", download_file)
