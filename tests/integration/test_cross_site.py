"""State-changing API requests that a browser marks as sent by another site are refused (403).

The attack itself runs in Chromium in ``tests/e2e/test_browser_cross_site.py``; these tests pin
down which headers count, and that the clients that publish (which send neither) still work.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient

from tests.credentials import basic
from tests.dists import make_wheel
from tests.uploads import post_upload

REFUSED = [
    pytest.param({"Sec-Fetch-Site": "cross-site"}, id="sec-fetch-cross-site"),
    pytest.param({"Sec-Fetch-Site": "same-site"}, id="sec-fetch-same-site"),
    pytest.param({"Origin": "http://evil.example"}, id="origin-other-host"),
    pytest.param({"Origin": "http://localhost:1"}, id="origin-other-port"),
    pytest.param({"Origin": "null"}, id="origin-null"),
    pytest.param({"Origin": "http://[bad"}, id="origin-garbage"),
    pytest.param(
        {"Sec-Fetch-Site": "cross-site", "Origin": "http://localhost"}, id="cross-site-wins"
    ),
]
ALLOWED = [
    pytest.param({}, id="twine-uv-pip-send-neither"),
    pytest.param({"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"}, id="same-origin"),
    pytest.param({"Sec-Fetch-Site": "none"}, id="typed-by-the-user"),
]


@pytest.mark.parametrize("headers", REFUSED)
def test_cross_site_upload_is_refused_before_credentials(
    client: FlaskClient, tmp_path: Path, headers: dict[str, str]
) -> None:
    wheel = make_wheel(tmp_path, "planted", "1.0")
    response = post_upload(client, wheel, url="/", headers={**basic(), **headers})
    assert response.status_code == 403
    assert "another site" in response.text
    assert client.get("/simple/planted/", headers=basic()).status_code == 404


@pytest.mark.parametrize("headers", REFUSED)
def test_cross_site_yank_is_refused(
    client: FlaskClient, tmp_path: Path, headers: dict[str, str]
) -> None:
    assert post_upload(client, make_wheel(tmp_path, "victim", "1.0")).status_code == 200
    response = client.post(
        "/api/yank",
        data={"project": "victim", "version": "1.0"},
        headers={**basic(), **headers},
    )
    assert response.status_code == 403
    assert "data-yanked" not in client.get("/simple/victim/", headers=basic()).text


@pytest.mark.parametrize("headers", ALLOWED)
def test_same_site_and_non_browser_posts_still_work(
    client: FlaskClient, tmp_path: Path, headers: dict[str, str]
) -> None:
    wheel = make_wheel(tmp_path, "demo", "1.0")
    assert post_upload(client, wheel, headers={**basic(), **headers}).status_code == 200
    response = client.post(
        "/api/yank", json={"project": "demo", "version": "1.0"}, headers={**basic(), **headers}
    )
    assert response.status_code == 200


def test_cross_site_reads_are_not_refused(client: FlaskClient) -> None:
    """Reading is not a change; pip behind a proxy may send anything."""
    headers = {**basic(), "Sec-Fetch-Site": "cross-site", "Origin": "http://evil.example"}
    assert client.get("/simple/", headers=headers).status_code == 200
