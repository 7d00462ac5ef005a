"""The domain: projects, releases, metadata and packages, and the registry that publishes them."""

from pryv_server.core.catalog import Catalog
from pryv_server.core.metadata import Metadata
from pryv_server.core.models import Package
from pryv_server.core.models import Project
from pryv_server.core.models import Release
from pryv_server.core.publish import Published
from pryv_server.core.publish import Upload
from pryv_server.core.registry import Registry

__all__ = [
    "Catalog",
    "Metadata",
    "Package",
    "Project",
    "Published",
    "Registry",
    "Release",
    "Upload",
]
