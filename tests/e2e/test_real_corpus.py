"""Every real distribution uploads: a pinned corpus of PyPI files through twine and back (issue 12).

``tests/corpus/pypi-files.tsv`` pins a few hundred files that no one here wrote: the newest wheel
and sdist of the most downloaded projects, older files back to 2016 (Metadata-Version 1.0 to 2.5,
``.zip`` and ``.tar.gz`` sdists, pure, manylinux, musllinux, macOS and Windows wheels) and files
pryv once refused. Missing files are downloaded into ``$PRYV_CORPUS_CACHE`` (default
``~/.cache/pryv-corpus``) and checked against their pinned sha256; re-pin with
``python -m tests.corpus.pin`` (see docs/contributing.md).

Everything is uploaded with real twine to a real ``pryv start`` (the newest twine, or twine 5.1.1
for the files that the newest refuses on its own before sending them), then each file is checked
as a client sees it: accepted; listed on its ``/simple/<project>/`` JSON page with PyPI's sha256,
size and requires-python; a wheel's ``core-metadata`` hash is PyPI's (where PyPI serves core
metadata) and that of the wheel's own METADATA; whatever metadata pryv advertises, for any file,
is what ``.metadata`` sends; the download is byte-identical; the explorer's project page answers
200. Every problem of every file is collected and reported at once, grouped by problem.
"""

from __future__ import annotations

import collections
import hashlib
import http.cookiejar
import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import twine as twine_package
from packaging.specifiers import InvalidSpecifier
from packaging.specifiers import SpecifierSet
from twine.exceptions import InvalidDistribution
from twine.package import PackageFile

from tests.corpus.cache import Pin
from tests.corpus.cache import fetch_all
from tests.corpus.cache import read_metadata
from tests.corpus.cache import read_pins
from tests.credentials import basic_header
from tests.e2e.servers import PASSWORD
from tests.e2e.servers import USER
from tests.e2e.servers import Server
from tests.e2e.servers import clean_env
from tests.e2e.servers import run
from tests.e2e.servers import start_with_user
from tests.e2e.servers import stop_server
from tests.e2e.tools import shared_dir
from tests.e2e.tools import tool_venv

pytestmark = pytest.mark.e2e

JSON_PAGE = "application/vnd.pypi.simple.v1+json"
UPLOADERS = 3  # parallel twine processes (twine itself uploads one file after the other)
CHECKERS = 8
TWINE = twine_package.__version__


@pytest.fixture(scope="module")
def corpus() -> list[tuple[Pin, Path]]:
    pins = read_pins()
    return list(zip(pins, fetch_all(pins), strict=True))


@pytest.fixture(scope="module")
def corpus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("corpus-server")
    running = start_with_user(root, "--workers", "3", extra="login-attempts = 0\n")
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def old_twine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tool_venv(shared_dir(tmp_path_factory), "twine-5") / "twine"


def test_every_real_distribution_uploads_and_comes_back_unchanged(
    corpus: list[tuple[Pin, Path]], corpus_server: Server, old_twine: Path
) -> None:
    started = time.monotonic()
    refused, by_old_twine = upload_all(corpus_server, [path for _, path in corpus], old_twine)
    uploaded = time.monotonic()
    client = Client(corpus_server)
    with ThreadPoolExecutor(CHECKERS) as pool:
        problems = list(pool.map(lambda item: check(client, refused, *item), corpus))
    checked = time.monotonic()
    print(
        f"{len(corpus)} files: uploads {uploaded - started:.0f} s, checks {checked - uploaded:.0f} s"
    )
    notes = {
        name: [f"twine {TWINE} refuses, sent with twine 5.1.1: {why}"]
        for name, why in by_old_twine.items()
    }
    print(group(notes))
    report = group({pin.filename: found for (pin, _), found in zip(corpus, problems, strict=True)})
    bad = sum(1 for found in problems if found)
    assert not bad, f"{bad} of {len(corpus)} real files have problems\n{report}"


# -- uploading -----------------------------------------------------------------------------------


def upload_all(
    server: Server, paths: list[Path], old_twine: Path
) -> tuple[dict[str, str], dict[str, str]]:
    """Upload every file; return the refused ones with twine's account of why.

    The newest twine refuses some files that PyPI hosts before sending them (its own metadata
    checks are stricter than PyPI's: Metadata-Version 2.0, a License-Expression under 2.1,
    old Requires-Dist spellings); those go up with twine 5.1.1, as they once did, so pryv
    still sees them. They are returned second, with the newest twine's reason.
    """
    with ThreadPoolExecutor(CHECKERS) as pool:
        objections = dict(zip(paths, pool.map(twine_objection, paths), strict=True))
    newest = [path for path in paths if objections[path] is None]
    shares = [(new_twine(), newest[start::UPLOADERS]) for start in range(UPLOADERS)]
    shares.append(([str(old_twine)], [path for path in paths if objections[path] is not None]))
    with ThreadPoolExecutor(len(shares)) as pool:
        results = list(pool.map(lambda share: upload_share(server, *share), shares))
    refused = {name: reason for result in results for name, reason in result.items()}
    return refused, {path.name: str(why) for path, why in objections.items() if why is not None}


def new_twine() -> list[str]:
    return [sys.executable, "-m", "twine"]


def twine_objection(path: Path) -> str | None:
    """What twine's own checks say against ``path`` (the code ``twine upload`` runs first)."""
    try:
        PackageFile.from_filename(str(path), None)
    except InvalidDistribution as error:
        return str(error)
    return None


def upload_share(server: Server, twine: list[str], paths: list[Path]) -> dict[str, str]:
    """Run ``twine`` over ``paths``; when it stops at a refused file, note why and go on.

    twine sends wheels before sdists, whatever the order given: what is left after a refusal is
    every file it has not started to send.
    """
    refused: dict[str, str] = {}
    remaining = list(paths)
    while remaining:
        result = run(
            *twine, "upload", "--non-interactive", "--disable-progress-bar", "--verbose",
            "--repository-url", f"{server.url}/simple/", "-u", USER, "-p", PASSWORD,
            *map(str, remaining), check=False, timeout=900,
            env=clean_env(PIP_CONFIG_FILE="/dev/null", NO_COLOR="1", COLUMNS="400"),
        )  # fmt: skip
        if result.returncode == 0:
            break
        output = result.stdout + result.stderr
        started = re.findall(r"^Uploading (\S+)\s*$", output, re.MULTILINE)
        names = [path.name for path in remaining]
        if not started or started[-1] not in names:
            return {**refused, **{name: f"twine failed: {tail(output)}" for name in names}}
        refused[started[-1]] = server_reason(output)
        remaining = [path for path in remaining if path.name not in started]
    return refused


def server_reason(output: str) -> str:
    """The status and the server's one-line reason (twine --verbose prints the response body)."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for number, line in enumerate(lines):
        if "HTTPError:" in line:
            status = re.sub(r" from \S+", "", line.split("HTTPError:", 1)[1].strip())
            return f"{status}: {' '.join(lines[number + 1 : number + 2])}"[:300]
    return tail(output)


def tail(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return " ".join(lines[-2:])[:300] if lines else "no output"


# -- checking ------------------------------------------------------------------------------------


class Client:
    """HTTP Basic for the API, a logged-in session for the explorer; one simple page per project."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.basic = basic_header(USER, PASSWORD)
        self.browser = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        self.pages: dict[str, Any] = {}
        self._log_in()

    def _log_in(self) -> None:
        form = self.browser.open(f"{self.server.url}/login", timeout=30).read().decode()
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert csrf, form
        data = urllib.parse.urlencode(
            {"csrf_token": csrf[1], "username": USER, "password": PASSWORD}
        ).encode()
        self.browser.open(f"{self.server.url}/login", data=data, timeout=30)

    def api(self, path: str, accept: str = "*/*") -> tuple[int, bytes]:
        url = urllib.parse.urljoin(self.server.url, path)
        request = urllib.request.Request(
            url, headers={"Authorization": self.basic, "Accept": accept}
        )
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def simple_page(self, project: str) -> Any:
        if project not in self.pages:  # a race only costs a second identical request
            status, body = self.api(f"/simple/{project}/", JSON_PAGE)
            self.pages[project] = json.loads(body) if status == 200 else {"status": status}
        return self.pages[project]

    def explorer_status(self, project: str) -> int:
        try:
            with self.browser.open(f"{self.server.url}/project/{project}/", timeout=60) as page:
                return int(page.status)
        except urllib.error.HTTPError as error:
            return error.code


def check(client: Client, refused: dict[str, str], pin: Pin, path: Path) -> list[str]:
    """Every problem of one file, as ``"what: detail"`` lines."""
    if pin.filename in refused:
        return [f"refused: {refused[pin.filename]}"]
    page = client.simple_page(pin.project)
    if "files" not in page:
        return [f"simple page: /simple/{pin.project}/ answered {page['status']}"]
    entry = next((e for e in page["files"] if e["filename"] == pin.filename), None)
    if entry is None:
        return [f"not listed: on /simple/{pin.project}/"]
    problems = list(check_listing(pin, entry))
    download = urllib.parse.urljoin(f"{client.server.url}/simple/{pin.project}/", entry["url"])
    problems += check_metadata(client, pin, path, entry, download)
    status, body = client.api(download)
    if status != 200 or hashlib.sha256(body).hexdigest() != pin.sha256:
        problems.append(f"download: {status}, {len(body)} bytes, not the pinned ones")
    explorer = client.explorer_status(pin.project)
    if explorer != 200:
        problems.append(f"explorer: /project/{pin.project}/ answered {explorer}")
    return problems


def check_listing(pin: Pin, entry: dict[str, Any]) -> Iterator[str]:
    if entry.get("hashes", {}).get("sha256") != pin.sha256:
        yield f"listed sha256: {entry.get('hashes')} (PyPI: {pin.sha256})"
    if entry.get("size") != pin.size:
        yield f"listed size: {entry.get('size')} (PyPI: {pin.size})"
    listed = entry.get("requires-python") or ""
    # PyPI normalizes the spelling ("<4,>=3.6" for ">=3.6,<4"); files uploaded before PyPI
    # recorded it have none there, and then the file's own Requires-Python is the reference.
    expected = pin.requires_python or pin.file_requires_python
    if not same_specifiers(listed, expected):
        yield f"listed requires-python: {listed!r} (PyPI: {pin.requires_python!r}, file: {pin.file_requires_python!r})"


def same_specifiers(first: str, second: str) -> bool:
    try:
        return SpecifierSet(first) == SpecifierSet(second)
    except InvalidSpecifier:
        return first.strip() == second.strip()


def check_metadata(
    client: Client, pin: Pin, path: Path, entry: dict[str, Any], download: str
) -> list[str]:
    """A wheel's core metadata is PyPI's (where PyPI serves it) and its own METADATA, byte for
    byte; whatever pryv advertises for any file is what ``.metadata`` sends."""
    advertised = entry.get("core-metadata")
    if pin.core_metadata_sha256 and advertised != {"sha256": pin.core_metadata_sha256}:
        return [f"core-metadata: {advertised!r} (PyPI: sha256 {pin.core_metadata_sha256})"]
    own = hashlib.sha256(read_metadata(path)).hexdigest() if pin.is_wheel else None
    if own and advertised != {"sha256": own}:
        return [f"core-metadata: {advertised!r} (the wheel's METADATA: sha256 {own})"]
    if not isinstance(advertised, dict):
        return []
    status, body = client.api(download + ".metadata")
    if status != 200 or hashlib.sha256(body).hexdigest() != advertised.get("sha256"):
        return [f".metadata: {status}, {len(body)} bytes not hashing to {advertised}"]
    return []


def group(problems: dict[str, list[str]]) -> str:
    """One section per kind of problem (the text before the first colon), each file under it."""
    groups: dict[str, list[str]] = collections.defaultdict(list)
    for filename, found in problems.items():
        for problem in found:
            kind, _, detail = problem.partition(":")
            groups[kind].append(f"  {filename}: {detail.strip()}")
    sections = [
        f"{kind} ({len(lines)}):\n" + "\n".join(sorted(lines))
        for kind, lines in sorted(groups.items())
    ]
    return "\n".join(sections)
