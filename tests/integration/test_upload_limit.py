"""[server] max-upload-size: an upload over it gets a clear 413 and nothing is stored."""

from __future__ import annotations

import os
from pathlib import Path

from pryv_server.app import create_app
from pryv_server.config import Settings
from tests.credentials import basic
from tests.dists import make_wheel
from tests.uploads import post_upload


def test_upload_over_max_upload_size_is_413_and_not_stored(
    settings: Settings, tmp_path: Path
) -> None:
    client = create_app(settings.replace(max_upload_size=4096)).test_client()
    big = make_wheel(tmp_path / "big", "bulky", "1.0", payload=f"X = {os.urandom(8192).hex()!r}\n")
    small = make_wheel(tmp_path / "small", "bulky", "1.1")
    assert big.stat().st_size > 4096 > small.stat().st_size
    with post_upload(client, big) as response:
        assert response.status_code == 413
        reason = response.get_data(as_text=True)
    assert "max-upload-size (4K)" in reason  # names the limit as the ini file writes it
    assert "\n" not in reason.strip()
    with post_upload(client, small) as response:
        assert response.status_code == 200
    with client.get("/simple/bulky/", headers=basic()) as response:
        listing = response.get_data(as_text=True)
    assert small.name in listing
    assert big.name not in listing
    assert not list(Path(settings.packages_path.path).rglob(big.name))


def test_request_far_over_the_limit_is_refused_before_it_is_read(
    settings: Settings, tmp_path: Path
) -> None:
    """Werkzeug's MAX_CONTENT_LENGTH answers in the same one-line style."""
    app = create_app(settings.replace(max_upload_size=1024))
    app.config["MAX_CONTENT_LENGTH"] = 2048
    big = make_wheel(tmp_path, "huge", "1.0", payload=f"X = {os.urandom(4096).hex()!r}\n")
    with post_upload(app.test_client(), big) as response:
        assert response.status_code == 413
        assert "max-upload-size" in response.get_data(as_text=True)
