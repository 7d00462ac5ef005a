"""S3 for tests: moto's server mode on a free loopback port, spoken to over real HTTP.

Nothing of pryv or boto3 is patched: boto3 finds the server through ``AWS_ENDPOINT_URL`` (the
standard variable pryv documents for MinIO and friends) and signs with fake credentials. Never
real AWS. The server applies its writes one at a time, each atomic as on S3
(:mod:`bench.moto_s3`).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bench.moto_s3 import moto_s3
from pryv_server.config import Settings
from pryv_server.config import parse_location
from tests.credentials import PASSWORD
from tests.credentials import USER

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
# Variables of the machine that would point boto3 elsewhere.
FOREIGN = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL_S3",
           "AWS_REGION", "AWS_DEFAULT_PROFILE")  # fmt: skip


@dataclass
class S3:
    """A bucket of its own on the shared moto server."""

    endpoint: str
    bucket: str
    env: dict[str, str]  # what a subprocess needs to reach it
    admin: Any  # a boto3 client for the test's own checks

    def client(self) -> Any:
        return self.admin

    def url(self, key: str = "") -> str:
        return f"s3://{self.bucket}/{key}"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    with moto_s3() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def moto_admin(moto_endpoint: str) -> Any:
    import boto3

    return boto3.session.Session().client(
        "s3",
        endpoint_url=moto_endpoint,
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=FAKE_CREDENTIALS["AWS_DEFAULT_REGION"],
    )


@pytest.fixture
def s3(moto_endpoint: str, moto_admin: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> S3:
    """A new bucket, and this process's environment pointing boto3 at moto."""
    env = {
        **FAKE_CREDENTIALS,
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    for name in FOREIGN:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    found = S3(moto_endpoint, f"pryv-{uuid.uuid4().hex[:12]}", env, moto_admin)
    found.client().create_bucket(Bucket=found.bucket)
    return found


def users_json(users: dict[str, str]) -> bytes:
    """A users.json with the docs' SHA-256 entries."""
    return json.dumps(
        {name: {"password": hashlib.sha256(pw.encode()).hexdigest()} for name, pw in users.items()}
    ).encode()


def s3_settings(s3: S3, **changes: object) -> Settings:
    """Settings with every path on ``s3`` and its users file holding the test user."""
    s3.client().put_object(
        Bucket=s3.bucket, Key="auth/users.json", Body=users_json({USER: PASSWORD})
    )
    settings = Settings(
        projects_path=parse_location(s3.url("registry/projects")),
        packages_path=parse_location(s3.url("registry/packages")),
        users_path=parse_location(s3.url("auth/users.json")),
        secret_key="test-secret",
        index_ttl=0.0,
    )
    return settings.replace(**changes)
