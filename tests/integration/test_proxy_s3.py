"""The caching proxy with its store on S3 (moto over HTTP): instances on one bucket share it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from flask import Flask

from pryv_server.config import Settings
from pryv_server.config import parse_location
from pryv_server.core import layout
from tests.concurrency import all_at_once
from tests.configs import build_app
from tests.credentials import PASSWORD
from tests.credentials import USER
from tests.credentials import basic
from tests.dists import make_wheel
from tests.s3server import S3
from tests.upstream_index import JSON_V1
from tests.upstream_index import StaticIndex


def instance(s3: S3, upstream_index: StaticIndex, download: str = "stream") -> Flask:
    users = {USER: {"password": hashlib.sha256(PASSWORD.encode()).hexdigest()}}
    s3.client().put_object(Bucket=s3.bucket, Key="users.json", Body=json.dumps(users).encode())
    app = build_app(
        Settings(
            projects_path=parse_location(s3.url("projects")),
            packages_path=parse_location(s3.url("packages")),
            users_path=parse_location(s3.url("users.json")),
            secret_key="test-secret",
            upstream=True,
            upstream_url=upstream_index.url,
            aws_download=download,
        )
    )
    return app


def download(app: Flask, url: str) -> tuple[int, bytes]:
    response = app.test_client().get(url, headers=basic())
    try:
        return response.status_code, response.get_data()
    finally:
        response.close()


def test_instances_on_one_bucket_share_pages_and_fetch_a_file_once(
    s3: S3, upstream_index: StaticIndex, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path / "d", "shared-lib", "1.0", payload="x = 1\n" * 20000)
    upstream_index.add(wheel)
    upstream_index.file_delay = 0.5
    first, second = instance(s3, upstream_index), instance(s3, upstream_index)
    headers = {**basic(), "Accept": JSON_V1}
    assert first.test_client().get("/simple/shared-lib/", headers=headers).status_code == 200
    assert second.test_client().get("/simple/shared-lib/", headers=headers).status_code == 200
    assert upstream_index.hits["/simple/shared-lib/"] == 1  # the second read the first's page on S3
    url = f"/upstream/shared-lib/{wheel.name}"

    results = all_at_once(10, lambda n: download((first, second)[n % 2], url))

    assert results == [(200, wheel.read_bytes())] * 10
    assert upstream_index.hits[f"/files/{wheel.name}"] == 1
    upstream_index.status = 500
    assert download(instance(s3, upstream_index), url) == (200, wheel.read_bytes())


def test_a_mismatching_file_is_never_kept_on_s3(
    s3: S3, upstream_index: StaticIndex, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path / "d", "tampered", "1.0")
    upstream_index.add(wheel, sha256="1" * 64)
    app = instance(s3, upstream_index)

    with pytest.raises(Exception, match="does not match"):
        download(app, f"/upstream/tampered/{wheel.name}")

    keys = [
        item["Key"] for item in s3.client().list_objects_v2(Bucket=s3.bucket).get("Contents", [])
    ]
    assert not [key for key in keys if key.endswith(wheel.name)]
    assert "packages/" + layout.upstream_lease_key("1" * 64) not in keys


def test_a_stored_upstream_file_redirects_to_s3_in_redirect_mode(
    s3: S3, upstream_index: StaticIndex, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path / "d", "redirected", "1.0")
    upstream_index.add(wheel)
    app = instance(s3, upstream_index, download="redirect")
    url = f"/upstream/redirected/{wheel.name}"

    assert download(app, url) == (200, wheel.read_bytes())  # the first one streams through
    second = app.test_client().get(url, headers=basic())

    assert second.status_code == 302
    assert second.headers["Location"].startswith(s3.endpoint)
    assert "no-store" in second.headers["Cache-Control"]
