"""Build real wheels and sdists in a temp folder, without a network or a build backend."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import zipfile
from collections.abc import Iterable
from pathlib import Path

from packaging.utils import canonicalize_name

FIXED_TIME = (2024, 1, 1, 0, 0, 0)


def metadata_text(
    name: str,
    version: str,
    *,
    summary: str = "A test package",
    requires_python: str | None = None,
    requires_dist: Iterable[str] = (),
    metadata_version: str = "2.1",
    extra: Iterable[str] = (),
    description: str = "",
    content_type: str | None = None,
) -> str:
    lines = [f"Metadata-Version: {metadata_version}", f"Name: {name}", f"Version: {version}"]
    if summary:
        lines.append(f"Summary: {summary}")
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines += [f"Requires-Dist: {requirement}" for requirement in requires_dist]
    if content_type:
        lines.append(f"Description-Content-Type: {content_type}")
    lines += list(extra)
    text = "\n".join(lines) + "\n"
    if description:
        text += "\n" + description
    return text


def _module_name(name: str) -> str:
    return canonicalize_name(name).replace("-", "_")


def record_hash(digest: bytes) -> str:
    """A file's hash as a wheel's RECORD spells it (PEP 376: urlsafe base64, no padding)."""
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def make_wheel(
    folder: Path,
    name: str,
    version: str,
    *,
    filename: str | None = None,
    payload: str = "",
    tag: str = "py3-none-any",
    **metadata: object,
) -> Path:
    """Write ``<name>-<version>-py3-none-any.whl`` with METADATA, WHEEL, RECORD and a module."""
    module = _module_name(name)
    dist_info = f"{module}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": f"VERSION = {version!r}\n{payload}".encode(),
        f"{dist_info}/METADATA": metadata_text(name, version, **metadata).encode(),  # type: ignore[arg-type]
        f"{dist_info}/WHEEL": (
            f"Wheel-Version: 1.0\nGenerator: pryv-tests\nRoot-Is-Purelib: true\nTag: {tag}\n"
        ).encode(),
    }
    record_lines = []
    for path, content in files.items():
        record_lines.append(
            f"{path},{record_hash(hashlib.sha256(content).digest())},{len(content)}"
        )
    record_lines.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record_lines) + "\n").encode()
    target = folder / (filename or f"{module}-{version}-{tag}.whl")
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, content in files.items():
            info = zipfile.ZipInfo(path, FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return target


def make_sdist(
    folder: Path,
    name: str,
    version: str,
    *,
    filename: str | None = None,
    payload: str = "",
    **metadata: object,
) -> Path:
    """Write ``<name>-<version>.tar.gz`` with PKG-INFO, pyproject.toml and a module."""
    module = _module_name(name)
    top = f"{module}-{version}"
    pkg_info = metadata_text(name, version, **metadata).encode()  # type: ignore[arg-type]
    files = {
        f"{top}/PKG-INFO": pkg_info,
        f"{top}/pyproject.toml": (
            f'[project]\nname = "{name}"\nversion = "{version}"\n'
            '[build-system]\nrequires = ["flit_core>=3.2"]\nbuild-backend = "flit_core.buildapi"\n'
        ).encode(),
        f"{top}/{module}/__init__.py": f'"""{name}."""\n__version__ = {version!r}\n{payload}'.encode(),
    }
    target = folder / (filename or f"{top}.tar.gz")
    return write_tar(target, files)


# An in-tree PEP 517 backend (no build requirement to fetch): its wheel requires DEPENDENCY,
# which the sdist's PKG-INFO leaves out because it marks Requires-Dist as Dynamic (PEP 643).
_DYNAMIC_BACKEND = '''\
"""Decide the dependencies at build time, as a setup.py reading the platform would."""
import base64, hashlib, os, zipfile

NAME, VERSION, MODULE, DEPENDENCY = {name!r}, {version!r}, {module!r}, {dependency!r}
DIST_INFO = f"{{MODULE}}-{{VERSION}}.dist-info"


def _metadata():
    return (f"Metadata-Version: 2.2\\nName: {{NAME}}\\nVersion: {{VERSION}}\\n"
            f"Requires-Dist: {{DEPENDENCY}}\\n")


def get_requires_for_build_wheel(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(directory, config_settings=None):
    os.makedirs(os.path.join(directory, DIST_INFO), exist_ok=True)
    with open(os.path.join(directory, DIST_INFO, "METADATA"), "w") as handle:
        handle.write(_metadata())
    return DIST_INFO


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    with open(os.path.join(MODULE, "__init__.py"), "rb") as handle:
        files = {{f"{{MODULE}}/__init__.py": handle.read(),
                 f"{{DIST_INFO}}/METADATA": _metadata().encode(),
                 f"{{DIST_INFO}}/WHEEL": b"Wheel-Version: 1.0\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"}}
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{{path}},sha256={{digest}},{{len(data)}}")
    files[f"{{DIST_INFO}}/RECORD"] = ("\\n".join(record + [f"{{DIST_INFO}}/RECORD,,"]) + "\\n").encode()
    filename = f"{{MODULE}}-{{VERSION}}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return filename
'''


def make_dynamic_sdist(folder: Path, name: str, version: str, dependency: str) -> Path:
    """Write an sdist whose PKG-INFO (Metadata 2.2) marks Requires-Dist as Dynamic.

    Its wheel, built by an in-tree backend, requires ``dependency``: an installer that trusts
    the sdist's metadata for its dependencies installs it without ``dependency``.
    """
    module = _module_name(name)
    top = f"{module}-{version}"
    backend = _DYNAMIC_BACKEND.format(
        name=name, version=version, module=module, dependency=dependency
    )
    files = {
        f"{top}/PKG-INFO": metadata_text(
            name, version, metadata_version="2.2", extra=["Dynamic: Requires-Dist"]
        ).encode(),
        f"{top}/pyproject.toml": (
            f'[project]\nname = "{name}"\nversion = "{version}"\ndynamic = ["dependencies"]\n'
            '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'
        ).encode(),
        f"{top}/backend.py": backend.encode(),
        f"{top}/{module}/__init__.py": b"VALUE = 'dynamic'\n",
    }
    target = folder / f"{top}.tar.gz"
    return write_tar(target, files)


def write_tar(target: Path, files: dict[str, bytes]) -> Path:
    """Write ``files`` (path in the archive -> bytes) as a reproducible .tar.gz at ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(target, "w:gz", format=tarfile.PAX_FORMAT) as archive:
        for path, content in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(content)
            info.mtime = 1704067200
            archive.addfile(info, io.BytesIO(content))
    return target
