"""The pinned list of real PyPI files (``pypi-files.tsv``) and the download cache that holds them.

The list is written by ``pin.py`` and read by ``tests/e2e/test_real_corpus.py``. The files live
outside the repository, in ``$PRYV_CORPUS_CACHE`` (default ``~/.cache/pryv-corpus``), one file per
name; a missing file is downloaded from its pinned URL, checked against its pinned sha256 and size,
and only then renamed into place, so the cache never holds a partial or altered file.
"""

from __future__ import annotations

import csv
import hashlib
import os
import tarfile
import tempfile
import urllib.request
import zipfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import fields
from pathlib import Path

PINS = Path(__file__).with_name("pypi-files.tsv")
USER_AGENT = "pryv-corpus-test (+https://github.com/pryv; tests/corpus)"


@dataclass(frozen=True)
class Pin:
    """One pinned file: where it comes from, what it must hash to, and what PyPI says of it."""

    project: str
    filename: str
    url: str
    sha256: str
    size: int
    requires_python: str  # "" when PyPI has none
    file_requires_python: str  # the file's own Requires-Python ("" when it has none)
    core_metadata_sha256: str  # "" when PyPI serves no core metadata for the file
    metadata_version: str  # read from the file's METADATA / PKG-INFO when pinned
    kind: str  # wheel, sdist-tar.gz, sdist-zip
    tags: str  # the wheel's platform tags, "" for an sdist
    upload_time: str
    features: str  # comma-separated: license-file, license-expression
    why: str  # newest-wheel, newest-sdist, old, named

    @property
    def is_wheel(self) -> bool:
        return self.kind == "wheel"


def cache_dir() -> Path:
    """Where downloaded files are kept between runs (outside the repository)."""
    default = Path.home() / ".cache" / "pryv-corpus"
    return Path(os.environ.get("PRYV_CORPUS_CACHE") or default).expanduser()


def read_pins(path: Path = PINS) -> list[Pin]:
    with path.open(newline="") as stream:
        rows = list(csv.DictReader(stream, delimiter="\t"))
    return [Pin(**{**row, "size": int(row["size"])}) for row in rows]  # type: ignore[arg-type]


def write_pins(pins: Iterable[Pin], path: Path = PINS) -> None:
    names = [field.name for field in fields(Pin)]
    with path.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, names, delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(asdict(pin) for pin in pins)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(pin: Pin, directory: Path) -> Path:
    """Return the cached file of ``pin``, downloading it first when it is missing or altered.

    :raises ValueError: the downloaded bytes are not the pinned ones.
    """
    target = directory / pin.filename
    if target.exists() and sha256_of(target) == pin.sha256:
        return target
    directory.mkdir(parents=True, exist_ok=True)
    request = urllib.request.Request(pin.url, headers={"User-Agent": USER_AGENT})
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".part-")
    try:
        digest = hashlib.sha256()
        with os.fdopen(handle, "wb") as output, urllib.request.urlopen(request, timeout=120) as r:
            while chunk := r.read(1 << 20):
                digest.update(chunk)
                output.write(chunk)
        size = os.path.getsize(temporary)
        if digest.hexdigest() != pin.sha256 or size != pin.size:
            raise ValueError(
                f"{pin.filename}: downloaded {size} bytes with sha256 {digest.hexdigest()}, "
                f"pinned {pin.size} bytes with sha256 {pin.sha256}"
            )
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return target


def fetch_all(pins: list[Pin], directory: Path | None = None, threads: int = 8) -> list[Path]:
    """Make sure every pinned file is in the cache (in parallel); return their paths in order."""
    where = directory or cache_dir()
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda pin: fetch(pin, where), pins))


def read_metadata(path: Path) -> bytes:
    """The METADATA of a wheel or the top-level PKG-INFO of an sdist."""
    name = path.name
    if name.endswith(".whl"):
        with zipfile.ZipFile(path) as archive:
            member = next(
                n
                for n in archive.namelist()
                if n.count("/") == 1 and n.endswith(".dist-info/METADATA")
            )
            return archive.read(member)
    if name.endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            member = min((n for n in archive.namelist() if n.endswith("PKG-INFO")), key=len)
            return archive.read(member)
    with tarfile.open(path) as archive:
        member = min((m for m in archive.getnames() if m.endswith("PKG-INFO")), key=len)
        extracted = archive.extractfile(member)
        assert extracted is not None
        return extracted.read()
