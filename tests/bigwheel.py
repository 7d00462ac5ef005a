"""Build a large, incompressible wheel on disk, streamed (memory stays flat whatever the size)."""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path

from tests.dists import FIXED_TIME
from tests.dists import metadata_text
from tests.dists import record_hash

CHUNK = 1024 * 1024


def make_big_wheel(folder: Path, name: str, version: str, size: int) -> Path:
    """Write ``<name>-<version>-py3-none-any.whl`` holding ``size`` random bytes (stored)."""
    module = name.lower().replace("-", "_")
    dist_info = f"{module}-{version}.dist-info"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{module}-{version}-py3-none-any.whl"
    records = []
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as archive:
        data = zipfile.ZipInfo(f"{module}/blob.bin", FIXED_TIME)
        digest = hashlib.sha256()
        with archive.open(data, "w", force_zip64=True) as member:
            left = size
            while left:
                chunk = os.urandom(min(CHUNK, left))
                member.write(chunk)
                digest.update(chunk)
                left -= len(chunk)
        records.append(f"{module}/blob.bin,{record_hash(digest.digest())},{size}")
        small = {
            f"{module}/__init__.py": b"",
            f"{dist_info}/METADATA": metadata_text(name, version).encode(),
            f"{dist_info}/WHEEL": (
                b"Wheel-Version: 1.0\nGenerator: pryv-tests\nRoot-Is-Purelib: true\n"
                b"Tag: py3-none-any\n"
            ),
        }
        for path, content in small.items():
            archive.writestr(zipfile.ZipInfo(path, FIXED_TIME), content)
            records.append(f"{path},{record_hash(hashlib.sha256(content).digest())},{len(content)}")
        records.append(f"{dist_info}/RECORD,,")
        archive.writestr(
            zipfile.ZipInfo(f"{dist_info}/RECORD", FIXED_TIME), "\n".join(records) + "\n"
        )
    return target


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
