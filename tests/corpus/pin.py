"""Build ``tests/corpus/pypi-files.tsv``: the real PyPI files that the corpus test uploads.

Run it by hand to re-pin (it is not a test; it reaches PyPI and downloads every chosen file):

    .venv/bin/python -m tests.corpus.pin --ranking pypi.tsv [--top 150]

``--ranking`` is a tab-separated file with a header naming the columns ``name`` and
``rank_among_15000_most_downloaded`` (any list of the most downloaded projects in that shape).
For each of the ``--top`` projects it pins the newest wheel (platforms rotate between manylinux,
musllinux, macOS and Windows so that every kind occurs) and the newest sdist, and, where PyPI has
one, a file uploaded 2016-2023 (years and wheel/sdist alternate, so that the old Metadata-Versions
1.0 to 2.1 occur); then the ``NAMED`` files, which pryv once refused. Files over 10 MB are left
out, except named ones.

Each file's sha256, size, requires-python and upload time come from PyPI's JSON simple API (PEP
691); its core-metadata sha256 from the simple API when PyPI puts it there, else from the project's
JSON API (``/pypi/<name>/json``), else, for a wheel, from the ``.metadata`` file PyPI serves
beside it (PEP 658), when it does. The file is downloaded into the
cache (``$PRYV_CORPUS_CACHE``) to read its Metadata-Version and whether it carries License-File or
License-Expression. A summary by Metadata-Version and kind is printed at the end.
"""

from __future__ import annotations

import argparse
import collections
import csv
import datetime
import email.parser
import hashlib
import itertools
import json
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from dataclasses import replace
from pathlib import Path
from typing import Any

from packaging.utils import InvalidSdistFilename
from packaging.utils import InvalidWheelFilename
from packaging.utils import canonicalize_name
from packaging.utils import parse_sdist_filename
from packaging.utils import parse_wheel_filename
from packaging.version import Version

from tests.corpus.cache import PINS
from tests.corpus.cache import USER_AGENT
from tests.corpus.cache import Pin
from tests.corpus.cache import cache_dir
from tests.corpus.cache import fetch
from tests.corpus.cache import read_metadata
from tests.corpus.cache import write_pins

MAX_SIZE = 10 * 1024 * 1024
OLD_YEARS = range(2016, 2024)
# Platforms of the newest wheel, in turn from one project to the next (the first that exists).
PLATFORMS = [
    ("manylinux", "x86_64"),
    ("musllinux", "x86_64"),
    ("macosx", "arm64"),
    ("win", "amd64"),
    ("manylinux", "aarch64"),
    ("macosx", "x86_64"),
]
# Files pryv refused once (issue 12): (project, version, "wheel" / "sdist" / "both").
NAMED = [
    ("requests", "2.32.3", "both"),
    ("urllib3", "2.2.3", "both"),
    ("certifi", "2024.8.30", "both"),
    ("charset-normalizer", "3.4.0", "both"),
    ("setuptools", "75.8.0", "both"),
    ("six", "1.17.0", "both"),
    ("pyyaml", "6.0.2", "both"),
    ("botocore", "1.16.20", "wheel"),
    ("text-unidecode", "1.3", "wheel"),
    ("soupsieve", "2.4.1", "wheel"),
    ("pyarrow", "26.0.1", "sdist"),
    ("zope-interface", "7.2", "both"),
    ("ruamel-yaml", "0.18.6", "both"),
    ("jaraco-functools", "4.1.0", "both"),
    ("backports-tarfile", "1.2.0", "both"),
]


@dataclass(frozen=True)
class Candidate:
    """One file of PyPI's simple page, with the version and tags its name gives."""

    project: str
    info: dict[str, Any]
    version: Version
    wheel_tags: frozenset[str] | None  # None for an sdist

    @property
    def filename(self) -> str:
        return str(self.info["filename"])

    @property
    def year(self) -> int:
        return int(self.info["upload-time"][:4])


def get_json(url: str, accept: str = "application/json") -> Any:
    request = urllib.request.Request(url, headers={"Accept": accept, "User-Agent": USER_AGENT})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.load(response)


def candidates(project: str) -> tuple[list[Candidate], dict[str, str]]:
    """Every usable file of ``project`` (not yanked, a parseable name), and core-metadata hashes."""
    simple = get_json(f"https://pypi.org/simple/{project}/", "application/vnd.pypi.simple.v1+json")
    found = []
    for info in simple["files"]:
        parsed = _parse(info["filename"])
        if parsed is None or info.get("yanked"):
            continue
        found.append(Candidate(simple["name"], info, *parsed))
    return found, core_metadata(project, simple["files"])


def _parse(filename: str) -> tuple[Version, frozenset[str] | None] | None:
    try:
        if filename.endswith(".whl"):
            _, version, _, tags = parse_wheel_filename(filename)
            return version, frozenset(str(tag) for tag in tags)
        if filename.endswith((".tar.gz", ".zip")):
            return parse_sdist_filename(filename)[1], None
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    return None


def core_metadata(project: str, files: list[dict[str, Any]]) -> dict[str, str]:
    """Filename -> sha256 of the core metadata PyPI serves (PEP 658/714)."""
    hashes = {}
    for info in files:
        served = info.get("core-metadata") or info.get("data-dist-info-metadata")
        if isinstance(served, dict):
            hashes[info["filename"]] = served["sha256"]
    if hashes:
        return hashes
    # Some PyPI front ends leave the key out of the simple page; the JSON API always has it.
    releases = get_json(f"https://pypi.org/pypi/{project}/json")["releases"]
    for info in itertools.chain.from_iterable(releases.values()):
        served = info.get("core-metadata")
        if isinstance(served, dict):
            hashes[info["filename"]] = served["sha256"]
    return hashes


def newest(
    files: list[Candidate], accept: Callable[[Candidate], bool], prefer: Callable[[Candidate], int]
) -> Candidate | None:
    """The file of the newest final release that ``accept`` takes, the ``prefer``-lowest of it."""
    usable = [c for c in files if accept(c) and not c.version.is_prerelease]
    if not usable:
        return None
    top = max(c.version for c in usable)
    return min((c for c in usable if c.version == top), key=lambda c: (prefer(c), c.info["size"]))


def platform_rank(turn: int) -> Callable[[Candidate], int]:
    order = PLATFORMS[turn % len(PLATFORMS) :] + PLATFORMS[: turn % len(PLATFORMS)]

    def rank(candidate: Candidate) -> int:
        tags = " ".join(candidate.wheel_tags or ())
        for position, (system, machine) in enumerate(order):
            if system in tags and machine in tags:
                return position
        return len(order)

    return rank


def small(candidate: Candidate) -> bool:
    return int(candidate.info["size"]) <= MAX_SIZE


def choose(turn: int, files: list[Candidate]) -> Iterator[tuple[Candidate, str]]:
    """The newest wheel, the newest sdist and one old file of a project."""
    wheel = newest(files, lambda c: small(c) and c.wheel_tags is not None, platform_rank(turn))
    sdist = newest(files, lambda c: small(c) and c.wheel_tags is None, lambda c: 0)
    if wheel:
        yield wheel, "newest-wheel"
    if sdist:
        yield sdist, "newest-sdist"
    old = [c for c in files if small(c) and c.year in OLD_YEARS]
    want_wheel = (turn // len(OLD_YEARS)) % 2 == 0
    year = OLD_YEARS[turn % len(OLD_YEARS)]

    def distance(c: Candidate) -> tuple[int, int, int]:
        kind_miss = int((c.wheel_tags is not None) != want_wheel)
        return abs(c.year - year), kind_miss, int(c.info["size"])

    if old:
        yield min(old, key=distance), "old"


def named(files: list[Candidate], version: str, which: str) -> Iterator[tuple[Candidate, str]]:
    release = [c for c in files if c.version == Version(version)]
    if which in ("wheel", "both"):
        wheels = [c for c in release if c.wheel_tags is not None]
        if wheels:
            yield min(wheels, key=lambda c: (platform_rank(0)(c), c.info["size"])), "named"
    if which in ("sdist", "both"):
        yield from ((c, "named") for c in release if c.wheel_tags is None)


def to_pin(candidate: Candidate, why: str, metadata_hashes: dict[str, str]) -> Pin:
    info = candidate.info
    filename = candidate.filename
    kind = (
        "wheel"
        if filename.endswith(".whl")
        else "sdist-zip"
        if filename.endswith(".zip")
        else "sdist-tar.gz"
    )
    platforms = sorted({tag.split("-")[2] for tag in candidate.wheel_tags or ()})
    return Pin(
        project=canonicalize_name(candidate.project),
        filename=filename,
        url=info["url"],
        sha256=info["hashes"]["sha256"],
        size=int(info["size"]),
        requires_python=info.get("requires-python") or "",
        file_requires_python="",
        core_metadata_sha256=metadata_hashes.get(filename, ""),
        metadata_version="",
        kind=kind,
        tags=".".join(platforms),
        upload_time=info["upload-time"],
        features="",
        why=why,
    )


def served_metadata(pin: Pin) -> str:
    """The sha256 of the core metadata PyPI serves beside a wheel ("" when it serves none).

    Some PyPI front ends leave the hash out of both APIs for files whose ``.metadata`` they
    serve all the same: ask for the file itself.
    """
    if pin.core_metadata_sha256 or not pin.is_wheel:
        return pin.core_metadata_sha256
    request = urllib.request.Request(pin.url + ".metadata", headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return hashlib.sha256(response.read()).hexdigest()
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return ""
        raise


def describe(pin: Pin) -> Pin:
    """Download ``pin`` into the cache and record its Metadata-Version and License-* fields."""
    path = fetch(pin, cache_dir())
    headers = email.parser.BytesHeaderParser().parsebytes(read_metadata(path))
    features = [name for name in ("License-File", "License-Expression") if name in headers]
    return replace(
        pin,
        core_metadata_sha256=served_metadata(pin),
        metadata_version=str(headers["Metadata-Version"]).strip(),
        file_requires_python=str(headers.get("Requires-Python") or "").strip(),
        features=",".join(feature.lower() for feature in features),
    )


def top_projects(ranking: Path, top: int) -> list[str]:
    with ranking.open(newline="") as stream:
        rows = csv.DictReader(stream, delimiter="\t")
        ranked = [
            (int(r["rank_among_15000_most_downloaded"]), r["name"])
            for r in rows
            if r["rank_among_15000_most_downloaded"]
        ]
    return [name for _, name in sorted(ranked)[:top]]


def pin_project(turn: int, project: str, version: str | None, which: str) -> list[Pin]:
    files, hashes = candidates(project)
    chosen = choose(turn, files) if version is None else named(files, version, which)
    return [to_pin(candidate, why, hashes) for candidate, why in chosen]


def merge(found: list[Pin]) -> list[Pin]:
    """One pin per filename; a file chosen for two reasons says both."""
    unique: dict[str, Pin] = {}
    for pin in found:
        seen = unique.get(pin.filename)
        unique[pin.filename] = pin if seen is None else replace(seen, why=f"{seen.why}+{pin.why}")
    return list(unique.values())


def platform(pin: Pin) -> str:
    """The family of a wheel's platform tags (manylinux, musllinux, macosx, win, any...)."""
    if not pin.tags:
        return "sdist"
    families = {
        re.sub(r"(linux|macosx|win)\S*", r"\1", tag.split("_")[0]) for tag in pin.tags.split(".")
    }
    return "+".join(sorted(families))


def summarize(pins: list[Pin]) -> None:
    print(
        f"{len(pins)} files, {sum(p.size for p in pins) / 1e6:.0f} MB, {len({p.project for p in pins})} projects"
    )
    for title, key in [
        ("Metadata-Version", lambda p: p.metadata_version),
        ("kind", lambda p: p.kind),
        ("why", lambda p: p.why),
        ("platform", platform),
        ("features", lambda p: f"{p.metadata_version} {p.features}" if p.features else "none"),
    ]:
        counts = collections.Counter(map(key, pins))
        print(f"{title}: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--ranking", type=Path, required=True)
    parser.add_argument("--top", type=int, default=150)
    parser.add_argument("--out", type=Path, default=PINS)
    return parser


def main() -> None:
    arguments = build_parser().parse_args()
    jobs: list[tuple[int, str, str | None, str]] = [
        (turn, name, None, "")
        for turn, name in enumerate(top_projects(arguments.ranking, arguments.top))
    ]
    jobs += [(0, name, version, which) for name, version, which in NAMED]
    with ThreadPoolExecutor(8) as pool:
        found = list(itertools.chain.from_iterable(pool.map(lambda job: pin_project(*job), jobs)))
        described = list(pool.map(describe, merge(found)))
    described.sort(key=lambda pin: (pin.project, pin.filename))
    write_pins(described, arguments.out)
    summarize(described)
    print(f"pinned on {datetime.date.today()} into {arguments.out}")


if __name__ == "__main__":
    main()
