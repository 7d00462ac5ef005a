"""Package records built in memory, for tests of the domain model, the catalog and the pages."""

from __future__ import annotations

from pryv_server.core.models import Metadata
from pryv_server.core.models import Package


def package(
    version: str,
    filename: str | None = None,
    uploaded: str = "2024-01-01T00:00:00Z",
    summary: str = "",
) -> Package:
    filename = filename or f"demo-{version}-py3-none-any.whl"
    return Package(
        filename=filename, project="demo", version=version, kind="wheel", identity=filename,  # type: ignore[arg-type]
        size=1, sha256="0" * 64, upload_time=uploaded, uploader="u", blob_key=f"x/{filename}",
        metadata=Metadata(name="Demo", version=version, summary=summary),
    )  # fmt: skip
