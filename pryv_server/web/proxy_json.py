"""PyPI's JSON API (``/pypi/<project>/json``) for names served from upstream.

pryv holds an upstream project's PEP 691 page, not PyPI's JSON document, so it answers what
that page tells honestly and nothing more:

* ``info``: ``name``, ``version`` (the latest release, a final one when there is one, as PyPI
  picks it), ``requires_python``, ``yanked``/``yanked_reason`` of that release, pryv's
  ``package_url``/``project_url``/``release_url``; every core metadata field (summary, author,
  ``requires_dist``, classifiers, description...) is ``null``: it is in each file's
  ``.metadata``, which pryv fetches only when a client asks for it;
* ``releases`` and ``urls``: the files offered (cooldown applied), with pryv's own URLs,
  upstream's ``sha256`` (the only digest; ``md5`` and ``blake2b_256`` are ``null``), size,
  upload time, ``requires_python``, yank and ``core-metadata``, as the simple page gives them;
* ``last_serial``: upstream's ``_last-serial``; download counters ``-1`` as for local projects;
* no ``vulnerabilities`` key: an empty list would claim that none are known.

The same rules as for the simple page decide whether a name is answered (local names never;
blocked ones are a ``403``; a name never cached is looked up upstream).
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from flask import request
from flask import url_for
from packaging.version import InvalidVersion
from packaging.version import Version
from werkzeug.wrappers import Response

from pryv_server.core.mirror import Mirror
from pryv_server.core.names import normalize
from pryv_server.core.snapshot import Snapshot
from pryv_server.core.upstream import MirrorPage
from pryv_server.core.upstream import UpstreamFile
from pryv_server.errors import PackageNotFound
from pryv_server.errors import ProjectNotFound
from pryv_server.web.proxy_pages import UPSTREAM_HEADER
from pryv_server.web.simple import SERIAL_HEADER

# Shared with web/json_api.py (local projects), which imports this module.
NO_DOWNLOADS = {"last_day": -1, "last_month": -1, "last_week": -1}
# Every core metadata field PyPI's ``info`` carries; pryv does not know them for upstream names.
UNKNOWN_INFO = (
    "author",
    "author_email",
    "bugtrack_url",
    "classifiers",
    "description",
    "description_content_type",
    "docs_url",
    "download_url",
    "dynamic",
    "home_page",
    "keywords",
    "license",
    "license_expression",
    "license_files",
    "maintainer",
    "maintainer_email",
    "metadata_version",
    "platform",
    "project_urls",
    "provides_dist",
    "provides_extra",
    "requires_dist",
    "requires_external",
    "summary",
    "supported_platform",
)


def upstream_json(mirror: Mirror, snapshot: Snapshot, name: str, version: str | None) -> Response:
    """Answer ``/pypi/<name>[/<version>]/json`` from the upstream page pryv offers of ``name``."""
    mirrored = mirror.page(snapshot, normalize(name))
    releases = _releases(mirrored)
    if not releases:
        raise ProjectNotFound(f"upstream offers no release of {mirrored.name!r} here")
    shown = _latest(releases) if version is None else _find(releases, version)
    if shown is None:
        raise PackageNotFound(f"{mirrored.name!r} has no release {version!r} here or upstream")
    document: dict[str, Any] = {"info": _info(mirrored, shown, releases[shown])}
    document["last_serial"] = mirrored.serial
    if version is None:
        document["releases"] = {
            str(key): [_file(mirrored, file) for file in files]
            for key, files in sorted(releases.items())
        }
    document["urls"] = [_file(mirrored, file) for file in releases[shown]]
    response = Response(json.dumps(document, separators=(",", ":")), mimetype="application/json")
    response.headers[SERIAL_HEADER] = str(mirrored.serial)
    response.headers[UPSTREAM_HEADER] = mirrored.state
    return response


def _releases(mirrored: MirrorPage) -> dict[Version, list[UpstreamFile]]:
    releases: dict[Version, list[UpstreamFile]] = defaultdict(list)
    for file in mirrored.files:
        version = file.version()
        if version is not None:
            releases[version].append(file)
    return releases


def _latest(releases: dict[Version, list[UpstreamFile]]) -> Version:
    """PyPI shows the newest final release that is not wholly yanked, else the newest one."""
    usable = [v for v, files in releases.items() if not all(f.yanked for f in files)] or list(
        releases
    )
    finals = [version for version in usable if not version.is_prerelease]
    return max(finals or usable)


def _find(releases: dict[Version, list[UpstreamFile]], version: str) -> Version | None:
    try:
        wanted = Version(version)
    except InvalidVersion:
        return None
    return wanted if wanted in releases else None


def _info(mirrored: MirrorPage, version: Version, files: list[UpstreamFile]) -> dict[str, Any]:
    project_page = f"{request.host_url}project/{mirrored.name}/"
    yanked = all(file.yanked for file in files)
    reasons = [file.yanked for file in files if isinstance(file.yanked, str) and file.yanked]
    requires = next((f.requires_python for f in files if f.requires_python), None)
    info: dict[str, Any] = dict.fromkeys(UNKNOWN_INFO)
    info.update(
        {
            "downloads": NO_DOWNLOADS,
            "name": mirrored.name,
            "package_url": project_page,
            "project_url": project_page,
            "release_url": f"{project_page}{version}/",
            "requires_python": requires,
            "version": str(version),
            "yanked": yanked,
            "yanked_reason": (reasons[0] if yanked and reasons else None),
        }
    )
    return dict(sorted(info.items()))


def _file(mirrored: MirrorPage, file: UpstreamFile) -> dict[str, Any]:
    wheel = file.filename.endswith(".whl")
    upload_time = file.upload_time
    return {
        "comment_text": "",
        "core-metadata": (
            {"sha256": file.metadata_sha256} if file.metadata_sha256 else bool(file.core_metadata)
        ),
        "digests": {"blake2b_256": None, "md5": None, "sha256": file.sha256},
        "downloads": -1,
        "filename": file.filename,
        "has_sig": False,
        "md5_digest": None,
        "packagetype": "bdist_wheel" if wheel else "sdist",
        "python_version": python_tag(file.filename),
        "requires_python": file.requires_python,
        "size": file.size,
        "upload_time": upload_time[:19] if upload_time else None,
        "upload_time_iso_8601": upload_time,
        "url": url_for(
            "api.upstream.download", project=mirrored.name, filename=file.filename, _external=True
        ),
        "yanked": bool(file.yanked),
        "yanked_reason": file.yanked if isinstance(file.yanked, str) and file.yanked else None,
    }


def python_tag(filename: str) -> str:
    """Return PyPI's ``python_version``: a wheel's Python tag, or ``source`` for an sdist."""
    if not filename.endswith(".whl"):
        return "source"
    return filename.removesuffix(".whl").split("-")[-3]
