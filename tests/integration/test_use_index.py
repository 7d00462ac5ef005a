"""The "Use this index" page and the project page's two install commands."""

from __future__ import annotations

import html
import re
from pathlib import Path

from flask.testing import FlaskClient

from tests.credentials import USER
from tests.dists import make_wheel
from tests.integration.explorer_helpers import login
from tests.uploads import post_upload


def _snippet(page: str, snippet_id: str) -> str:
    match = re.search(rf'<code id="{snippet_id}-text"[^>]*>(.*?)</code>', page, re.S)
    assert match, f"no snippet {snippet_id}"
    return html.unescape(match.group(1))


def test_the_page_is_linked_from_the_nav_and_written_for_this_server(
    client: FlaskClient, tmp_path: Path
) -> None:
    login(client)
    assert post_upload(client, make_wheel(tmp_path, "acme-cli", "1.0")).status_code == 200
    projects = client.get("/projects").text
    assert 'href="/use"' in projects
    page = client.get("/use").text
    index = "http://localhost/simple/"
    assert _snippet(page, "pip-conf") == f"[global]\nindex-url = {index}"
    assert _snippet(page, "pip-install") == f"pip install --index-url {index} acme-cli"
    assert _snippet(page, "pip-install-ci") == (
        'pip install --index-url "http://${PRYV_USERNAME}:${PRYV_PASSWORD}@localhost/simple/" '
        "acme-cli"
    )
    assert _snippet(page, "netrc").startswith(f"machine localhost\nlogin {USER}\n")
    assert f'url = "{index}"' in _snippet(page, "uv-toml")
    assert "[[tool.uv.index]]" in _snippet(page, "uv-project")
    assert 'acme-cli = { index = "pryv" }' in _snippet(page, "uv-project")
    assert f"poetry source add --priority=explicit pryv {index}" in _snippet(page, "poetry")
    assert f"poetry config http-basic.pryv {USER}" in _snippet(page, "poetry")
    assert "[[tool.pdm.source]]" in _snippet(page, "pdm-source")
    assert f"repository = {index}\nusername = {USER}" in _snippet(page, "pypirc")
    assert f"keyring set {index} {USER}" in _snippet(page, "keyring")
    assert "secrets.PRYV_PASSWORD" in _snippet(page, "github-actions")
    assert f"TWINE_REPOSITORY_URL={index}" in _snippet(page, "gitlab-ci")
    for secret in ("password =", "PASSWORD}}", "s3cret"):
        assert secret not in page  # the user's password is never on the page


def test_the_project_page_shows_the_interactive_and_the_ci_command(
    client: FlaskClient, tmp_path: Path
) -> None:
    login(client)
    post_upload(client, make_wheel(tmp_path, "acme-cli", "1.0"))
    page = html.unescape(client.get("/project/acme-cli/1.0/").text)
    assert "pip install --index-url http://localhost/simple/ acme-cli==1.0" in page
    assert (
        'pip install --index-url "http://${PRYV_USERNAME}:${PRYV_PASSWORD}@localhost/simple/" '
        "acme-cli==1.0"
    ) in page


def test_the_page_needs_a_login(client: FlaskClient) -> None:
    response = client.get("/use")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
