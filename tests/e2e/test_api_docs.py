"""The yanking and backfill commands of docs/api.md, run as shown against a real ``pryv start``.

``pryv yank`` and ``pryv backfill-metadata`` run with the default configuration file: the test's
HOME holds ``~/.pryv/pryv.ini``, a copy of the running server's. What they print must be what the
docs show, and the running server must serve the change. The ``curl`` example runs with the
server's URL in place of ``https://pryv.example.com``, and its answer must be the JSON the docs
show.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.dists import make_sdist
from tests.dists import make_wheel
from tests.docs_commands import docs_block
from tests.docs_commands import docs_file
from tests.e2e.servers import Server
from tests.e2e.servers import add_user
from tests.e2e.servers import free_port
from tests.e2e.servers import start_server
from tests.e2e.servers import stop_server
from tests.e2e.servers import tool
from tests.e2e.servers import twine_upload
from tests.e2e.servers import write_config
from tests.e2e.tools import DOCS_PASSWORD
from tests.e2e.tools import DOCS_USER
from tests.e2e.tools import add_docs_user
from tests.e2e.tools import docs_env
from tests.e2e.tools import docs_get
from tests.e2e.tools import home_with_config
from tests.e2e.tools import run_block
from tests.e2e.tools import run_shown

pytestmark = pytest.mark.e2e

PAGE = "api.md"
BACKFILL = "Backfilling the metadata of older files"
DOCS_BLOCKS = [(PAGE, BACKFILL), (PAGE, "From the command line"), (PAGE, "Over HTTP")]


def yanked_files(server: Server) -> dict[str, object]:
    _, text = docs_get(server, "/simple/demo/", accept="application/vnd.pypi.simple.v1+json")
    return {file["filename"]: file["yanked"] for file in json.loads(text)["files"]}


def test_yank_over_http_then_with_the_cli(server: Server, tmp_path: Path) -> None:
    add_docs_user(server)
    dist = tmp_path / "dist"
    wheel = make_wheel(dist, "demo", "1.0")
    twine_upload(server, wheel)

    (curl,) = docs_block(PAGE, "Over HTTP")
    assert curl.startswith("curl ")
    assert shutil.which("curl"), "the docs show curl: install it (.ci/run does)"
    answer = run_block([curl], server, tmp_path, docs_env(tmp_path / "curl-home")).stdout
    assert json.loads(answer) == json.loads(docs_file(PAGE, "Over HTTP", "json"))
    assert yanked_files(server) == {wheel.name: "broken build"}

    # The CLI example's release has a wheel and an sdist; an sdist uploaded to a yanked release
    # is yanked too, so the example starts from an available release.
    twine_upload(server, make_sdist(dist, "demo", "1.0"))
    subprocess.run(
        [tool("pryv"), "yank", "demo", "1.0", "--undo", "-c", str(server.config)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    assert yanked_files(server) == {wheel.name: False, "demo-1.0.tar.gz": False}

    env = home_with_config(server, tmp_path)
    run_shown(PAGE, "From the command line", server, tmp_path, env)
    assert yanked_files(server) == {wheel.name: "broken build", "demo-1.0.tar.gz": False}


def strip_metadata(root: Path) -> None:
    """Make the stored records look like a pryv's before PEP 658: no metadata_key, no blob."""
    stored = (root / "projects").glob("*/*.json")
    records = sorted(path for path in stored if not path.parent.name.startswith("_"))
    assert records
    for record in records:
        data = json.loads(record.read_text())
        (root / "packages" / data["metadata_key"]).unlink()
        data["metadata_key"] = data["metadata_sha256"] = None
        record.write_text(json.dumps(data))


def test_backfill_metadata_as_shown(tmp_path: Path) -> None:
    root = tmp_path / "server"
    root.mkdir()
    port = free_port()
    config = write_config(root, port)
    add_user(config, DOCS_USER, DOCS_PASSWORD)
    server = start_server(root, config=config, port=port)
    try:
        wheel = make_wheel(tmp_path / "dist", "demo", "1.0")
        twine_upload(server, wheel, user=DOCS_USER, password=DOCS_PASSWORD)
    finally:
        stop_server(server)
    strip_metadata(root)  # as if an older pryv had published it
    server = start_server(root, config=config, port=port)
    try:
        path = "/packages/demo-1.0-py3-none-any.whl.metadata"
        assert docs_get(server, path)[0] == 404
        env = home_with_config(server, tmp_path)
        run_shown(PAGE, BACKFILL, server, tmp_path, env)
        status, metadata = docs_get(server, path)  # the running server picks the record up
        assert status == 200
        assert "Name: demo" in metadata
        again = run_block(docs_block(PAGE, BACKFILL), server, tmp_path, env).stdout
        assert again == "0 file(s) backfilled\n"
    finally:
        stop_server(server)
