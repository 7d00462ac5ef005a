"""Storage backends: bytes under keys, with atomic and create-if-absent writes.

``S3Storage`` lives in :mod:`pryv_server.storage.s3` and is not imported here: boto3 is an
optional dependency (``pip install "pryv[aws]"``).
"""

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
