"""PEP 792 project status: set over the API, the CLI and the explorer; served; enforced."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from pryv_server.cli import main
from tests.credentials import basic
from tests.dists import make_sdist
from tests.integration.explorer_helpers import csrf_token
from tests.integration.explorer_helpers import login
from tests.uploads import post_upload

JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}


def set_status(client: FlaskClient, status: str, reason: str = "", project: str = "demo"):
    return client.post(
        "/api/status",
        headers=basic(),
        json={"project": project, "status": status, "reason": reason},
    )


def download_status(client: FlaskClient, filename: str) -> int:
    with client.get(f"/packages/{filename}", headers=basic()) as response:
        return response.status_code


def simple_json(client: FlaskClient) -> dict:
    return client.get("/simple/demo/", headers={**basic(), **JSON}).json


def test_status_is_top_level_in_json_and_a_meta_in_html(
    client: FlaskClient, published: Path
) -> None:
    before = simple_json(client)
    assert before["meta"]["api-version"] == "1.4"
    assert before["project-status"] == {"status": "active"}
    response = set_status(client, "deprecated", "use demo2")
    assert response.status_code == 200, response.text
    assert response.json == {"project": "demo", "status": "deprecated", "reason": "use demo2"}
    # The cached page was rendered before the change: it must not be served again.
    after = simple_json(client)
    assert after["project-status"] == {"status": "deprecated", "reason": "use demo2"}
    assert "project-status" not in after["meta"]  # PEP 792: top-level, not under meta
    assert after["meta"]["_last-serial"] > before["meta"]["_last-serial"]
    assert [file["filename"] for file in after["files"]] == [published.name]
    html = client.get("/simple/demo/", headers=basic()).text
    assert '<meta name="pypi:repository-version" content="1.4">' in html
    assert '<meta name="pypi:project-status" content="deprecated">' in html
    assert '<meta name="pypi:project-status-reason" content="use demo2">' in html


def test_html_status_reason_is_escaped(client: FlaskClient, published: Path) -> None:
    assert set_status(client, "archived", '"><script>x</script>').status_code == 200
    html = client.get("/simple/demo/", headers=basic()).text
    assert "<script>" not in html
    assert 'content="&#34;&gt;&lt;script&gt;x&lt;/script&gt;"' in html


@pytest.mark.parametrize("status", ["archived", "quarantined"])
def test_closed_project_refuses_uploads_with_one_line(
    client: FlaskClient, published: Path, tmp_path: Path, status: str
) -> None:
    assert set_status(client, status, "moved to demo2").status_code == 200
    sdist = make_sdist(tmp_path / "more", "demo", "1.1")
    response = post_upload(client, sdist)
    assert response.status_code == 400
    assert response.text.count("\n") == 1
    assert f"is {status} (moved to demo2) and accepts no new files" in response.text
    assert set_status(client, "active").status_code == 200
    assert post_upload(client, sdist).status_code == 200


def test_deprecated_project_still_takes_uploads(
    client: FlaskClient, published: Path, tmp_path: Path
) -> None:
    assert set_status(client, "deprecated").status_code == 200
    assert post_upload(client, make_sdist(tmp_path / "more", "demo", "1.1")).status_code == 200


def test_quarantined_project_offers_no_file(client: FlaskClient, published: Path) -> None:
    assert download_status(client, published.name) == 200
    assert set_status(client, "quarantined", "malware").status_code == 200
    document = simple_json(client)
    assert document["files"] == []
    assert document["versions"] == []
    assert document["project-status"] == {"status": "quarantined", "reason": "malware"}
    assert published.name not in client.get("/simple/demo/", headers=basic()).text
    for path in (f"/packages/{published.name}", f"/packages/{published.name}.metadata"):
        response = client.get(path, headers=basic())
        assert response.status_code == 404
        assert "quarantined" in response.text
    legacy = client.get("/pypi/demo/json", headers=basic()).json
    assert legacy["urls"] == []
    assert legacy["releases"] == {"1.0": []}
    assert set_status(client, "active").status_code == 200
    assert [file["filename"] for file in simple_json(client)["files"]] == [published.name]
    assert download_status(client, published.name) == 200


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"project": "demo", "status": "sleeping"}, 400, "unknown status 'sleeping'"),
        ({"project": "demo"}, 400, "send 'project' and 'status'"),
        ({"project": "nope", "status": "archived"}, 404, "no project named 'nope'"),
        ({"project": "demo", "status": "archived", "reason": "a\nb"}, 400, "status reason"),
    ],
)
def test_bad_status_requests_get_one_line(
    client: FlaskClient, published: Path, fields: dict, status: int, message: str
) -> None:
    response = client.post("/api/status", headers=basic(), json=fields)
    assert response.status_code == status
    assert message in response.text


def test_status_needs_credentials(client: FlaskClient, published: Path) -> None:
    response = client.post("/api/status", json={"project": "demo", "status": "archived"})
    assert response.status_code == 401
    assert simple_json(client)["project-status"] == {"status": "active"}


def test_another_instance_sees_the_status(app: Flask, client: FlaskClient, published: Path) -> None:
    from pryv_server.app import create_app

    other = create_app(app.extensions["pryv"].settings).test_client()
    assert download_status(other, published.name) == 200
    assert set_status(client, "quarantined").status_code == 200
    # Local storage: the other instance stats the generation marker on every request.
    assert download_status(other, published.name) == 404
    response = post_upload(other, make_sdist(published.parent / "x", "demo", "2.0"))
    assert response.status_code == 400


def test_cli_sets_the_status(client: FlaskClient, published: Path, cli_config: Path) -> None:
    config = cli_config
    result = CliRunner().invoke(
        main, ["status", "-c", str(config), "demo", "archived", "--reason", "done"]
    )
    assert result.exit_code == 0, result.output
    assert result.output == "demo: archived (done)\n"
    assert simple_json(client)["project-status"] == {"status": "archived", "reason": "done"}
    bad = CliRunner().invoke(main, ["status", "-c", str(config), "demo", "sleeping"])
    assert bad.exit_code != 0
    assert "sleeping" in bad.output


def test_explorer_sets_the_status_and_shows_it(client: FlaskClient, published: Path) -> None:
    login(client)
    token = csrf_token(client, "/project/demo/manage")
    response = client.post(
        "/project/demo/manage",
        data={"csrf_token": token, "action": "status", "status": "archived", "reason": "old"},
    )
    assert response.status_code == 302
    assert simple_json(client)["project-status"] == {"status": "archived", "reason": "old"}
    page = client.get("/project/demo/").text
    assert "This project is archived" in page
    assert "old" in page
    refused = client.post(
        "/project/demo/manage",
        data={"csrf_token": token, "action": "status", "status": "gone"},
    )
    assert refused.status_code == 400
    assert "unknown status" in refused.text
    forged = client.post("/project/demo/manage", data={"action": "status", "status": "active"})
    assert forged.status_code == 400
    assert simple_json(client)["project-status"]["status"] == "archived"
