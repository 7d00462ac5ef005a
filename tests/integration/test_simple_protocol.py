"""The modern simple API through Flask's test client: PEP 503, 592, 629, 658, 691, 700, 714."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from pryv_server.app import create_app
from pryv_server.config import Settings
from tests.credentials import basic
from tests.dists import make_sdist
from tests.dists import make_wheel
from tests.uploads import post_upload

JSON = "application/vnd.pypi.simple.v1+json"
HTML_V1 = "application/vnd.pypi.simple.v1+html"
HTML = "text/html; charset=utf-8"
PIP_ACCEPT = f"{JSON}, {HTML_V1}; q=0.1, text/html; q=0.01"


@pytest.fixture
def demo(client: FlaskClient, tmp_path: Path) -> dict[str, Path]:
    """Two releases of `demo`: 1.0 (wheel + 2.2 sdist) and 2.0 (wheel)."""
    dist = tmp_path / "dist"
    files = {
        "wheel1": make_wheel(dist, "Demo", "1.0", requires_python=">=3.8,<4"),
        "sdist1": make_sdist(dist, "Demo", "1.0", metadata_version="2.2"),
        "wheel2": make_wheel(dist, "Demo", "2.0", requires_python=">=3.9"),
    }
    for path in files.values():
        response = post_upload(client, path)
        assert response.status_code == 200, response.text
    return files


def get(client: FlaskClient, url: str, accept: str | None = None, **headers: str):
    sent = basic() | headers
    if accept is not None:
        sent["Accept"] = accept
    response = client.get(url, headers=sent)
    response.get_data()
    response.close()  # downloads stream from an open file
    return response


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        pytest.param(None, HTML, id="no-accept-header"),
        pytest.param("*/*", HTML, id="anything"),
        pytest.param("text/html", HTML, id="text-html"),
        pytest.param("text/*", HTML, id="text-wildcard"),
        pytest.param(JSON, JSON, id="json"),
        pytest.param(HTML_V1, HTML_V1, id="v1-html"),
        pytest.param("application/vnd.pypi.simple.latest+json", JSON, id="latest-json"),
        pytest.param("application/vnd.pypi.simple.latest+html", HTML_V1, id="latest-html"),
        pytest.param(PIP_ACCEPT, JSON, id="pip-header"),
        pytest.param(f"{JSON}; q=0.2, text/html; q=0.9", HTML, id="q-prefers-html"),
        pytest.param(f"{JSON}; q=0.9, text/html; q=0.2", JSON, id="q-prefers-json"),
        pytest.param("application/*; q=0.5, text/html; q=0.1", HTML_V1, id="q-app-wildcard"),
        pytest.param("text/html; q=0, */*; q=0.1", HTML_V1, id="q-zero-excludes"),
        pytest.param("application/json", None, id="plain-json-406"),
        pytest.param("image/png, text/plain", None, id="unrelated-406"),
        pytest.param(f"{JSON}; q=0, text/html; q=0", None, id="all-q-zero-406"),
    ],
)
@pytest.mark.parametrize("url", ["/simple/", "/simple/demo/"])
def test_simple_negotiates_content_type(
    client: FlaskClient, demo: dict[str, Path], url: str, accept: str | None, expected: str | None
) -> None:
    response = get(client, url, accept)
    assert "Accept" in response.headers.get("Vary", "")
    if expected is None:
        assert response.status_code == 406
        assert "accept one of" in response.text
        return
    assert response.status_code == 200
    assert response.headers["Content-Type"] == expected
    if expected == JSON:
        assert response.json["meta"]["api-version"] == "1.4"
    else:
        assert '<meta name="pypi:repository-version" content="1.4">' in response.text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("json", JSON),
        ("html", HTML),
        (JSON, JSON),
        (HTML_V1, HTML_V1),
        ("text/html", HTML),
    ],
)
def test_simple_format_query_overrides_accept(
    client: FlaskClient, demo: dict[str, Path], query: str, expected: str
) -> None:
    response = get(client, f"/simple/demo/?format={query}", accept="image/png")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == expected
    assert "Accept" in response.headers["Vary"]


def test_simple_format_query_accepts_escaped_plus(
    client: FlaskClient, demo: dict[str, Path]
) -> None:
    response = get(client, "/simple/?format=application/vnd.pypi.simple.v1%2Bjson")
    assert response.headers["Content-Type"] == JSON


def test_simple_unknown_format_query_is_406(client: FlaskClient, demo: dict[str, Path]) -> None:
    response = get(client, "/simple/demo/?format=yaml")
    assert response.status_code == 406
    assert "unknown format 'yaml'" in response.text


def test_simple_redirect_keeps_format_query(client: FlaskClient, demo: dict[str, Path]) -> None:
    response = get(client, "/simple/DEMO/?format=json")
    assert response.status_code == 301
    assert response.headers["Location"].endswith("/simple/demo/?format=json")


def test_simple_json_index_lists_projects(client: FlaskClient, demo: dict[str, Path]) -> None:
    document = get(client, "/simple/", JSON).json
    serial = get(client, "/simple/demo/", JSON).json["meta"]["_last-serial"]
    assert document == {
        "meta": {"api-version": "1.4", "_last-serial": serial},
        "projects": [{"name": "Demo", "_last-serial": serial}],
    }


def test_simple_json_project_has_every_pep_691_and_700_key(
    client: FlaskClient, demo: dict[str, Path]
) -> None:
    document = get(client, "/simple/demo/", JSON).json
    assert document["meta"] == {
        "api-version": "1.4",
        "_last-serial": document["meta"]["_last-serial"],
    }
    assert isinstance(document["meta"]["_last-serial"], int)
    assert document["name"] == "demo"
    assert document["versions"] == ["1.0", "2.0"]  # PEP 700
    files = {entry["filename"]: entry for entry in document["files"]}
    assert sorted(files) == sorted(path.name for path in demo.values())
    wheel = files[demo["wheel1"].name]
    content = demo["wheel1"].read_bytes()
    metadata = get(client, f"/packages/{demo['wheel1'].name}.metadata").data
    assert set(wheel) == {
        "filename", "url", "hashes", "requires-python", "core-metadata", "dist-info-metadata",
        "yanked", "size", "upload-time", "provenance",
    }  # fmt: skip
    assert wheel["url"] == f"../../packages/{demo['wheel1'].name}"
    assert wheel["hashes"] == {"sha256": hashlib.sha256(content).hexdigest()}
    assert wheel["requires-python"] == ">=3.8,<4"
    assert wheel["core-metadata"] == {"sha256": hashlib.sha256(metadata).hexdigest()}
    assert wheel["dist-info-metadata"] == wheel["core-metadata"]  # PEP 714
    assert wheel["yanked"] is False
    assert wheel["size"] == len(content)
    assert wheel["provenance"] is None  # PEP 740: uploaded without attestations
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", wheel["upload-time"])
    sdist = files[demo["sdist1"].name]
    assert "requires-python" not in sdist
    assert sdist["core-metadata"] != False  # noqa: E712 - a 2.2 sdist's PKG-INFO is served


def test_simple_html_project_links_carry_hashes_metadata_and_escaped_requires_python(
    client: FlaskClient, demo: dict[str, Path]
) -> None:
    page = get(client, "/simple/demo/").text
    wheel = demo["wheel1"]
    sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    metadata = get(client, f"/packages/{wheel.name}.metadata").data
    meta_sha = hashlib.sha256(metadata).hexdigest()
    link = re.search(rf'<a href="../../packages/{re.escape(wheel.name)}#sha256={sha}"[^>]*>', page)
    assert link is not None
    assert 'data-requires-python="&gt;=3.8,&lt;4"' in link.group(0)
    assert f'data-core-metadata="sha256={meta_sha}"' in link.group(0)
    assert f'data-dist-info-metadata="sha256={meta_sha}"' in link.group(0)
    assert "data-yanked" not in page


def test_simple_pages_change_after_an_upload(
    client: FlaskClient, demo: dict[str, Path], tmp_path: Path
) -> None:
    """Pages are kept per snapshot generation: a new file must show on the next request."""
    before_json = get(client, "/simple/demo/", JSON).json
    before_html = get(client, "/simple/demo/").text
    wheel = make_wheel(tmp_path / "more", "Demo", "3.0")
    assert post_upload(client, wheel).status_code == 200
    assert "3.0" not in before_json["versions"]
    assert "3.0" in get(client, "/simple/demo/", JSON).json["versions"]
    assert wheel.name not in before_html
    assert wheel.name in get(client, "/simple/demo/").text


def test_simple_unknown_project_is_404_in_both_forms(client: FlaskClient) -> None:
    assert get(client, "/simple/nothing/", JSON).status_code == 404
    assert get(client, "/simple/nothing/").status_code == 404


# PEP 592 yanking ----------------------------------------------------------------------------


def yank(client: FlaskClient, **fields: object):
    return client.post("/api/yank", json=fields, headers=basic())


def files_of(client: FlaskClient) -> dict[str, dict[str, object]]:
    return {f["filename"]: f for f in get(client, "/simple/demo/", JSON).json["files"]}


def test_yank_release_shows_in_html_json_and_legacy_json(
    client: FlaskClient, demo: dict[str, Path]
) -> None:
    response = yank(client, project="Demo", version="1.0", reason="broken <build>")
    assert response.status_code == 200
    assert response.json["yanked"] is True
    assert response.json["yanked_reason"] == "broken <build>"
    files = files_of(client)
    assert files[demo["wheel1"].name]["yanked"] == "broken <build>"
    assert files[demo["sdist1"].name]["yanked"] == "broken <build>"
    assert files[demo["wheel2"].name]["yanked"] is False
    page = get(client, "/simple/demo/").text
    assert page.count('data-yanked="broken &lt;build&gt;"') == 2
    legacy = get(client, "/pypi/demo/1.0/json").json
    assert legacy["info"]["yanked"] is True
    assert legacy["info"]["yanked_reason"] == "broken <build>"
    assert all(entry["yanked"] for entry in legacy["urls"])


def test_yank_without_reason_is_true_in_json_and_empty_attribute_in_html(
    client: FlaskClient, demo: dict[str, Path]
) -> None:
    assert yank(client, project="demo", version="2.0").status_code == 200
    assert files_of(client)[demo["wheel2"].name]["yanked"] is True
    assert 'data-yanked=""' in get(client, "/simple/demo/").text


def test_yank_one_file_then_undo(client: FlaskClient, demo: dict[str, Path]) -> None:
    name = demo["sdist1"].name
    response = yank(client, project="demo", version="1.0", filename=name, reason="bad sdist")
    assert response.json["yanked"] is False  # the wheel of 1.0 is still available
    files = files_of(client)
    assert files[name]["yanked"] == "bad sdist"
    assert files[demo["wheel1"].name]["yanked"] is False
    assert yank(client, project="demo", version="1.0", filename=name, undo=True).status_code == 200
    assert files_of(client)[name]["yanked"] is False


def test_unyank_one_file_inside_a_yanked_release(
    client: FlaskClient, demo: dict[str, Path]
) -> None:
    yank(client, project="demo", version="1.0", reason="old")
    yank(client, project="demo", version="1.0", filename=demo["wheel1"].name, undo=True)
    files = files_of(client)
    assert files[demo["wheel1"].name]["yanked"] is False
    assert files[demo["sdist1"].name]["yanked"] == "old"
    yank(client, project="demo", version="1.0", undo=True)
    assert not any(entry["yanked"] for entry in files_of(client).values())


def test_yanked_release_covers_files_uploaded_later(
    client: FlaskClient, demo: dict[str, Path], tmp_path: Path
) -> None:
    yank(client, project="demo", version="2.0", reason="withdrawn")
    later = make_sdist(tmp_path / "later", "Demo", "2.0")
    assert post_upload(client, later).status_code == 200
    assert files_of(client)[later.name]["yanked"] == "withdrawn"


def test_yank_form_post_and_errors(client: FlaskClient, demo: dict[str, Path]) -> None:
    response = client.post(
        "/api/yank", data={"project": "demo", "version": "2.0", "undo": "false"}, headers=basic()
    )
    assert response.status_code == 200
    assert response.json["yanked"] is True
    assert yank(client, project="demo").status_code == 400
    assert yank(client, project="nothing", version="1.0").status_code == 404
    assert yank(client, project="demo", version="9.9").status_code == 404
    missing = yank(client, project="demo", version="1.0", filename="other-1.0.tar.gz")
    assert missing.status_code == 404
    assert client.post("/api/yank", json={"project": "demo", "version": "1.0"}).status_code == 401
    bad = client.post("/api/yank", data="[1]", content_type="application/json", headers=basic())
    assert bad.status_code == 400


def test_yank_by_another_process_is_seen(
    settings: Settings, client: FlaskClient, demo: dict[str, Path]
) -> None:
    """A second app on the same storage stands for another worker or machine."""
    assert files_of(client)[demo["wheel2"].name]["yanked"] is False  # this app has a snapshot
    other = create_app(settings)
    other.extensions["pryv"].registry.yank("demo", "2.0", reason="from elsewhere")
    assert files_of(client)[demo["wheel2"].name]["yanked"] == "from elsewhere"
    other.extensions["pryv"].registry.yank("demo", "2.0", undo=True)
    assert files_of(client)[demo["wheel2"].name]["yanked"] is False


def test_yanked_latest_release_is_not_the_legacy_json_current_version(
    client: FlaskClient, demo: dict[str, Path]
) -> None:
    yank(client, project="demo", version="2.0")
    assert get(client, "/pypi/demo/json").json["info"]["version"] == "1.0"


# PEP 658 / 643: which files get core metadata -----------------------------------------------


@pytest.mark.parametrize(
    ("kind", "metadata_version", "served"),
    [
        pytest.param("wheel", "2.1", True, id="wheel-2.1"),
        pytest.param("wheel", "2.4", True, id="wheel-2.4"),
        pytest.param("sdist", "1.2", False, id="sdist-1.2"),
        pytest.param("sdist", "2.1", False, id="sdist-2.1"),
        pytest.param("sdist", "2.2", True, id="sdist-2.2"),
        pytest.param("sdist", "2.4", True, id="sdist-2.4"),
    ],
)
def test_core_metadata_is_served_for_wheels_and_reliable_sdists(
    client: FlaskClient, tmp_path: Path, kind: str, metadata_version: str, served: bool
) -> None:
    make = make_wheel if kind == "wheel" else make_sdist
    path = make(tmp_path, "meta-demo", "1.0", metadata_version=metadata_version)
    assert post_upload(client, path).status_code == 200
    entry = get(client, "/simple/meta-demo/", JSON).json["files"][0]
    page = get(client, "/simple/meta-demo/").text
    response = get(client, f"/packages/{path.name}.metadata")
    if not served:
        assert entry["core-metadata"] is False
        assert "data-core-metadata" not in page
        assert response.status_code == 404
        return
    assert response.status_code == 200
    assert response.data.startswith(f"Metadata-Version: {metadata_version}\n".encode())
    assert entry["core-metadata"] == {"sha256": hashlib.sha256(response.data).hexdigest()}
    assert f'data-core-metadata="sha256={entry["core-metadata"]["sha256"]}"' in page
