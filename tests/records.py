"""Package records built in memory, for tests of the domain model, the catalog and the pages.

Also written into a store: straight (:func:`seed`), or as the publisher does (:func:`publish`).
"""

from __future__ import annotations

import io
import json
from dataclasses import replace

from pryv_server.core import Catalog
from pryv_server.core.layout import record_key
from pryv_server.core.metadata import Metadata
from pryv_server.core.models import Package
from pryv_server.storage import MemoryStorage


def package(
    version: str,
    filename: str | None = None,
    uploaded: str = "2024-01-01T00:00:00Z",
    summary: str = "",
) -> Package:
    filename = filename or f"demo-{version}-py3-none-any.whl"
    return Package.build(
        Metadata(name="Demo", version=version, summary=summary),
        filename=filename, project="demo", version=version, kind="wheel", identity=filename,  # type: ignore[arg-type]
        size=1, sha256="0" * 64, upload_time=uploaded, uploader="u", blob_key=f"x/{filename}",
    )  # fmt: skip


def item(project: str, version: str) -> Package:
    """A wheel of ``project`` at ``version``."""
    base = package(version)
    filename = f"{project}-{version}-py3-none-any.whl"
    return replace(base, project=project, filename=filename, identity=filename)


def publish(records: MemoryStorage, writer: Catalog, project: str, version: str) -> str:
    """Do what the publisher does: write the record, then journal it."""
    new = item(project, version)
    key = record_key(new.project, new.identity)
    MemoryStorage.write(records, key, io.BytesIO(json.dumps(new.to_json()).encode()))
    writer.published(key, new)
    return key


def seed(records: MemoryStorage, files: int) -> list[str]:
    """Write ``files`` records straight into the store, as a store from before the journal."""
    keys = []
    for n in range(files):
        new = item(f"p{n % 1000}", f"1.{n}")
        keys.append(record_key(new.project, new.identity))
        MemoryStorage.write(records, keys[-1], io.BytesIO(json.dumps(new.to_json()).encode()))
    return keys
