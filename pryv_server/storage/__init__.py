"""Storage backends: bytes under keys, with atomic and create-if-absent writes."""

from pryv_server.storage.base import ObjectInfo
from pryv_server.storage.base import Presigner
from pryv_server.storage.base import Storage
from pryv_server.storage.base import validate_key
from pryv_server.storage.local import LocalStorage
from pryv_server.storage.memory import MemoryStorage

__all__ = [
    "LocalStorage",
    "MemoryStorage",
    "ObjectInfo",
    "Presigner",
    "Storage",
    "validate_key",
]
