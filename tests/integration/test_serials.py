"""PyPI's serials, which mirrors rely on: in the JSON of ``/simple/``, in headers, in the JSON API.

bandersnatch skips a project of ``/simple/`` without ``_last-serial`` as malformed, and refuses a
``/pypi/<project>/json`` whose ``X-PyPI-Last-Serial`` is below the serial ``/simple/`` announced
(``StalePage``). Serials must grow with every change and be the same in every process reading
the same storage, after a restart too.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from pryv_server.app import create_app
from pryv_server.config import Settings
from tests.credentials import basic
from tests.dists import make_sdist
from tests.dists import make_wheel
from tests.uploads import post_upload

JSON = "application/vnd.pypi.simple.v1+json"
SERIAL = "X-PyPI-Last-Serial"


@pytest.fixture
def two_projects(client: FlaskClient, dist: Path) -> None:
    for path in (
        make_wheel(dist, "Alpha", "1.0"),
        make_sdist(dist, "Alpha", "1.0", metadata_version="2.2"),
        make_wheel(dist, "Beta", "1.0"),
    ):
        assert post_upload(client, path).status_code == 200


def fetch(client: FlaskClient, url: str, accept: str | None = None) -> tuple[int, dict, bytes]:
    """GET ``url`` with credentials; return the serial header, the JSON (or {}), the body."""
    headers = basic() | ({"Accept": accept} if accept else {})
    response = client.get(url, headers=headers)
    try:
        assert response.status_code == 200, response.text
        document = response.json if response.is_json or accept == JSON else {}
        return int(response.headers[SERIAL]), document or {}, response.get_data()
    finally:
        response.close()


def serials(client: FlaskClient) -> dict[str, int]:
    """Every project's serial as ``/simple/`` announces it, and the registry's under ``""``."""
    header, document, _ = fetch(client, "/simple/", JSON)
    assert document["meta"]["_last-serial"] == header
    found = {entry["name"].lower(): entry["_last-serial"] for entry in document["projects"]}
    return {"": header, **found}


def test_every_page_of_a_project_sends_the_serial_simple_announces(
    client: FlaskClient, two_projects: None
) -> None:
    announced = serials(client)
    assert announced[""] == max(announced["alpha"], announced["beta"])
    for name in ("alpha", "beta"):
        serial = announced[name]
        header, document, _ = fetch(client, f"/simple/{name}/", JSON)
        assert header == document["meta"]["_last-serial"] == serial
        header, _, html = fetch(client, f"/simple/{name}/")
        assert header == serial
        assert html.endswith(f"<!--SERIAL {serial}-->".encode())  # as PyPI's pages end
        header, document, _ = fetch(client, f"/pypi/{name}/json")
        assert header == document["last_serial"] == serial
        header, document, _ = fetch(client, f"/pypi/{name}/1.0/json")
        assert header == document["last_serial"] == serial
    assert fetch(client, "/simple/")[0] == announced[""]  # the HTML index too


def test_an_upload_raises_its_project_serial_only(
    client: FlaskClient, two_projects: None, dist: Path
) -> None:
    before = serials(client)
    assert post_upload(client, make_wheel(dist, "Alpha", "2.0")).status_code == 200
    after = serials(client)
    assert after["alpha"] > before["alpha"]
    assert after["alpha"] > before[""]  # a mirror synced to the old serial sees the change
    assert after["beta"] == before["beta"]
    assert after[""] == after["alpha"]


@pytest.mark.parametrize("undo", [False, True], ids=["yank", "unyank"])
def test_a_yank_or_unyank_raises_the_serial(
    app: Flask, client: FlaskClient, two_projects: None, undo: bool
) -> None:
    registry = app.extensions["pryv"].registry
    if undo:
        registry.yank("beta", "1.0")
    before = serials(client)
    response = client.post(
        "/api/yank", json={"project": "beta", "version": "1.0", "undo": undo}, headers=basic()
    )
    assert response.status_code == 200, response.text
    after = serials(client)
    assert after["beta"] > before[""]
    assert after["alpha"] == before["alpha"]
    assert fetch(client, "/pypi/beta/json")[0] == after["beta"]


def test_the_page_cache_sends_the_serial_and_a_change_replaces_it(
    client: FlaskClient, two_projects: None, dist: Path
) -> None:
    """Repeat requests are answered before Flask: the header must be there and stay current."""
    first = fetch(client, "/simple/alpha/", JSON)
    repeat = fetch(client, "/simple/alpha/", JSON)
    assert repeat == first
    assert post_upload(client, make_wheel(dist, "Alpha", "3.0")).status_code == 200
    changed = fetch(client, "/simple/alpha/", JSON)
    assert changed[0] > first[0]
    assert fetch(client, "/simple/alpha/", JSON) == changed


def test_serials_are_derived_from_storage_alike_in_every_process(
    client: FlaskClient, two_projects: None, settings: Settings
) -> None:
    """A restart, or a second instance on the same storage, computes the same serials."""
    other = create_app(settings).test_client()
    assert serials(other) == serials(client)
    assert fetch(other, "/pypi/alpha/json")[0] == fetch(client, "/pypi/alpha/json")[0]


def test_an_empty_registry_has_serial_zero(client: FlaskClient) -> None:
    assert serials(client) == {"": 0}


def test_json_api_files_carry_the_core_metadata_digest(
    client: FlaskClient, two_projects: None, dist: Path
) -> None:
    """PyPI's JSON API names each file's .metadata digest; mirrors fetch the file with it."""
    document = fetch(client, "/pypi/alpha/json")[1]
    files = document["releases"]["1.0"]
    assert len(files) == 2
    for entry in files:
        metadata = client.get(f"/packages/{entry['filename']}.metadata", headers=basic())
        digest = hashlib.sha256(metadata.get_data()).hexdigest()
        metadata.close()
        assert entry["core-metadata"] == {"sha256": digest}
    old_sdist = make_sdist(dist, "Gamma", "1.0", metadata_version="2.1")
    assert post_upload(client, old_sdist).status_code == 200
    assert fetch(client, "/pypi/gamma/json")[1]["urls"][0]["core-metadata"] is False
