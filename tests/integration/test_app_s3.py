"""The app with every path on S3 (moto over HTTP), through Flask's test client."""

from __future__ import annotations

import hashlib
import json
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from pryv_server.app import create_app
from pryv_server.backends import read_remote_config
from pryv_server.cli import main
from pryv_server.config import Settings
from pryv_server.config import load_settings
from pryv_server.config import parse_location
from pryv_server.errors import ConfigError
from tests.bigwheel import make_big_wheel
from tests.bigwheel import sha256_of
from tests.concurrency import all_at_once
from tests.configs import build_app
from tests.credentials import basic
from tests.dists import make_wheel
from tests.s3server import S3
from tests.s3server import s3_settings
from tests.s3server import users_json
from tests.uploads import post_upload


def client_for(settings: Settings) -> FlaskClient:
    app = build_app(settings)
    return app.test_client()


def test_s3_app_upload_list_download(s3: S3, tmp_path: Path) -> None:
    client = client_for(s3_settings(s3))
    wheel = make_wheel(tmp_path, "Cloud_Pkg", "1.0")
    assert post_upload(client, wheel).status_code == 200
    page = client.get("/simple/cloud-pkg/", headers=basic()).text
    assert wheel.name in page
    response = client.get(f"/packages/{wheel.name}", headers=basic())
    assert (response.status_code, response.data) == (200, wheel.read_bytes())
    metadata = client.get(f"/packages/{wheel.name}.metadata", headers=basic())
    assert b"Name: Cloud_Pkg" in metadata.data
    keys = {item["Key"] for item in s3.client().list_objects_v2(Bucket=s3.bucket)["Contents"]}
    assert any(k.startswith("registry/projects/cloud-pkg/") and k.endswith(".json") for k in keys)
    assert any(k.startswith("registry/packages/") and k.endswith(wheel.name) for k in keys)


def test_s3_app_redirect_mode_sends_a_presigned_url(s3: S3, tmp_path: Path) -> None:
    client = client_for(s3_settings(s3, aws_download="redirect", aws_presign_expiry=120))
    wheel = make_wheel(tmp_path, "redirected", "1.0")
    assert post_upload(client, wheel).status_code == 200
    response = client.get(f"/packages/{wheel.name}", headers=basic())
    assert response.status_code == 302
    assert "no-store" in response.headers["Cache-Control"]
    location = response.headers["Location"]
    assert location.startswith(s3.endpoint)
    assert "X-Amz-Expires=120" in location
    with urllib.request.urlopen(location, timeout=10) as direct:
        assert direct.read() == wheel.read_bytes()
    # Core metadata is small: always served by pryv itself.
    assert client.get(f"/packages/{wheel.name}.metadata", headers=basic()).status_code == 200
    assert client.get(f"/packages/{wheel.name}").status_code == 401  # credentials still needed


def test_s3_second_instance_sees_an_upload_within_index_ttl(s3: S3, tmp_path: Path) -> None:
    settings = s3_settings(s3, index_ttl=0.2)
    first, second = client_for(settings), client_for(settings)
    assert second.get("/simple/", headers=basic()).status_code == 200  # warm, empty
    wheel = make_wheel(tmp_path, "shared", "1.0")
    assert post_upload(first, wheel).status_code == 200
    deadline = time.monotonic() + 10
    while second.get("/simple/shared/", headers=basic()).status_code != 200:
        assert time.monotonic() < deadline, "the second instance never saw the upload"
        time.sleep(0.05)
    assert wheel.name in second.get("/simple/shared/", headers=basic()).text


def test_s3_index_asks_s3_nothing_between_checks(s3: S3, tmp_path: Path) -> None:
    client = client_for(s3_settings(s3, index_ttl=600.0))
    assert post_upload(client, make_wheel(tmp_path, "quiet", "1.0")).status_code == 200
    client.get("/simple/quiet/", headers=basic())  # the first check and relist happen here
    registry = client.application.extensions["pryv"].registry
    calls: list[str] = []
    registry.records.clients().meta.events.register(
        "before-call.s3.*", lambda model, **_: calls.append(model.name)
    )
    for _ in range(20):
        assert client.get("/simple/quiet/", headers=basic()).status_code == 200
        assert client.get("/simple/", headers=basic()).status_code == 200
    assert calls == []


def test_s3_users_file_edits_apply_without_restart(s3: S3) -> None:
    client = client_for(s3_settings(s3))
    assert client.get("/simple/", headers=basic()).status_code == 200
    s3.client().put_object(
        Bucket=s3.bucket, Key="auth/users.json", Body=users_json({"bob": "builder"})
    )
    assert client.get("/simple/", headers=basic("bob", "builder")).status_code == 200
    assert client.get("/simple/", headers=basic()).status_code == 401


def test_s3_htpasswd_file_is_used(s3: S3) -> None:
    from passlib.apache import HtpasswdFile

    htpasswd = HtpasswdFile(default_scheme="apr_md5_crypt")
    htpasswd.set_password("dora", "explorer")
    s3.client().put_object(Bucket=s3.bucket, Key="auth/.htpasswd", Body=htpasswd.to_string())
    client = client_for(s3_settings(s3, htpasswd_path=parse_location(s3.url("auth/.htpasswd"))))
    assert client.get("/simple/", headers=basic("dora", "explorer")).status_code == 200
    assert client.get("/simple/", headers=basic("dora", "wrong")).status_code == 401


def test_s3_config_file_is_read_from_s3(s3: S3, monkeypatch: pytest.MonkeyPatch) -> None:
    s3.client().put_object(
        Bucket=s3.bucket,
        Key="conf/pryv.ini",
        Body=f"[core]\nprojects-path = {s3.url('p')}\n[aws]\ndownload = redirect\n".encode(),
    )
    settings = load_settings(s3.url("conf/pryv.ini"), read_remote=read_remote_config)
    assert settings.projects_path == parse_location(s3.url("p"))
    assert settings.aws_download == "redirect"
    assert settings.config_path == s3.url("conf/pryv.ini")
    monkeypatch.setenv("PRYV_CONFIG_PATH", s3.url("conf/pryv.ini"))
    assert load_settings(read_remote=read_remote_config).aws_download == "redirect"
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(s3.url("conf/missing.ini"), read_remote=read_remote_config)
    with pytest.raises(ConfigError, match="cannot read a configuration file from S3"):
        load_settings(s3.url("conf/pryv.ini"))


def test_s3_user_add_writes_the_users_file_on_s3(s3: S3) -> None:
    s3.client().put_object(
        Bucket=s3.bucket,
        Key="pryv.ini",
        Body=f"[user]\nusers-path = {s3.url('auth/users.json')}\n".encode(),
    )
    result = CliRunner().invoke(
        main,
        ["user", "add", "erin", "--password-stdin", "-c", s3.url("pryv.ini")],
        input="pw-erin-42\n",
    )
    assert result.exit_code == 0, result.output
    assert f"added user 'erin' to {s3.url('auth/users.json')}" in result.output
    stored = json.loads(
        s3.client().get_object(Bucket=s3.bucket, Key="auth/users.json")["Body"].read()
    )
    assert stored["erin"]["password"].startswith("$2b$")


def test_s3_missing_bucket_fails_at_start_naming_it(s3: S3) -> None:
    settings = s3_settings(s3, packages_path=parse_location("s3://no-such-pryv-bucket/packages"))
    with pytest.raises(ConfigError, match=r"s3://no-such-pryv-bucket.*does not exist"):
        create_app(settings)


def test_s3_endpoint_option_overrides_the_environment(
    s3: S3, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = s3_settings(s3, aws_endpoint_url=s3.endpoint, aws_region="eu-west-3")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    client = client_for(settings)
    assert post_upload(client, make_wheel(tmp_path, "endpoint", "1.0")).status_code == 200


def test_s3_without_boto3_says_how_to_install_it(s3: S3, monkeypatch: pytest.MonkeyPatch) -> None:
    boto3_users = [
        "pryv_server.backends.s3",
        "pryv_server.storage.s3",
        "pryv_server.storage.s3_client",
    ]
    for module in ["boto3", *boto3_users]:
        monkeypatch.delitem(sys.modules, module, raising=False)
    monkeypatch.setitem(sys.modules, "boto3", None)  # import boto3 now fails
    with pytest.raises(ConfigError, match=r'pip install "pryv\[aws\]"'):
        create_app(s3_settings(s3))
    with pytest.raises(ConfigError, match=r'pip install "pryv\[aws\]"'):
        load_settings(s3.url("pryv.ini"), read_remote=read_remote_config)


def test_s3_upload_larger_than_a_part_round_trips(s3: S3, tmp_path: Path) -> None:
    """Werkzeug spools the upload to disk; pryv sends it on as a multipart upload, intact."""
    wheel = make_big_wheel(tmp_path, "hefty", "1.0", size=9 * 1024 * 1024)
    client = client_for(s3_settings(s3))
    posted = post_upload(client, wheel)
    # Werkzeug's test client spools a big body to a temp file that it never closes.
    posted.request.environ["wsgi.input"].close()
    assert posted.status_code == 200
    response = client.get(f"/packages/{wheel.name}", headers=basic())
    assert hashlib.sha256(response.data).hexdigest() == sha256_of(wheel)


def test_s3_racing_uploads_of_one_filename_on_two_instances_one_wins(
    s3: S3, tmp_path: Path
) -> None:
    settings = s3_settings(s3)
    instances = [client_for(settings), client_for(settings)]
    contenders = [
        make_wheel(tmp_path / f"c{n}", "racer", "1.0", payload=f"CONTENDER = {n}\n")
        for n in range(8)
    ]
    statuses = all_at_once(
        len(contenders), lambda n: post_upload(instances[n % 2], contenders[n]).status_code
    )
    assert sorted(statuses) == [200] + [409] * 7
    winner = contenders[statuses.index(200)]
    for client in instances:
        response = client.get(f"/packages/{winner.name}", headers=basic())
        assert response.data == winner.read_bytes()
