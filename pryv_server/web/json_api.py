"""PyPI's legacy JSON API: ``/pypi/<project>/json`` and ``/pypi/<project>/<version>/json``.

Many tools (pip-audit, poetry, renovate, dependabot, pipdeptree…) read these documents, so they
have PyPI's shape and key names: ``info`` (the release's core metadata, Metadata 2.4 and 2.5
fields included), ``releases`` (project document only, as on PyPI), ``urls`` (the files of the
shown release), ``last_serial`` and ``vulnerabilities``, and the ``X-PyPI-Last-Serial`` header
that mirrors (bandersnatch) check against the serial ``/simple/`` announced. Counters pryv does
not keep (downloads) are ``-1``, as PyPI reports them. Documents are built from the in-memory
snapshot and kept in :mod:`pryv_server.web.pages` per host until their project changes.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint
from flask import request
from flask import url_for
from werkzeug.wrappers import Response

from pryv_server.core import Package
from pryv_server.core import Project
from pryv_server.core import Release
from pryv_server.core.access import Action
from pryv_server.core.names import normalize
from pryv_server.errors import PackageNotFound
from pryv_server.errors import ProjectNotFound
from pryv_server.web import authorize
from pryv_server.web.pages import Page
from pryv_server.web.pages import PageKey
from pryv_server.web.proxy_json import NO_DOWNLOADS
from pryv_server.web.proxy_json import python_tag
from pryv_server.web.proxy_json import upstream_json
from pryv_server.web.services import get_services
from pryv_server.web.simple import SERIAL_HEADER

blueprint = Blueprint("json_api", __name__)

PACKAGETYPES = {"wheel": "bdist_wheel", "sdist": "sdist"}


@blueprint.get("/pypi/<project>/json")
def project_json(project: str) -> Response:
    """Describe a project: its latest release's metadata, every release and its files."""
    return _answer(project, None)


@blueprint.get("/pypi/<project>/<version>/json")
def release_json(project: str, version: str) -> Response:
    """Describe one release of a project (no ``releases`` key, as on PyPI)."""
    return _answer(project, version)


def _answer(name: str, version: str | None) -> Response:
    services = get_services()
    snapshot = services.registry.snapshot()
    project = snapshot.project(normalize(name))
    authorize.require(Action.READ, normalize(name), exists=project is not None)
    if project is None:
        if services.mirror is not None:  # a name served from upstream (web/proxy_json.py)
            return upstream_json(services.mirror, snapshot, name, version)
        raise ProjectNotFound(f"no project named {name!r}")
    release = project.latest if version is None else project.release(version)
    if release is None:
        raise PackageNotFound(f"{project.name!r} has no release {version!r}")
    # The document names the host (its URLs are absolute), so each host gets its own.
    form = ("pypi-json", version and str(release.version), request.host_url)
    page = services.pages.page(
        snapshot,
        PageKey(project.normalized, form),
        lambda: Page(
            json.dumps(
                build_document(
                    project, release, version is None, services.registry.description(release.newest)
                ),
                separators=(",", ":"),
            ).encode(),
            project.last_serial,
        ),
    )
    response = Response(page.body, content_type="application/json")
    response.headers[SERIAL_HEADER] = str(page.serial)
    return response


def build_document(
    project: Project, release: Release, with_releases: bool, description: str
) -> dict[str, Any]:
    """Build PyPI's JSON document for ``release`` of ``project``.

    A quarantined project (PEP 792) lists its releases without files: it offers none.
    """
    offered = project.status.offers_files
    document: dict[str, Any] = {"info": _info(project, release, description)}
    document["last_serial"] = project.last_serial
    if with_releases:
        document["releases"] = {
            str(item.version): [_file(package) for package in item.packages if offered]
            for item in project.releases
        }
    document["urls"] = [_file(package) for package in release.packages if offered]
    document["vulnerabilities"] = []
    return document


def _info(project: Project, release: Release, description: str) -> dict[str, Any]:
    meta = release.metadata
    # The explorer's pages, as PyPI points to its own project pages.
    project_page = f"{request.host_url}project/{project.normalized}/"
    urls = dict(meta.project_urls)
    return {
        "author": meta.author,
        "author_email": meta.author_email,
        "bugtrack_url": None,
        "classifiers": list(meta.classifiers),
        "description": description,
        "description_content_type": meta.description_content_type or None,
        "docs_url": None,
        "download_url": meta.download_url,
        "downloads": NO_DOWNLOADS,
        "dynamic": list(meta.dynamic) or None,
        "home_page": meta.home_page,
        "import_names": list(meta.import_names) or None,
        "import_namespaces": list(meta.import_namespaces) or None,
        "keywords": ",".join(meta.keywords),
        "license": meta.license,
        "license_expression": meta.license_expression or None,
        "license_files": list(meta.license_files) or None,
        "maintainer": meta.maintainer,
        "maintainer_email": meta.maintainer_email,
        "metadata_version": meta.metadata_version,
        "name": project.name,
        "obsoletes_dist": list(meta.obsoletes_dist) or None,
        "package_url": project_page,
        "platform": ", ".join(meta.platforms) or None,
        "project_url": project_page,
        "project_urls": urls or None,
        "provides_dist": list(meta.provides_dist) or None,
        "provides_extra": list(meta.provides_extra) or None,
        "release_url": f"{project_page}{release.version}/",
        "requires_dist": list(meta.requires_dist) or None,
        "requires_external": list(meta.requires_external) or None,
        "requires_python": meta.requires_python or None,
        "summary": meta.summary,
        "supported_platform": list(meta.supported_platforms) or None,
        "version": str(release.version),
        "yanked": release.yanked,
        "yanked_reason": release.yanked_reason or None,
    }


def _file(package: Package) -> dict[str, Any]:
    return {
        "comment_text": "",
        # PEP 658/714, as PyPI's JSON API gives it: mirrors fetch the .metadata file with it.
        "core-metadata": {"sha256": package.metadata_sha256} if package.metadata_sha256 else False,
        "digests": {
            "blake2b_256": package.blake2_256,
            "md5": package.md5,
            "sha256": package.sha256,
        },
        "downloads": -1,
        "filename": package.filename,
        "has_sig": False,
        "md5_digest": package.md5,
        "packagetype": PACKAGETYPES[package.kind],
        "python_version": python_version(package),
        "requires_python": package.requires_python or None,
        "size": package.size,
        "upload_time": package.upload_time[:19],
        "upload_time_iso_8601": package.upload_time,
        "url": url_for("api.download.download", filename=package.filename, _external=True),
        "yanked": package.yanked,
        "yanked_reason": package.yanked_reason or None,
    }


def python_version(package: Package) -> str:
    """Return PyPI's ``python_version``: the wheel's Python tag, or ``source`` for an sdist."""
    return "source" if package.kind == "sdist" else python_tag(package.filename)
