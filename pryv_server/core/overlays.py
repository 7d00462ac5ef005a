"""Small records stored beside the package records that change how a file is served.

A package record is written once and never rewritten (DESIGN.md, persistence invariants). What may
change later about a file lives in separate, tiny records that the index reads alongside:

* **yank records** (PEP 592), one for a whole release and one per file. The most specific
  record wins, so a file can be un-yanked inside a yanked release. A yank record is
  last-writer-wins (like a release's metadata); un-yanking writes ``"yanked": false`` so the log
  of who did what stays.
* **metadata records**, written once by ``pryv backfill-metadata`` for files published before
  pryv extracted core metadata (PEP 658).
* **status records** (PEP 792), one per project, last-writer-wins like a yank: ``active``,
  ``archived``, ``deprecated`` or ``quarantined`` with a reason (see
  :mod:`pryv_server.core.lifecycle`).
* **tombstones**, written once (create-if-absent) when a file is deleted: the catalog hides any
  record they name, and their filename can never be published again.
* **sdist claims**, written once (create-if-absent) by the first sdist of a release and holding
  its identity: a release has one sdist, as on PyPI. The
  index does not read them.

Their keys are spelled in :mod:`pryv_server.core.layout`; every one starts with ``_`` so
:func:`~pryv_server.core.layout.is_record_key` never mistakes one for a package record.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import fields
from dataclasses import replace
from typing import Any

from pryv_server.core import layout
from pryv_server.core.models import STATUSES
from pryv_server.core.models import Package
from pryv_server.core.models import ProjectStatus
from pryv_server.core.models import Tombstone
from pryv_server.core.models import YankState
from pryv_server.errors import InvalidRequest

OVERLAY_SCHEMA = 1
# pip prints a yank reason to whoever installs the release, and every /simple/ page carries it.
MAX_REASON_LENGTH = 500


@dataclass(frozen=True, slots=True)
class MetadataRecord:
    """Where the backfilled core metadata of one file is stored, its digest, and when.

    ``time`` (empty in records written before pryv kept it) moves the project's serial: the
    backfill changes what its pages say.
    """

    metadata_key: str
    metadata_sha256: str
    time: str = ""


Overlay = YankState | MetadataRecord | ProjectStatus | Tombstone


def reason_problem(reason: str) -> str | None:
    """Say what is wrong with a yank reason, or None when it is fine (empty is fine).

    One line of at most :data:`MAX_REASON_LENGTH` characters: no control characters (C0, DEL,
    C1: a terminal escape would reach pip's output) and no Unicode line or paragraph separators.
    """
    if any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in reason):
        return "Reason: keep it to one line (no line breaks or control characters)."
    if len(reason) > MAX_REASON_LENGTH:
        return f"Reason: use at most {MAX_REASON_LENGTH} characters (this one has {len(reason)})."
    return None


def check_reason(reason: str, what: str = "yank") -> str:
    """Return ``reason`` stripped, or raise :class:`InvalidRequest` naming what is wrong.

    :param what: what the reason is for, named in the message ("yank", "status", "deletion").
    """
    reason = reason.strip()
    problem = reason_problem(reason)
    if problem is not None:
        raise InvalidRequest(f"the {what} {problem[0].lower()}{problem[1:]}")
    return reason


def encode(overlay: Overlay) -> bytes:
    """Serialize a record (``schema`` first so readers can migrate)."""
    if isinstance(overlay, YankState):
        body: dict[str, Any] = {
            "yanked": overlay.yanked,
            "reason": overlay.reason,
            "user": overlay.user,
            "time": overlay.time,
        }
    elif isinstance(overlay, ProjectStatus | Tombstone):
        body = asdict(overlay)
    else:
        body = {
            "metadata_key": overlay.metadata_key,
            "metadata_sha256": overlay.metadata_sha256,
            "time": overlay.time,
        }
    return json.dumps({"schema": OVERLAY_SCHEMA, **body}, sort_keys=True).encode("utf-8")


def decode(key: str, content: bytes) -> Overlay:
    """Parse a record read from ``key``; raises ValueError/KeyError/TypeError on a bad one."""
    return decode_record(key, json.loads(content))


def decode_record(key: str, record: Any) -> Overlay:
    """Build the overlay from the JSON object stored under ``key`` (errors as :func:`decode`)."""
    if record.get("schema") != OVERLAY_SCHEMA:
        raise ValueError(f"unsupported record schema {record.get('schema')!r}")
    if key.startswith(layout.YANK_PREFIX):
        return YankState(
            yanked=bool(record["yanked"]),
            reason=str(record.get("reason") or ""),
            user=str(record.get("user") or ""),
            time=str(record.get("time") or ""),
        )
    if key.startswith(layout.STATUS_PREFIX):
        if record["status"] not in STATUSES:
            raise ValueError(f"unknown project status {record['status']!r}")
        return ProjectStatus(**_strings(record, ProjectStatus))
    if key.startswith(layout.TOMBSTONE_PREFIX):
        tombstone = Tombstone(**_strings(record, Tombstone))
        return replace(tombstone, metadata_key=tombstone.metadata_key or None)
    return MetadataRecord(
        str(record["metadata_key"]), str(record["metadata_sha256"]), str(record.get("time") or "")
    )


def _strings(record: Mapping[str, Any], kind: type[ProjectStatus | Tombstone]) -> dict[str, str]:
    """Read the fields of ``kind`` from a record as strings (absent or null: empty)."""
    return {item.name: str(record.get(item.name) or "") for item in fields(kind)}


def apply(package: Package, overlays: Mapping[str, Overlay]) -> Package:
    """Return ``package`` with its yank state and any backfilled metadata applied."""
    if not overlays:
        return package  # nothing was ever yanked or backfilled: the common case at start-up
    changes: dict[str, Any] = {}
    yank = overlays.get(
        layout.file_yank_key(package.project, package.version, package.identity)
    ) or overlays.get(layout.release_yank_key(package.project, package.version))
    if isinstance(yank, YankState) and yank != package.yank:
        changes["yank"] = yank
    backfilled = overlays.get(layout.backfilled_metadata_key(package.project, package.identity))
    if package.metadata_key is None and isinstance(backfilled, MetadataRecord):
        package = package.with_metadata_file(
            backfilled.metadata_key, backfilled.metadata_sha256, backfilled.time
        )
    return replace(package, **changes) if changes else package
