"""The upstream HTTP client: PEP 691 only, one-line errors, credentials for the index's host."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pryv_server.errors import UpstreamError
from pryv_server.upstream import HttpIndex
from tests.credentials import basic_header
from tests.dists import make_wheel
from tests.upstream_index import StaticIndex


def test_credentials_from_the_environment_go_to_the_index_host_only(
    upstream_index: StaticIndex, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path / "d", "private-up", "1.0")
    upstream_index.add(wheel)
    page = upstream_index.root / "simple" / "private-up" / "index.json"
    document = json.loads(page.read_text())
    other_host = upstream_index.url.replace("127.0.0.1", "localhost").removesuffix("simple/")
    document["files"][0]["url"] = f"{other_host}files/{wheel.name}"
    page.write_text(json.dumps(document))
    client = HttpIndex.from_environment(
        upstream_index.url,
        timeout=5,
        environ={"PRYV_UPSTREAM_USERNAME": "mirror", "PRYV_UPSTREAM_PASSWORD": "s3cret"},
    )

    fetched = client.project_page("private-up")
    assert fetched is not None
    download = client.open(fetched.document["files"][0]["url"])
    assert b"".join(download.chunks()) == wheel.read_bytes()
    download.close()

    expected = basic_header("mirror", "s3cret")
    assert upstream_index.authorizations["/simple/private-up/"] == expected
    assert upstream_index.authorizations[f"/files/{wheel.name}"] is None


def test_relative_file_urls_are_made_absolute_against_the_page(
    upstream_index: StaticIndex, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path / "d", "rel", "1.0")
    upstream_index.add(wheel)
    fetched = HttpIndex(upstream_index.url, timeout=5).project_page("rel")
    assert fetched is not None
    assert fetched.document["files"][0]["url"] == upstream_index.url.replace(
        "simple/", f"files/{wheel.name}"
    )


def test_a_page_that_is_not_json_is_refused_with_a_reason(upstream_index: StaticIndex) -> None:
    (upstream_index.root / "simple" / "html-only").mkdir()
    (upstream_index.root / "simple" / "html-only" / "index.json").write_text("<html></html>")
    index_client = HttpIndex(upstream_index.url, timeout=5)
    with pytest.raises(UpstreamError, match="does not parse"):
        index_client.project_page("html-only")


def test_a_missing_name_is_none_and_an_unreachable_index_an_error(
    upstream_index: StaticIndex,
) -> None:
    assert HttpIndex(upstream_index.url, timeout=5).project_page("missing") is None
    with pytest.raises(UpstreamError, match="did not answer"):
        HttpIndex("http://127.0.0.1:9/simple/", timeout=1).project_page("anything")
